#!/usr/bin/env python3
"""Enqueue two orders' lives for Relais with redis-py: one placed, confirmed, ready and
collected; one placed and cancelled by the customer.

Usage:  python3 examples/python/enqueue_orders.py SHOP_ID
Needs:  python3 -m pip install redis
Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
Prints: one line per job: <type> <job id> <stream entry id>
"""

import json
import os
import sys
from datetime import datetime, timedelta, timezone

import redis


def rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: enqueue_orders.py SHOP_ID")
    shop_id = sys.argv[1]
    r = redis.Redis.from_url(os.environ.get("RELAIS_REDIS_URL", "redis://127.0.0.1:16379/0"))
    stream = os.environ.get("RELAIS_PREFIX", "relais") + ":orders"
    now = datetime.now(timezone.utc)
    deadline = rfc3339(now + timedelta(days=1))  # collect by tomorrow
    order, other = f"{shop_id}-CMD-1042", f"{shop_id}-CMD-1043"
    shop = {"id": shop_id, "name": "Boulangerie Martin", "email": "commandes@boulangerie-martin.example",
            "webhook_url": "https://boulangerie-martin.example/relais/webhook", "timezone": "Europe/Paris"}

    events = [
        ("order.placed", order, {
            "order_id": order, "shop": shop,
            "customer": {"name": "Camille Durand", "email": "camille.durand@example.org",
                         "phone": "+33612345678", "locale": "fr"},
            "items": [
                {"sku": "baguette", "name": "Baguette tradition", "quantity": 2, "unit_price_cents": 130},
                {"sku": "croissant", "name": "Croissant au beurre", "quantity": 6, "unit_price_cents": 120},
            ],
            "total_cents": 980, "currency": "EUR", "placed_at": rfc3339(now), "pickup_deadline": deadline,
        }),
        ("order.confirmed", order, {"order_id": order, "at": rfc3339(now)}),
        ("order.ready", order, {"order_id": order, "at": rfc3339(now), "pickup_deadline": deadline}),
        ("order.collected", order, {"order_id": order, "at": rfc3339(now)}),
        ("order.placed", other, {
            "order_id": other, "shop": shop,
            "customer": {"name": "Alex Morgan", "phone": "+447700900123", "locale": "en"},
            "items": [
                {"sku": "pain-au-chocolat", "name": "Pain au chocolat", "quantity": 4, "unit_price_cents": 130},
                {"sku": "baguette", "name": "Baguette tradition", "quantity": 1, "unit_price_cents": 130},
            ],
            "total_cents": 650, "currency": "EUR", "placed_at": rfc3339(now),
        }),
        ("order.cancelled", other, {"order_id": other, "at": rfc3339(now), "by": "customer",
                                    "reason": "Empêchement, je repasserai demain"}),
    ]
    for job_type, order_id, data in events:
        # The id names the order and the event: a retried XADD, or the same event sent
        # twice, is applied once.
        job = {"id": f"{job_type.replace('.', '-')}:{order_id}", "type": job_type, "v": 1,
               "enqueued_at": rfc3339(datetime.now(timezone.utc)), "data": data}
        # No maxlen: Relais trims the stream itself once jobs are done.
        entry = r.xadd(stream, {"job": json.dumps(job, ensure_ascii=False)})
        print(job["type"], job["id"], entry.decode())


if __name__ == "__main__":
    main()
