#!/bin/sh
# Book an appointment at a shop with redis-cli, then move it (appointments queue).
#
# Usage:   examples/shell/enqueue-appointments.sh SHOP_ID
# Needs:   redis-cli (Debian package redis-tools), GNU date
# Env:     RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
# Prints:  one line per job: <type> <job id> <stream entry id>
set -eu

shop=${1:?usage: enqueue-appointments.sh SHOP_ID}
url=${RELAIS_REDIS_URL:-redis://127.0.0.1:16379/0}
stream=${RELAIS_PREFIX:-relais}:appointments

# The shop id is pasted into the JSON and into the job ids, so keep it to the job id alphabet.
case $shop in
  ''|*[!A-Za-z0-9._:-]*) echo "shop id must use only A-Z a-z 0-9 . _ : -" >&2; exit 2 ;;
esac
appointment="$shop-RDV-2001"

booked_at=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)   # booked a minute ago...
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)                        # ...and moved now
first=$(date -u -d '+2 days' +%Y-%m-%d)   # the day after tomorrow, 09:00-09:45 UTC
moved=$(date -u -d '+3 days' +%Y-%m-%d)   # moved to the day after, 14:00-14:45 UTC

# One id per fact: the booking, and each move numbered by the booking system. A move
# applies only if its `at` is later than the booking's (or the last move's).
booked=$(printf '{"id":"appointment-booked:%s","type":"appointment.booked","v":1,"enqueued_at":"%s","data":{"appointment_id":"%s","at":"%s","shop":{"id":"%s","name":"Salon Léa Coiffure","email":"rdv@salon-lea.example","timezone":"Europe/Paris","address":"8 rue des Tanneurs, 69001 Lyon"},"service":{"name":"Coupe et brushing","duration_minutes":45},"start":"%sT09:00:00Z","end":"%sT09:45:00Z","customer":{"name":"Camille Durand","email":"camille.durand@example.org","phone":"+33612345678","locale":"fr"}}}' \
  "$appointment" "$now" "$appointment" "$booked_at" "$shop" "$first" "$first")
move=$(printf '{"id":"appointment-rescheduled:%s:1","type":"appointment.rescheduled","v":1,"enqueued_at":"%s","data":{"appointment_id":"%s","at":"%s","start":"%sT14:00:00Z","end":"%sT14:45:00Z"}}' \
  "$appointment" "$now" "$appointment" "$now" "$moved" "$moved")

# A move processed before its booking would wait for it (retried); sent together in one
# MULTI/EXEC, Relais reads them in one batch and applies them in stream order.
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/["\\]/\\&/g')"; }  # for redis-cli's parser
replies=$(printf 'MULTI\nXADD %s * job %s\nXADD %s * job %s\nEXEC\n' \
  "$stream" "$(quote "$booked")" "$stream" "$(quote "$move")" | redis-cli -u "$url")
entries=$(printf '%s\n' "$replies" | grep -E '^[0-9]+-[0-9]+$' || true)
if [ "$(printf '%s\n' "$entries" | grep -c .)" != 2 ]; then
  echo "MULTI/XADD/EXEC failed: $replies" >&2   # redis-cli exits 0 on a Redis error
  exit 1
fi
set -- $entries
echo "appointment.booked appointment-booked:$appointment $1"
echo "appointment.rescheduled appointment-rescheduled:$appointment:1 $2"
