#!/bin/sh
# Enqueue two orders' lives for Relais with redis-cli: one placed, confirmed, ready and
# collected; one placed and cancelled by the customer.
#
# Usage:   examples/shell/enqueue-orders.sh SHOP_ID
# Needs:   redis-cli (Debian package redis-tools), GNU date
# Env:     RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
# Prints:  one line per job: <type> <job id> <stream entry id>
set -eu

shop=${1:?usage: enqueue-orders.sh SHOP_ID}
url=${RELAIS_REDIS_URL:-redis://127.0.0.1:16379/0}
stream=${RELAIS_PREFIX:-relais}:orders

# The shop id is pasted into the JSON, the order ids and the job ids below, so keep it
# to the job id alphabet (a JSON encoder such as jq would lift the first limit).
case $shop in
  *[!A-Za-z0-9._:-]*) echo "shop id must use only A-Z a-z 0-9 . _ : -" >&2; exit 2 ;;
esac

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
deadline=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)   # collect by tomorrow
order=$shop-CMD-1042
other=$shop-CMD-1043

# enqueue TYPE ID DATA: XADD the job; the entry id that Redis answers proves it is stored.
enqueue() {
  job=$(printf '{"id":"%s","type":"%s","v":1,"enqueued_at":"%s","data":%s}' "$2" "$1" "$now" "$3")
  entry=$(printf '%s' "$job" | redis-cli -u "$url" -x XADD "$stream" '*' job)
  case $entry in
    [0-9]*-[0-9]*) echo "$1 $2 $entry" ;;
    *) echo "XADD $1 failed: $entry" >&2; exit 1 ;;  # redis-cli exits 0 on a Redis error
  esac
}

shop_json=$(printf '{"id":"%s","name":"Boulangerie Martin","email":"commandes@boulangerie-martin.example","webhook_url":"https://boulangerie-martin.example/relais/webhook","timezone":"Europe/Paris"}' "$shop")

# Each job id names the order and the event: a retried XADD, or the same event sent
# twice by the web shop, is applied once.
enqueue order.placed "order-placed:$order" "$(printf '{"order_id":"%s","shop":%s,"customer":{"name":"Camille Durand","email":"camille.durand@example.org","phone":"+33612345678","locale":"fr"},"items":[{"sku":"baguette","name":"Baguette tradition","quantity":2,"unit_price_cents":130},{"sku":"croissant","name":"Croissant au beurre","quantity":6,"unit_price_cents":120}],"total_cents":980,"currency":"EUR","placed_at":"%s","pickup_deadline":"%s"}' \
  "$order" "$shop_json" "$now" "$deadline")"
enqueue order.confirmed "order-confirmed:$order" "$(printf '{"order_id":"%s","at":"%s"}' "$order" "$now")"
enqueue order.ready "order-ready:$order" "$(printf '{"order_id":"%s","at":"%s","pickup_deadline":"%s"}' "$order" "$now" "$deadline")"
enqueue order.collected "order-collected:$order" "$(printf '{"order_id":"%s","at":"%s"}' "$order" "$now")"

enqueue order.placed "order-placed:$other" "$(printf '{"order_id":"%s","shop":%s,"customer":{"name":"Alex Morgan","phone":"+447700900123","locale":"en"},"items":[{"sku":"pain-au-chocolat","name":"Pain au chocolat","quantity":4,"unit_price_cents":130},{"sku":"baguette","name":"Baguette tradition","quantity":1,"unit_price_cents":130}],"total_cents":650,"currency":"EUR","placed_at":"%s"}' \
  "$other" "$shop_json" "$now")"
enqueue order.cancelled "order-cancelled:$other" "$(printf '{"order_id":"%s","at":"%s","by":"customer","reason":"Empêchement, je repasserai demain"}' "$other" "$now")"
