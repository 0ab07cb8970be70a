#!/usr/bin/env python3
"""Ship an order to a relay point with redis-py, then tell Relais it waits there.

Usage:  python3 examples/python/enqueue_deliveries.py ORDER_ID
        (an order Relais has and that is still open: placed, confirmed or ready; a delivery
        of a collected or cancelled order changes nothing. The orders example's orders are
        both over by then: examples/README.md shows how to place one that stays open)
Needs:  python3 -m pip install redis
Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
Prints: one line per job: <type> <job id> <stream entry id>
"""

import json
import os
import sys
from datetime import datetime, timedelta, timezone

import redis


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: enqueue_deliveries.py ORDER_ID")
    order = sys.argv[1]
    r = redis.Redis.from_url(os.environ.get("RELAIS_REDIS_URL", "redis://127.0.0.1:16379/0"))
    stream = os.environ.get("RELAIS_PREFIX", "relais") + ":deliveries"
    now = datetime.now(timezone.utc)
    at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The relay point keeps the parcel ten days, until 18:00 UTC.
    hold_until = (now + timedelta(days=10)).strftime("%Y-%m-%dT18:00:00Z")
    # One id per step of the order's delivery: each happens once, so a retried XADD is
    # applied once. (The order id goes into the job id: hash it there if it has characters
    # outside A-Z a-z 0-9 . _ : -.)
    jobs = [
        {"id": f"delivery-shipped:{order}", "type": "delivery.shipped", "v": 1, "enqueued_at": at,
         "data": {"order_id": order, "at": at, "method": "relay", "carrier": "Mondial Relay",
                  "tracking_url": "https://suivi.mondial-relay.example/colis/48213977",
                  "tracking_number": "48213977"}},
        {"id": f"delivery-at-relay:{order}", "type": "delivery.at_relay", "v": 1, "enqueued_at": at,
         "data": {"order_id": order, "at": at,
                  "relay": {"name": "Tabac-Presse du Marché", "address": "12 place du Marché, 69003 Lyon",
                            "opening_hours": "lun.-sam. 7h30-19h30, dim. 8h-12h30"},
                  "pickup_code": "482913", "hold_until": hold_until}},
    ]
    # Relais never moves a delivery back: an at_relay applied first ships the order, and the
    # shipped that comes after it is then kept without effect (no tracking link, no message).
    # Real steps come hours apart; this example sends both at once, so it sends them in one
    # MULTI/EXEC: Relais then reads them together and applies them in stream order. No maxlen:
    # Relais trims the stream itself once jobs are done.
    pipe = r.pipeline(transaction=True)
    for job in jobs:
        pipe.xadd(stream, {"job": json.dumps(job, ensure_ascii=False)})
    for job, entry in zip(jobs, pipe.execute()):
        print(job["type"], job["id"], entry.decode())


if __name__ == "__main__":
    main()
