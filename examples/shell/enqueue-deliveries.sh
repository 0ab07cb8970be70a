#!/bin/sh
# Ship an order to a relay point with redis-cli, then tell Relais it waits there.
#
# Usage:   examples/shell/enqueue-deliveries.sh ORDER_ID
#          (an order Relais has and that is still open: placed, confirmed or ready; a
#          delivery of a collected or cancelled order changes nothing. The orders example's
#          orders are both over by then: examples/README.md shows how to place one that stays open)
# Needs:   redis-cli (Debian package redis-tools), GNU date
# Env:     RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
# Prints:  one line per job: <type> <job id> <stream entry id>
set -eu

order=${1:?usage: enqueue-deliveries.sh ORDER_ID}
url=${RELAIS_REDIS_URL:-redis://127.0.0.1:16379/0}
stream=${RELAIS_PREFIX:-relais}:deliveries

# The order id is pasted into the JSON and into the job ids, so keep it to the job id
# alphabet (an order id may be any text: hash it into the job id, as docs/producers.md says).
case $order in
  ''|*[!A-Za-z0-9._:-]*) echo "order id must use only A-Z a-z 0-9 . _ : -" >&2; exit 2 ;;
esac

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
hold=$(date -u -d '+10 days' +%Y-%m-%d)   # the relay point keeps it ten days, until 18:00 UTC

# One id per step of the order's delivery: each happens once, so a retried XADD is applied once.
shipped=$(printf '{"id":"delivery-shipped:%s","type":"delivery.shipped","v":1,"enqueued_at":"%s","data":{"order_id":"%s","at":"%s","method":"relay","carrier":"Mondial Relay","tracking_url":"https://suivi.mondial-relay.example/colis/48213977","tracking_number":"48213977"}}' \
  "$order" "$now" "$order" "$now")
at_relay=$(printf '{"id":"delivery-at-relay:%s","type":"delivery.at_relay","v":1,"enqueued_at":"%s","data":{"order_id":"%s","at":"%s","relay":{"name":"Tabac-Presse du Marché","address":"12 place du Marché, 69003 Lyon","opening_hours":"lun.-sam. 7h30-19h30, dim. 8h-12h30"},"pickup_code":"482913","hold_until":"%sT18:00:00Z"}}' \
  "$order" "$now" "$order" "$now" "$hold")

# Relais never moves a delivery back: an at_relay applied first ships the order, and the
# shipped that comes after it is then kept without effect (no tracking link, no message).
# Real steps come hours apart; this example sends both at once, so it sends them in one
# MULTI/EXEC: Relais then reads them together and applies them in stream order.
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/["\\]/\\&/g')"; }  # for redis-cli's parser
replies=$(printf 'MULTI\nXADD %s * job %s\nXADD %s * job %s\nEXEC\n' \
  "$stream" "$(quote "$shipped")" "$stream" "$(quote "$at_relay")" | redis-cli -u "$url")
entries=$(printf '%s\n' "$replies" | grep -E '^[0-9]+-[0-9]+$' || true)
if [ "$(printf '%s\n' "$entries" | grep -c .)" != 2 ]; then
  echo "MULTI/XADD/EXEC failed: $replies" >&2   # redis-cli exits 0 on a Redis error
  exit 1
fi
set -- $entries
echo "delivery.shipped delivery-shipped:$order $1"
echo "delivery.at_relay delivery-at-relay:$order $2"
