#!/usr/bin/env python3
"""Book an appointment at a shop with redis-py, then move it (appointments queue).

Usage:  python3 examples/python/enqueue_appointments.py SHOP_ID
Needs:  python3 -m pip install redis
Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
Prints: one line per job: <type> <job id> <stream entry id>
"""

import json
import os
import sys
from datetime import datetime, timedelta, timezone

import redis


def utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def slot(days: int, hour: int) -> dict:
    """A 45-minute appointment at `hour`:00 UTC, `days` days from today."""
    start = (datetime.now(timezone.utc) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return {"start": utc(start), "end": utc(start + timedelta(minutes=45))}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: enqueue_appointments.py SHOP_ID")
    shop = sys.argv[1]
    r = redis.Redis.from_url(os.environ.get("RELAIS_REDIS_URL", "redis://127.0.0.1:16379/0"))
    stream = os.environ.get("RELAIS_PREFIX", "relais") + ":appointments"
    now = datetime.now(timezone.utc)
    appointment = f"{shop}-RDV-2001"
    # One id per fact: the booking, and each move numbered by the booking system. A move
    # applies only if its `at` is later than the booking's (or the last move's): booked a
    # minute ago, moved now. (The shop id goes into the job ids: hash it there if it has
    # characters outside A-Z a-z 0-9 . _ : -.)
    jobs = [
        {"id": f"appointment-booked:{appointment}", "type": "appointment.booked", "v": 1, "enqueued_at": utc(now),
         "data": {"appointment_id": appointment, "at": utc(now - timedelta(minutes=1)),
                  "shop": {"id": shop, "name": "Salon Léa Coiffure", "email": "rdv@salon-lea.example",
                           "timezone": "Europe/Paris", "address": "8 rue des Tanneurs, 69001 Lyon"},
                  "service": {"name": "Coupe et brushing", "duration_minutes": 45},
                  **slot(2, 9),  # the day after tomorrow, 09:00-09:45 UTC
                  "customer": {"name": "Camille Durand", "email": "camille.durand@example.org",
                               "phone": "+33612345678", "locale": "fr"}}},
        {"id": f"appointment-rescheduled:{appointment}:1", "type": "appointment.rescheduled", "v": 1,
         "enqueued_at": utc(now),
         "data": {"appointment_id": appointment, "at": utc(now), **slot(3, 14)}},  # the day after, 14:00-14:45 UTC
    ]
    # A move processed before its booking would wait for it (retried); sent together in one
    # MULTI/EXEC, Relais reads them in one batch and applies them in stream order.
    pipe = r.pipeline(transaction=True)
    for job in jobs:
        pipe.xadd(stream, {"job": json.dumps(job, ensure_ascii=False)})
    for job, entry in zip(jobs, pipe.execute()):
        print(job["type"], job["id"], entry.decode())


if __name__ == "__main__":
    main()
