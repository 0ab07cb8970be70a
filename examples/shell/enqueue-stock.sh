#!/bin/sh
# Enqueue a stock.levels and a stock.adjust job for Relais with redis-cli.
#
# Usage:   examples/shell/enqueue-stock.sh SHOP_ID
# Needs:   redis-cli (Debian package redis-tools)
# Env:     RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
# Prints:  one line per job: <type> <job id> <stream entry id>
set -eu

shop=${1:?usage: enqueue-stock.sh SHOP_ID}
url=${RELAIS_REDIS_URL:-redis://127.0.0.1:16379/0}
stream=${RELAIS_PREFIX:-relais}:stock

# The shop id is pasted into the JSON and into the job ids below, so keep it to
# the job id alphabet (a JSON encoder such as jq would lift the first limit).
case $shop in
  *[!A-Za-z0-9._:-]*) echo "shop id must use only A-Z a-z 0-9 . _ : -" >&2; exit 2 ;;
esac

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
observed=2026-11-01T07:00:00Z   # when the till counted
receipt=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || echo "$(date +%s)-$$")

# enqueue TYPE ID JSON: XADD the job; the entry id that Redis answers proves it is stored.
enqueue() {
  # -x sends standard input as the last argument: a whole catalogue can be larger
  # than the 128 KiB that Linux allows for one command-line argument.
  entry=$(printf '%s' "$3" | redis-cli -u "$url" -x XADD "$stream" '*' job)
  case $entry in
    [0-9]*-[0-9]*) echo "$1 $2 $entry" ;;
    *) echo "XADD $1 failed: $entry" >&2; exit 1 ;;  # redis-cli exits 0 on a Redis error
  esac
}

# Absolute levels: the id names the shop and the observation, so sending the same
# count twice has one effect.
id="stock-levels:$shop:$observed"
enqueue stock.levels "$id" "$(printf '{"id":"%s","type":"stock.levels","v":1,"enqueued_at":"%s","data":{"shop_id":"%s","observed_at":"%s","levels":[{"sku":"baguette","on_hand":40},{"sku":"croissant","on_hand":60},{"sku":"pain-au-chocolat","on_hand":30}]}}' \
  "$id" "$now" "$shop" "$observed")"

# One sale: the id names the receipt, so a retried XADD is applied once.
id="stock-adjust:$shop:$receipt"
enqueue stock.adjust "$id" "$(printf '{"id":"%s","type":"stock.adjust","v":1,"enqueued_at":"%s","data":{"shop_id":"%s","sku":"baguette","delta":-3,"reason":"vente en caisse","at":"%s"}}' \
  "$id" "$now" "$shop" "$now")"
