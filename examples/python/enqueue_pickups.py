#!/usr/bin/env python3
"""Book a pickup slot for an order with redis-py, then move it (a second booking).

Usage:  python3 examples/python/enqueue_pickups.py ORDER_ID
        (an order Relais has and that is still open: placed, confirmed or ready; a booking
        for a collected or cancelled order changes nothing. The orders example's orders are
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


def rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")


def slot(days: int, hour: int) -> dict:
    """A 30-minute slot at `hour`:00 UTC, `days` days from today."""
    start = (datetime.now(timezone.utc) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return {"slot_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "slot_end": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: enqueue_pickups.py ORDER_ID")
    order = sys.argv[1]
    r = redis.Redis.from_url(os.environ.get("RELAIS_REDIS_URL", "redis://127.0.0.1:16379/0"))
    stream = os.environ.get("RELAIS_PREFIX", "relais") + ":pickups"
    now = rfc3339(datetime.now(timezone.utc))
    # One id per booking of the order, numbered by the booking system: a retried XADD of a
    # booking is applied once, and the move is a new fact with an id of its own. (The order
    # id goes into the job id: hash it there if it has characters outside A-Z a-z 0-9 . _ : -.)
    jobs = [
        {"id": f"pickup-booked:{order}:1", "type": "pickup.booked", "v": 1, "enqueued_at": now,
         "data": {"order_id": order, **slot(2, 16)}},  # the day after tomorrow, 16:00-16:30 UTC
        {"id": f"pickup-booked:{order}:2", "type": "pickup.booked", "v": 1, "enqueued_at": now,
         "data": {"order_id": order, **slot(3, 9)}},  # moved to the day after, 09:00-09:30 UTC
    ]
    # Relais applies the bookings of an order in the order it processes them, and two jobs
    # sent a moment apart may be taken by two of its workers at once. A real move comes long
    # after its booking; this example sends both at once, so it sends them in one MULTI/EXEC:
    # Relais then reads them together and applies them in stream order. No maxlen: Relais
    # trims the stream itself once jobs are done.
    pipe = r.pipeline(transaction=True)
    for job in jobs:
        pipe.xadd(stream, {"job": json.dumps(job, ensure_ascii=False)})
    for job, entry in zip(jobs, pipe.execute()):
        print(job["type"], job["id"], entry.decode())


if __name__ == "__main__":
    main()
