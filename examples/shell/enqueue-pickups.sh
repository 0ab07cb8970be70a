#!/bin/sh
# Book a pickup slot for an order with redis-cli, then move it (a second booking).
#
# Usage:   examples/shell/enqueue-pickups.sh ORDER_ID
#          (an order Relais has and that is still open: placed, confirmed or ready; a booking
#          for a collected or cancelled order changes nothing. The orders example's orders are
#          both over by then: examples/README.md shows how to place one that stays open)
# Needs:   redis-cli (Debian package redis-tools), GNU date
# Env:     RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
# Prints:  one line per job: <type> <job id> <stream entry id>
set -eu

order=${1:?usage: enqueue-pickups.sh ORDER_ID}
url=${RELAIS_REDIS_URL:-redis://127.0.0.1:16379/0}
stream=${RELAIS_PREFIX:-relais}:pickups

# The order id is pasted into the JSON and into the job ids, so keep it to the job id
# alphabet (an order id may be any text: hash it into the job id, as docs/producers.md says).
case $order in
  ''|*[!A-Za-z0-9._:-]*) echo "order id must use only A-Z a-z 0-9 . _ : -" >&2; exit 2 ;;
esac

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
first=$(date -u -d '+2 days' +%Y-%m-%d)   # the day after tomorrow, 16:00-16:30 UTC
moved=$(date -u -d '+3 days' +%Y-%m-%d)   # moved to the day after, 09:00-09:30 UTC

# One id per booking of the order, numbered by the booking system: a retried XADD of a
# booking is applied once, and the move is a new fact with an id of its own.
booked=$(printf '{"id":"pickup-booked:%s:1","type":"pickup.booked","v":1,"enqueued_at":"%s","data":{"order_id":"%s","slot_start":"%sT16:00:00Z","slot_end":"%sT16:30:00Z"}}' \
  "$order" "$now" "$order" "$first" "$first")
move=$(printf '{"id":"pickup-booked:%s:2","type":"pickup.booked","v":1,"enqueued_at":"%s","data":{"order_id":"%s","slot_start":"%sT09:00:00Z","slot_end":"%sT09:30:00Z"}}' \
  "$order" "$now" "$order" "$moved" "$moved")

# Relais applies the bookings of an order in the order it processes them, and two jobs
# sent a moment apart may be taken by two of its workers at once. A real move comes long
# after its booking; this example sends both at once, so it sends them in one MULTI/EXEC:
# Relais then reads them together and applies them in stream order.
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/["\\]/\\&/g')"; }  # for redis-cli's parser
replies=$(printf 'MULTI\nXADD %s * job %s\nXADD %s * job %s\nEXEC\n' \
  "$stream" "$(quote "$booked")" "$stream" "$(quote "$move")" | redis-cli -u "$url")
entries=$(printf '%s\n' "$replies" | grep -E '^[0-9]+-[0-9]+$' || true)
if [ "$(printf '%s\n' "$entries" | grep -c .)" != 2 ]; then
  echo "MULTI/XADD/EXEC failed: $replies" >&2   # redis-cli exits 0 on a Redis error
  exit 1
fi
set -- $entries
echo "pickup.booked pickup-booked:$order:1 $1"
echo "pickup.booked pickup-booked:$order:2 $2"
