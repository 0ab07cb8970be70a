#!/usr/bin/env python3
"""A customer asks a shop for a quote, and the shop sends it, with redis-py (quotes queue).

Usage:  python3 examples/python/enqueue_quotes.py SHOP_ID
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


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: enqueue_quotes.py SHOP_ID")
    shop = sys.argv[1]
    r = redis.Redis.from_url(os.environ.get("RELAIS_REDIS_URL", "redis://127.0.0.1:16379/0"))
    stream = os.environ.get("RELAIS_PREFIX", "relais") + ":quotes"
    now = datetime.now(timezone.utc)
    day = lambda days: (now + timedelta(days=days)).strftime("%Y-%m-%d")  # noqa: E731
    quote = f"{shop}-DEVIS-3001"
    # One id per fact: the request, and each version of the quote the shop sends. (The shop
    # id goes into the job ids: hash it there if it has characters outside A-Z a-z 0-9 . _ : -.)
    jobs = [
        {"id": f"quote-requested:{quote}", "type": "quote.requested", "v": 1, "enqueued_at": utc(now),
         "data": {"quote_id": quote, "at": utc(now - timedelta(hours=1)),  # asked an hour ago
                  "shop": {"id": shop, "name": "Boulangerie Martin", "email": "commandes@boulangerie-martin.example",
                           "timezone": "Europe/Paris"},
                  "customer": {"name": "Camille Durand", "email": "camille.durand@example.org", "locale": "fr"},
                  "request": "Une pièce montée de 40 choux pour un baptême, sans fruits à coque",
                  "desired_date": f"{day(14)}T10:00:00Z"}},  # wanted in two weeks
        {"id": f"quote-sent:{quote}:1", "type": "quote.sent", "v": 1, "enqueued_at": utc(now),
         "data": {"quote_id": quote, "at": utc(now), "amount_cents": 9600, "currency": "EUR",
                  "lines": [{"description": "Pièce montée, 40 choux", "quantity": 1, "unit_price_cents": 8400},
                            {"description": "Livraison et montage", "quantity": 1, "unit_price_cents": 1200}],
                  "valid_until": f"{day(7)}T18:00:00Z",  # valid a week
                  "url": f"https://mes-commercants.example/devis/{quote}"}},
    ]
    # A quote sent before its request is known would wait for it (retried); sent together in
    # one MULTI/EXEC, Relais reads them in one batch and applies them in stream order.
    pipe = r.pipeline(transaction=True)
    for job in jobs:
        pipe.xadd(stream, {"job": json.dumps(job, ensure_ascii=False)})
    for job, entry in zip(jobs, pipe.execute()):
        print(job["type"], job["id"], entry.decode())


if __name__ == "__main__":
    main()
