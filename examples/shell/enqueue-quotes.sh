#!/bin/sh
# A customer asks a shop for a quote, and the shop sends it, with redis-cli (quotes queue).
#
# Usage:   examples/shell/enqueue-quotes.sh SHOP_ID
# Needs:   redis-cli (Debian package redis-tools), GNU date
# Env:     RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
# Prints:  one line per job: <type> <job id> <stream entry id>
set -eu

shop=${1:?usage: enqueue-quotes.sh SHOP_ID}
url=${RELAIS_REDIS_URL:-redis://127.0.0.1:16379/0}
stream=${RELAIS_PREFIX:-relais}:quotes

# The shop id is pasted into the JSON and into the job ids, so keep it to the job id alphabet.
case $shop in
  ''|*[!A-Za-z0-9._:-]*) echo "shop id must use only A-Z a-z 0-9 . _ : -" >&2; exit 2 ;;
esac
quote_id="$shop-DEVIS-3001"

requested_at=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)   # asked an hour ago...
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)                          # ...answered now
desired=$(date -u -d '+14 days' +%Y-%m-%d)                   # wanted in two weeks, 10:00 UTC
valid=$(date -u -d '+7 days' +%Y-%m-%d)                      # valid a week, until 18:00 UTC

# One id per fact: the request, and each version of the quote the shop sends.
requested=$(printf '{"id":"quote-requested:%s","type":"quote.requested","v":1,"enqueued_at":"%s","data":{"quote_id":"%s","at":"%s","shop":{"id":"%s","name":"Boulangerie Martin","email":"commandes@boulangerie-martin.example","timezone":"Europe/Paris"},"customer":{"name":"Camille Durand","email":"camille.durand@example.org","locale":"fr"},"request":"Une pièce montée de 40 choux pour un baptême, sans fruits à coque","desired_date":"%sT10:00:00Z"}}' \
  "$quote_id" "$now" "$quote_id" "$requested_at" "$shop" "$desired")
sent=$(printf '{"id":"quote-sent:%s:1","type":"quote.sent","v":1,"enqueued_at":"%s","data":{"quote_id":"%s","at":"%s","amount_cents":9600,"currency":"EUR","lines":[{"description":"Pièce montée, 40 choux","quantity":1,"unit_price_cents":8400},{"description":"Livraison et montage","quantity":1,"unit_price_cents":1200}],"valid_until":"%sT18:00:00Z","url":"https://mes-commercants.example/devis/%s"}}' \
  "$quote_id" "$now" "$quote_id" "$now" "$valid" "$quote_id")

# A quote sent before its request is known would wait for it (retried); sent together in
# one MULTI/EXEC, Relais reads them in one batch and applies them in stream order.
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/["\\]/\\&/g')"; }  # for redis-cli's parser
replies=$(printf 'MULTI\nXADD %s * job %s\nXADD %s * job %s\nEXEC\n' \
  "$stream" "$(quote "$requested")" "$stream" "$(quote "$sent")" | redis-cli -u "$url")
entries=$(printf '%s\n' "$replies" | grep -E '^[0-9]+-[0-9]+$' || true)
if [ "$(printf '%s\n' "$entries" | grep -c .)" != 2 ]; then
  echo "MULTI/XADD/EXEC failed: $replies" >&2   # redis-cli exits 0 on a Redis error
  exit 1
fi
set -- $entries
echo "quote.requested quote-requested:$quote_id $1"
echo "quote.sent quote-sent:$quote_id:1 $2"
