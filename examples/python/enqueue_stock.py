#!/usr/bin/env python3
"""Enqueue a stock.levels and a stock.adjust job for Relais with redis-py.

Usage:  python3 examples/python/enqueue_stock.py SHOP_ID
Needs:  python3 -m pip install redis
Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
Prints: one line per job: <type> <job id> <stream entry id>
"""

import json
import os
import sys
import uuid
from datetime import datetime, timezone

import redis


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # RFC 3339


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: enqueue_stock.py SHOP_ID")
    shop = sys.argv[1]
    r = redis.Redis.from_url(os.environ.get("RELAIS_REDIS_URL", "redis://127.0.0.1:16379/0"))
    stream = os.environ.get("RELAIS_PREFIX", "relais") + ":stock"
    observed = "2026-11-01T07:00:00Z"  # when the till counted

    jobs = [
        {   # Absolute levels: the id names the shop and the observation.
            "id": f"stock-levels:{shop}:{observed}",
            "type": "stock.levels",
            "v": 1,
            "enqueued_at": now(),
            "data": {
                "shop_id": shop,
                "observed_at": observed,
                "levels": [
                    {"sku": "baguette", "on_hand": 40},
                    {"sku": "croissant", "on_hand": 60},
                    {"sku": "pain-au-chocolat", "on_hand": 30},
                ],
            },
        },
        {   # One sale: the id names the receipt, so a retried XADD is applied once.
            "id": f"stock-adjust:{shop}:{uuid.uuid4()}",
            "type": "stock.adjust",
            "v": 1,
            "enqueued_at": now(),
            "data": {"shop_id": shop, "sku": "baguette", "delta": -3,
                     "reason": "vente en caisse", "at": now()},
        },
    ]
    for job in jobs:
        # No maxlen: Relais trims the stream itself once jobs are done.
        entry = r.xadd(stream, {"job": json.dumps(job, ensure_ascii=False)})
        print(job["type"], job["id"], entry.decode())


if __name__ == "__main__":
    main()
