#!/usr/bin/env python3
"""Checks a live `relais serve` against the producer contract (docs/producers.md).

1. Examples: every producer example (shell, python, php, node; stock and orders)
   enqueues for a shop of its own; once the queues are drained, relais.stock_available
   shows baguette 35, croissant 54, pain-au-chocolat 30, reserved 0 for that shop; the
   order CMD-1042 is collected and CMD-1043 cancelled in relais.order_status, their
   events are in the history and the ledger, and relais.notification_log has the
   messages of the events that applied, on channel log. A second run for the same shop
   applies the levels job and the orders once more (no effect: same ids) and the
   adjustment again: baguette 32.
   The pickups examples, for open orders of their own: the moved slot in
   relais.order_status, its reminders pending in relais.reminders at the times
   docs/producers.md gives (worked out with zoneinfo), the first slot's none or cancelled;
   a second run changes nothing.
2. Retries: an order.confirmed and a pickup.booked sent before their order.placed are
   retried and applied; ones for an order never placed are dead-lettered after
   --max-attempts (attempts_exhausted).
3. Generated cases (generate_cases.py, N valid and N invalid jobs per job type), plus a
   few raw entries JSON Schema cannot describe (no job field, not JSON, not UTF-8, not
   an object), enqueued in five phases (the valid order events only once their orders
   are in; see generate_cases.event_plan), each drained before the next, then
   - every valid job is in relais.processed_jobs (its queue, its type), is not
     dead-lettered, and has its effect: for stock, each job has a shop of its own, so
     the shop's rows are exactly the job's levels (on_hand, reserved 0, available,
     observed_at to the microsecond), or for stock.adjust one row whose on_hand is the
     delta; for orders, each order's status, placed_at and pickup_deadline in
     relais.order_status, every event in its history (applied or kept as late), its
     shop's on_hand/reserved/available (consumed, released or still reserved) and its
     messages in relais.notification_log; its slot after its valid pickup jobs, and its
     booking reminders in relais.reminders: each booking's planned, the last one's pending
     while the order is open, the others cancelled, none sent (exact due times for shops
     in Europe/Paris, bounds elsewhere); every valid pickup job in the order's history,
     applied or (after the order ended) kept without effect;
   - every invalid job is in <prefix>:dead exactly once, with the expected code, a reason
     that names the expected field, the payload byte for byte, its queue, job_id and
     job_type as documented, and it had no effect;
   - none dropped silently: processed + dead-lettered == number of cases, and no other
     ledger row, dead letter, shop, order or message exists.
4. The daemon is still running and GET /readyz answers 200.

Usage:
  python3 Tests/contract/live_checks.py --redis-url URL --database-url URL --prefix P \
      --http HOST:PORT --pid PID --workdir DIR [-n 200] [--seed 6] [--timeout 300]

Needs psql (on PATH or --psql), the python packages redis, jsonschema and
rfc3339-validator, and the examples' runtimes (redis-cli; php with php-redis; node with
node-redis). Prints one line per failed check and ends with `N passed, M failed`;
exits 1 if anything failed.
"""

import argparse
import calendar
import collections
import csv
import io
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, time as dtime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import redis

import _contract as c

GROUP = "relais"  # the consumer group the daemon reads with
NODE_PATH = os.pathsep.join(p for p in (os.environ.get("NODE_PATH"), "/usr/share/nodejs") if p)
EXAMPLES = [
    ("shell", ["sh", "examples/shell/enqueue-stock.sh"]),
    ("python", [sys.executable, "examples/python/enqueue_stock.py"]),
    ("php", ["php", "examples/php/enqueue_stock.php"]),
    ("node", ["node", "examples/node/enqueue_stock.js"]),
]
ORDER_EXAMPLES = {
    "shell": ["sh", "examples/shell/enqueue-orders.sh"],
    "python": [sys.executable, "examples/python/enqueue_orders.py"],
    "php": ["php", "examples/php/enqueue_orders.php"],
    "node": ["node", "examples/node/enqueue_orders.js"],
}
PICKUP_EXAMPLES = {
    "shell": ["sh", "examples/shell/enqueue-pickups.sh"],
    "python": [sys.executable, "examples/python/enqueue_pickups.py"],
    "php": ["php", "examples/php/enqueue_pickups.php"],
    "node": ["node", "examples/node/enqueue_pickups.js"],
}
ORDER_EXAMPLE_TYPES = ["order.placed", "order.confirmed", "order.ready", "order.collected", "order.placed",
                       "order.cancelled"]
EXAMPLE_LEVELS = {"baguette": 40, "croissant": 60, "pain-au-chocolat": 30}
# What the collected example order takes from stock on hand (its cancelled one takes nothing).
EXAMPLE_COLLECTED = {"baguette": 2, "croissant": 6}


def expected_messages(job_type, data):
    """The notification_log rows (recipient, channel, template) an applied event causes when no
    delivery channel is configured (MessageRouting: one row on channel log per message)."""
    if job_type == "order.placed":
        return [("customer", "log", "order-placed-customer"), ("shop", "log", "order-placed-shop")]
    if job_type in ("order.confirmed", "order.ready"):
        return [("customer", "log", f"{job_type.replace('.', '-')}-customer")]
    if job_type == "order.cancelled":
        who = {"customer": ["shop"], "shop": ["customer"], "platform": ["customer", "shop"]}[data["by"]]
        return [(r, "log", f"order-cancelled-{r}") for r in who]
    return []
RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")

# Entries that JSON Schema cannot describe: (rule, fields of the stream entry, expected code).
VALID_ADJUST = (b'{"id":"raw-%s","type":"stock.adjust","data":{"shop_id":"raw-shop","sku":"a",'
                b'"delta":1,"at":"2026-11-01T07:00:00Z"}}')
RAW_CASES = [
    ("raw.no_job_field", {b"payload": VALID_ADJUST % b"no-job-field"}, "missing_job"),
    ("raw.not_json", {b"job": b"stock.levels baguette 40"}, "malformed_json"),
    ("raw.empty", {b"job": b""}, "malformed_json"),
    ("raw.truncated", {b"job": (VALID_ADJUST % b"truncated")[:-2]}, "malformed_json"),
    ("raw.trailing_garbage", {b"job": VALID_ADJUST % b"trailing" + b" }"}, "malformed_json"),
    ("raw.array", {b"job": b'[{"id":"raw-array","type":"stock.adjust"}]'}, "malformed_json"),
    ("raw.string", {b"job": b'"stock.levels"'}, "malformed_json"),
    ("raw.number", {b"job": b"42"}, "malformed_json"),
    ("raw.null", {b"job": b"null"}, "malformed_json"),
    ("raw.not_utf8", {b"job": (VALID_ADJUST % b"not-utf8").replace(b'"raw-shop"', b'"raw-\xff\xfe"')},
     "malformed_json"),
    ("raw.latin1", {b"job": (VALID_ADJUST % b"latin1").replace(b'"raw-shop"', b'"caf\xe9"')}, "malformed_json"),
]


class Checks:
    def __init__(self):
        self.passed = self.failed = 0
        self.failed_rules = collections.Counter()

    def check(self, ok, name, detail="", rule=None):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            if rule:
                self.failed_rules[rule] += 1
            print(f"FAIL {name}{': ' + detail if detail else ''}", flush=True)
        return ok


def info(text):
    print(f"     {text}", flush=True)


def excerpt(data, limit=160):
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else str(data)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else f"{text[:limit]}... ({len(data)} bytes)"


def epoch(text):
    """Seconds since the epoch of an RFC 3339 date-time, exactly (Decimal)."""
    m = RFC3339.match(text)
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    seconds = calendar.timegm((y, mo, d, h, mi, s))
    if m[8] != "Z":
        sign = 1 if m[8][0] == "+" else -1
        seconds -= sign * (int(m[8][1:3]) * 3600 + int(m[8][4:6]) * 60)
    return Decimal(seconds) + (Decimal(m[7]) if m[7] else 0)


# Redis and PostgreSQL -----------------------------------------------------------


class Live:
    def __init__(self, args):
        self.args = args
        self.redis = redis.Redis.from_url(args.redis_url, socket_timeout=60)
        self.queues = c.QUEUES
        self.dead = f"{args.prefix}:dead"

    def enqueue(self, entries, queue="stock"):
        """XADDs each entry (a dict of bytes fields) to `queue` in pipelines; returns the entry ids."""
        stream = f"{self.args.prefix}:{queue}"
        ids, pipe, size = [], self.redis.pipeline(transaction=False), 0
        for fields in entries:
            pipe.xadd(stream, fields)
            size += sum(len(v) for v in fields.values())
            if len(pipe) >= 200 or size >= 8 << 20:
                ids += pipe.execute()
                pipe, size = self.redis.pipeline(transaction=False), 0
        ids += pipe.execute()
        return [i.decode() for i in ids]

    def backlog(self):
        """(stream length, pending in the group, retries scheduled), summed over the queues."""
        total = [0, 0, 0]
        for queue in self.queues:
            stream = f"{self.args.prefix}:{queue}"
            try:
                pending = self.redis.xpending(stream, GROUP)["pending"]
            except redis.ResponseError as error:  # NOGROUP: the daemon has not created it
                return f"{queue}: no group ({error})", None, None
            total[0] += self.redis.xlen(stream)
            total[1] += pending
            total[2] += self.redis.zcard(f"{stream}:retry")
        return tuple(total)

    def wait_drained(self, checks, what):
        """Waits until every queue's stream, pending list and retries are empty."""
        started = time.monotonic()
        deadline = started + self.args.timeout
        quiet = 0
        while True:
            state = self.backlog()
            quiet = quiet + 1 if state == (0, 0, 0) else 0
            if quiet >= 2:  # twice in a row, 200 ms apart
                elapsed = time.monotonic() - started
                checks.check(True, f"{what}: the queue drains")
                return elapsed
            if time.monotonic() > deadline:
                checks.check(False, f"{what}: the queue drains within {self.args.timeout}s",
                             f"XLEN {state[0]}, XPENDING {state[1]}, ZCARD retry {state[2]}")
                return None
            time.sleep(0.2)

    def dead_letters(self):
        """(queue, entry_id) -> list of dead-letter fields (bytes values, str keys), and all of them."""
        by_entry, everything, start = collections.defaultdict(list), [], "-"
        while True:
            batch = self.redis.xrange(self.dead, start, "+", count=500)
            for dead_id, fields in batch:
                fields = {k.decode(): v for k, v in fields.items()}
                fields["_dead_id"] = dead_id.decode()
                everything.append(fields)
                by_entry[(fields.get("queue", b"").decode(), fields.get("entry_id", b"").decode())].append(fields)
            if len(batch) < 500:
                return by_entry, everything
            start = "(" + batch[-1][0].decode()

    def sql(self, query):
        """Rows of `query` (a SELECT), as lists of strings ('' for NULL)."""
        done = subprocess.run(
            [self.args.psql, self.args.database_url, "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "-c", f"COPY ({query}) TO STDOUT (FORMAT csv)"],
            capture_output=True, env={**os.environ, "PGCLIENTENCODING": "UTF8"}, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.decode(errors='replace').strip()}")
        return list(csv.reader(io.StringIO(done.stdout.decode("utf-8"), newline="")))

    def processed(self):
        """job_id -> [(queue, job_type)] of the whole ledger."""
        out = collections.defaultdict(list)
        for job_id, queue, job_type in self.sql("SELECT job_id, queue, job_type FROM relais.processed_jobs"):
            out[job_id].append((queue, job_type))
        return out

    def stock(self):
        """shop -> sku -> (on_hand, reserved, available, observed_at epoch or None)."""
        out = collections.defaultdict(dict)
        rows = self.sql("SELECT shop_id, sku, on_hand, reserved, available, extract(epoch FROM observed_at) "
                        "FROM relais.stock_available")
        for shop, sku, on_hand, reserved, available, observed in rows:
            out[shop][sku] = (int(on_hand), int(reserved), int(available), Decimal(observed) if observed else None)
        return out

    def orders(self):
        """order_id -> (shop_id, status, placed_at epoch, pickup_deadline epoch or None)."""
        rows = self.sql("SELECT order_id, shop_id, status, extract(epoch FROM placed_at), "
                        "extract(epoch FROM pickup_deadline) FROM relais.order_status")
        return {o: (shop, status, Decimal(placed), Decimal(deadline) if deadline else None)
                for o, shop, status, placed, deadline in rows}

    def slots(self):
        """order_id -> (slot_start epoch or None, slot_end epoch or None), from relais.order_status."""
        rows = self.sql("SELECT order_id, extract(epoch FROM slot_start), extract(epoch FROM slot_end) "
                        "FROM relais.order_status")
        return {o: (Decimal(start) if start else None, Decimal(end) if end else None) for o, start, end in rows}

    def reminders(self):
        """order_id -> [(kind, due_at epoch, status)] of the booking reminders (evening, soon), in the
        order they were planned; relais.reminders is the durable schedule (a table, not part of the
        stable read model: the tests read it to see what is planned)."""
        out = collections.defaultdict(list)
        for order, kind, due, status in self.sql(
                "SELECT order_id, kind, extract(epoch FROM due_at), status FROM relais.reminders"
                " WHERE kind IN ('evening', 'soon') ORDER BY id"):
            out[order].append((kind, Decimal(due), status))
        return out

    def history(self):
        """order_id -> {job_id: (type, applied)}; relais.order_events is the orders' history
        (a table, not part of the stable read model: the tests read it to see ignored events)."""
        out = collections.defaultdict(dict)
        for order, job, job_type, applied in self.sql("SELECT order_id, job_id, type, applied FROM relais.order_events"):
            out[order][job] = (job_type, applied == "t")
        return out

    def appointments(self):
        """appointment_id -> (status, starts_at epoch, ends_at epoch, cancelled_by or ''), from relais.appointments."""
        rows = self.sql("SELECT appointment_id, status, extract(epoch FROM starts_at), extract(epoch FROM ends_at), "
                        "cancelled_by FROM relais.appointments")
        return {a: (status, Decimal(start), Decimal(end), by) for a, status, start, end, by in rows}

    def appointment_history(self):
        """appointment_id -> {job_id: (type, applied)}; relais.appointment_events is the appointments'
        history (a table, not the stable read model), and appointment_id -> the statuses of its
        reminders (relais.reminders, subject appointment)."""
        history, reminders = collections.defaultdict(dict), collections.defaultdict(list)
        for appointment, job, job_type, applied in self.sql(
                "SELECT appointment_id, job_id, type, applied FROM relais.appointment_events"):
            history[appointment][job] = (job_type, applied == "t")
        for appointment, status in self.sql(
                "SELECT order_id, status FROM relais.reminders WHERE subject = 'appointment' ORDER BY id"):
            reminders[appointment].append(status)
        return history, reminders

    def notifications(self):
        """order_id -> sorted [(recipient, channel, template)], and every status seen.

        Only orders' messages (subject order): an appointment's are checked with it. Pickup
        reminders (templates pickup-*) are left out: the generated order.ready events
        carry random times, so whether a ready order's not-collected reminder is already due
        depends on the clock; the booking reminders are checked where they are planned
        (relais.reminders), and the sending of reminders has its own tests (ReminderRulesTests,
        ReminderTests, PickupsEndToEndTests)."""
        out, statuses = collections.defaultdict(list), collections.Counter()
        for order, recipient, channel, template, status in self.sql(
                "SELECT order_id, recipient, channel, template, status FROM relais.notification_log"
                " WHERE template NOT LIKE 'pickup-%' AND subject = 'order'"):
            out[order].append((recipient, channel, template))
            statuses[status] += 1
        return {k: sorted(v) for k, v in out.items()}, statuses


# Examples -----------------------------------------------------------------------


def run_example(name, command, shop, args, types=("stock.levels", "stock.adjust")):
    env = {**os.environ, "RELAIS_REDIS_URL": args.redis_url, "RELAIS_PREFIX": args.prefix, "NODE_PATH": NODE_PATH}
    try:
        done = subprocess.run(command + [shop], cwd=c.ROOT, env=env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    lines = [line.split(" ") for line in done.stdout.splitlines()]
    if done.returncode != 0 or [l[0] for l in lines] != list(types) or any(len(l) != 3 for l in lines):
        return None, f"exit {done.returncode}, stdout {done.stdout.strip()!r}, stderr {done.stderr.strip()[-300:]!r}"
    if len(set(types)) != len(types):  # the same type twice: keep them in order
        return [tuple(line) for line in lines], None
    return {t: (job_id, entry) for t, job_id, entry in lines}, None


def check_examples(live, checks, token):
    """Runs every example twice for a shop of its own; returns (shops, job ids)."""
    shops = {name: f"contract-{name}-{token}" for name, _ in EXAMPLES}
    runs = {name: [] for name, _ in EXAMPLES}
    order_runs = {name: [] for name, _ in EXAMPLES}
    after_first = {}
    for round_ in (1, 2):
        for name, command in EXAMPLES:
            printed, error = run_example(name, command, shops[name], live.args)
            if checks.check(printed is not None, f"example {name} (run {round_}): exits 0 and prints both jobs", error):
                runs[name].append(printed)
            printed, error = run_example(name, ORDER_EXAMPLES[name], shops[name], live.args, ORDER_EXAMPLE_TYPES)
            if checks.check(printed is not None, f"orders example {name} (run {round_}): exits 0 and prints its "
                            "six jobs (placed, confirmed, ready, collected; placed, cancelled)", error):
                order_runs[name].append(printed)
        if live.wait_drained(checks, f"examples run {round_}") is None:
            return set(shops.values()), set(), set()
        stock, processed, (dead, _) = live.stock(), live.processed(), live.dead_letters()
        check_order_examples(live, checks, shops, order_runs, round_, stock, processed, dead)
        for name, _ in EXAMPLES:
            if len(runs[name]) != round_:
                checks.check(False, f"example {name} (run {round_}): effect in relais.stock_available",
                             "not checked: the example failed")
                continue
            shop = shops[name]
            got = {sku: row[0] for sku, row in stock.get(shop, {}).items()}
            collected = {sku: EXAMPLE_LEVELS[sku] - EXAMPLE_COLLECTED.get(sku, 0) for sku in EXAMPLE_LEVELS}
            if round_ == 1:
                after_first[name] = got.get("baguette")
                want = {**collected, "baguette": collected["baguette"] - 3}
                what = f"baguette {want['baguette']} (40, a sale of 3, an order of 2 collected), croissant 54"
            else:  # the levels job and the orders again (same ids: no effect) and a second sale
                baguette = (after_first[name] - 3) if isinstance(after_first[name], int) else collected["baguette"] - 6
                want = {**collected, "baguette": baguette}
                what = f"baguette {baguette} (3 fewer than after run 1), croissant 54"
            problems = []
            if got != want:
                problems.append(f"on_hand {got}, expected {want}")
                if round_ == 1 and got.get("baguette") == 40 - EXAMPLE_COLLECTED["baguette"] and all(
                        processed.get(job_id) for job_id, _ in runs[name][0].values()):
                    problems.append("both jobs took effect: the stock.adjust was applied before the stock.levels "
                                    "and overwritten by it (the daemon's consumers raced; docs/producers.md "
                                    "'Ordering' allows it, its 'Examples' section says 37)")
            for printed in runs[name]:
                for job_type, (job_id, entry) in printed.items():
                    if processed.get(job_id) != [("stock", job_type)]:
                        problems.append(f"{job_type} {job_id}: ledger has {processed.get(job_id)}")
                    if entry in dead:
                        fields = dead[entry][0]
                        problems.append(f"{job_type} {job_id} dead-lettered: {excerpt(fields.get('code', b''))} "
                                        f"{excerpt(fields.get('reason', b''))}")
            reserved = {sku: row[1:3] for sku, row in stock.get(shop, {}).items() if row[1] != 0 or row[2] != row[0]}
            if reserved:
                problems.append(f"reserved/available {reserved}: expected reserved 0 and available = on_hand "
                                "(one order collected, the other cancelled)")
            checks.check(not problems, f"example {name} (run {round_}) for shop {shop}: {what}, "
                         "pain-au-chocolat 30, reserved 0, its stock jobs in relais.processed_jobs", "; ".join(problems))
    job_ids = {job_id for name in runs for printed in runs[name] for job_id, _ in printed.values()}
    job_ids |= {job_id for name in order_runs for printed in order_runs[name] for _, job_id, _ in printed}
    orders = {f"{shop}-CMD-{n}" for shop in shops.values() for n in (1042, 1043)}
    return set(shops.values()), job_ids, orders


def check_order_examples(live, checks, shops, order_runs, round_, stock, processed, dead):
    """The orders examples' effect: one order collected, one cancelled, their events in the
    history and the ledger, the messages of the events that applied, nothing dead-lettered."""
    orders, history, (messages, _) = live.orders(), live.history(), live.notifications()
    for name, _ in EXAMPLES:
        if len(order_runs[name]) != round_:
            checks.check(False, f"orders example {name} (run {round_}): effect", "not checked: the example failed")
            continue
        shop = shops[name]
        problems = []
        for number, status in ((1042, "collected"), (1043, "cancelled")):
            order = f"{shop}-CMD-{number}"
            row = orders.get(order)
            if row is None or row[:2] != (shop, status):
                problems.append(f"{order}: order_status {row[:2] if row else 'absent'}, expected ({shop!r}, {status!r})")
            events = history.get(order, {})
            want = []
            for printed in order_runs[name]:
                for job_type, job_id, entry in printed:
                    if not job_id.endswith(":" + order):
                        continue
                    if processed.get(job_id) != [("orders", job_type)]:
                        problems.append(f"{job_type} {job_id}: ledger has {processed.get(job_id)}")
                    if ("orders", entry) in dead:
                        fields = dead[("orders", entry)][0]
                        problems.append(f"{job_type} {job_id} dead-lettered: {excerpt(fields.get('code', b''))} "
                                        f"{excerpt(fields.get('reason', b''))}")
                    if job_id not in events:
                        problems.append(f"{job_type} {job_id} not in the order's history")
            # Out of order processing may skip a step (a late confirmed is ignored); the
            # messages are those of the events that applied.
            for job_id, (job_type, applied) in events.items():
                if applied:
                    want += expected_messages(job_type, {"by": "customer"})
            if len(events) != 4 - 2 * (number == 1043):
                problems.append(f"{order}: history has {len(events)} events {sorted(events)}")
            applied = {t for t, a in events.values() if a}
            if not {"order.placed", "order.collected" if number == 1042 else "order.cancelled"} <= applied:
                problems.append(f"{order}: applied events {sorted(applied)}")
            if messages.get(order, []) != sorted(want):
                problems.append(f"{order}: notification_log {messages.get(order)}, expected {sorted(want)}")
        checks.check(not problems, f"orders example {name} (run {round_}) for shop {shop}: CMD-1042 collected, "
                     "CMD-1043 cancelled, events in the history and the ledger, messages on channel log",
                     "; ".join(problems))


def check_pickup_examples(live, checks, token):
    """The pickups examples: for an open order of their own (placed here from
    examples/payloads/order.placed.json, for a shop of its own so that the stock examples' shops
    keep the stock docs/producers.md gives), each books a slot and moves it; run twice (the
    second run's jobs are duplicates). Afterwards relais.order_status shows the moved slot, and
    relais.reminders the moved slot's reminders pending, the first slot's cancelled if they
    were ever planned. Returns (shops, job ids, orders)."""
    placed = json.loads((c.PAYLOADS / "order.placed.json").read_text(encoding="utf-8"))
    orders = {name: f"contract-{name}-{token}-CMD-1044" for name in PICKUP_EXAMPLES}
    shops = {name: f"contract-{name}-{token}-pickups" for name in PICKUP_EXAMPLES}
    jobs = []
    for name in PICKUP_EXAMPLES:
        data = json.loads(json.dumps(placed["data"]))
        data["order_id"], data["shop"]["id"] = orders[name], shops[name]
        data.pop("pickup_deadline")  # the payload's is long past: a ready order would expire
        jobs.append({b"job": json.dumps({"id": f"order-placed:{orders[name]}", "type": "order.placed",
                                         "data": data}).encode()})
    live.enqueue(jobs, "orders")
    if live.wait_drained(checks, "the pickups examples' orders") is None:
        return set(shops.values()), set(), set(orders.values())
    job_ids = {f"order-placed:{o}" for o in orders.values()}
    for round_ in (1, 2):
        runs, today = {}, datetime.now(timezone.utc).date()
        for name, command in PICKUP_EXAMPLES.items():
            printed, error = run_example(name, command, orders[name], live.args, ("pickup.booked", "pickup.booked"))
            if checks.check(printed is not None, f"pickups example {name} (run {round_}): exits 0 and prints its "
                            "two bookings", error):
                runs[name] = printed
                job_ids |= {job_id for _, job_id, _ in printed}
        days = sorted({today, datetime.now(timezone.utc).date()})
        if live.wait_drained(checks, f"pickups examples run {round_}") is None:
            break
        processed, history, slots, reminders = live.processed(), live.history(), live.slots(), live.reminders()
        dead, _ = live.dead_letters()
        now = datetime.now(timezone.utc)
        for name in PICKUP_EXAMPLES:
            if name not in runs:
                continue
            order, problems = orders[name], []
            for _, job_id, entry in runs[name]:
                if processed.get(job_id) != [("pickups", "pickup.booked")]:
                    problems.append(f"{job_id}: ledger has {processed.get(job_id)}")
                if history.get(order, {}).get(job_id) != ("pickup.booked", True):
                    problems.append(f"{job_id}: history has {history.get(order, {}).get(job_id)}")
                if ("pickups", entry) in dead:
                    fields = dead[("pickups", entry)][0]
                    problems.append(f"{job_id} dead-lettered: {excerpt(fields.get('code', b''))} "
                                    f"{excerpt(fields.get('reason', b''))}")
            # The slots of the example's comments: booked the day after tomorrow 16:00-16:30 UTC,
            # moved to three days ahead 09:00-09:30 UTC (of the day it ran).
            options = []
            for day in days:
                first = epoch(f"{day + timedelta(days=2)}T16:00:00Z")
                moved = (epoch(f"{day + timedelta(days=3)}T09:00:00Z"), epoch(f"{day + timedelta(days=3)}T09:30:00Z"))
                options.append((first, moved))
            got = slots.get(order, (None, None))
            match = [o for o in options if all(close_epoch(g, w) for g, w in zip(got, o[1]))]
            if not match:
                problems.append(f"slot_start/slot_end {got}, expected the moved slot {[o[1] for o in options]}")
            else:
                first, moved = match[0]
                rows = reminders.get(order, [])
                pending = [(kind, due) for kind, due, status in rows if status == "pending"]
                want = booking_reminders(moved[0], now)
                if [k for k, _ in pending] != [k for k, _ in want] or not all(
                        close_epoch(g[1], w[1]) for g, w in zip(pending, want)):
                    problems.append(f"pending reminders {pending}, expected the moved slot's {want} "
                                    "(evening before at 18:00 and one hour before, Europe/Paris)")
                others = [(kind, due, status) for kind, due, status in rows if status != "pending"]
                first_reminders = [(kind, due, "cancelled") for kind, due in booking_reminders(first, now)]
                # Sent together, the two bookings are applied in one batch and the first one's
                # reminders are never written; applied one after the other they are cancelled.
                if others and (len(others) != len(first_reminders) or not all(
                        g[0] == w[0] and g[2] == w[2] and close_epoch(g[1], w[1]) for g, w in zip(others, first_reminders))):
                    problems.append(f"other reminders {others}: expected none, or the first slot's cancelled "
                                    f"{first_reminders}")
            checks.check(not problems, f"pickups example {name} (run {round_}) for order {order}: the moved slot in "
                         "relais.order_status, its reminders pending in relais.reminders, the first slot's none "
                         "or cancelled, both bookings in the ledger and the history", "; ".join(problems))
    return set(shops.values()), job_ids, set(orders.values())


# Generated cases ----------------------------------------------------------------


def load_cases(args, token, checks):
    outdir = Path(args.workdir) / "cases"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(c.ROOT / "Tests/contract/generate_cases.py"), str(outdir), "-n", str(args.count),
         "--seed", str(args.seed), "--shop-prefix", f"contract-{token}"],
        capture_output=True, text=True)
    checks.check(done.returncode == 0, "generate_cases.py: every generated job agrees with the schemas",
                 (done.stderr or done.stdout).strip()[-1000:])
    cases = []
    for job_type in c.JOB_TYPES:
        path = outdir / f"{job_type}.jsonl"
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            case = json.loads(line)
            case["name"] = f"{job_type} #{number}"
            case["fields"] = {b"job": case["job"].encode("utf-8")}
            cases.append(case)
    info(f"generated {len(cases)} cases (seed {args.seed}, n {args.count}) in {time.monotonic() - started:.1f}s")
    for rule, fields, code in RAW_CASES:
        cases.append({"name": rule, "rule": rule, "type": None, "valid": False, "field": None, "code": code,
                      "schema_valid": False, "id": None, "fields": fields, "job": None})
    return cases


def expected_job_type(case):
    """The job_type a dead letter must carry, None if it must not, ... if either is right."""
    if case["code"] == "too_large" or case["job"] is None:
        return None
    job = json.loads(case["job"])
    value = job.get("type")
    if isinstance(value, str) and 1 <= len(value) <= 100:
        return value
    return ...  # could not be read as a job type: absent, or the value if the daemon keeps it


def names_field(reason, field):
    """Whether `reason` starts with `field:` or names `field` as a whole path."""
    if reason.startswith(field + ":"):
        return True
    return re.search(r"(?<![\w.\]])" + re.escape(field) + r"(?![\w\[.])", reason) is not None


def effect_problems(case, stock):
    """What is wrong with a valid job's effect: (stock problems, observed_at problems)."""
    job = json.loads(case["job"])
    data = job["data"]
    rows = stock.get(data["shop_id"], {})
    problems, times = [], []
    if case["type"] == "stock.levels":
        want = {level["sku"]: level["on_hand"] for level in data["levels"]}
        if set(rows) != set(want):
            missing, extra = set(want) - set(rows), set(rows) - set(want)
            problems.append(f"SKUs of shop {data['shop_id']!r}: {len(missing)} missing {sorted(missing)[:3]}, "
                            f"{len(extra)} extra {sorted(extra)[:3]}")
        wrong = [(sku, want[sku], rows[sku]) for sku in want if sku in rows and rows[sku][:3] != (want[sku], 0, want[sku])]
        if wrong:
            sku, value, row = wrong[0]
            problems.append(f"{len(wrong)} SKUs wrong, e.g. {sku!r}: expected on_hand {value}, reserved 0, "
                            f"available {value}; got on_hand {row[0]}, reserved {row[1]}, available {row[2]}")
        observed = epoch(data["observed_at"])
        late = [(sku, rows[sku][3]) for sku in want if sku in rows
                and (rows[sku][3] is None or abs(rows[sku][3] - observed) >= Decimal("0.000001"))]
        if late:
            times.append(f"observed_at {data['observed_at']} is {observed} s since the epoch; "
                         f"stock_available has {late[0][1]} ({len(late)} of {len(want)} SKUs)")
    else:
        want = {data["sku"]: data["delta"]}
        got = {sku: row[0] for sku, row in rows.items()}
        if got != want:
            problems.append(f"on_hand of shop {data['shop_id']!r}: expected {want}, got {got}")
        elif rows[data["sku"]][1:3] != (0, data["delta"]):
            problems.append(f"reserved/available of {data['sku']!r}: got {rows[data['sku']][1:3]}")
    return problems, times


def dead_letter_problems(case, entry, fields, queue="stock"):
    problems = []
    text = {k: v.decode("utf-8", "replace") for k, v in fields.items() if isinstance(v, bytes) and k != "job"}
    code, reason, field = text.get("code"), text.get("reason", ""), case["field"]
    if code != case["code"]:
        problems.append(f"code {code!r}, expected {case['code']!r}")
    if not reason:
        problems.append("empty reason")
    elif field is not None and not names_field(reason, field):
        problems.append(f"reason does not name {field}")
    if text.get("queue") != queue:
        problems.append(f"queue {text.get('queue')!r}, expected {queue!r}")
    if b"job" in case["fields"] and fields.get("job") != case["fields"][b"job"]:
        problems.append(f"job is not the payload byte for byte (got {excerpt(fields.get('job', b'<absent>'), 60)})")
    if text.get("job_id") != case["id"]:
        problems.append(f"job_id {text.get('job_id')!r}, expected {case['id']!r}")
    job_type = expected_job_type(case)
    if job_type is not ... and text.get("job_type") != job_type:
        problems.append(f"job_type {text.get('job_type')!r}, expected {job_type!r}")
    if not re.fullmatch(r"[1-9][0-9]*", text.get("attempts", "")):
        problems.append(f"attempts {text.get('attempts')!r}")
    if not RFC3339.match(text.get("failed_at", "")):
        problems.append(f"failed_at {text.get('failed_at')!r}")
    if problems:
        problems.insert(0, f"dead letter {fields['_dead_id']}: {code} {excerpt(reason, 200)!r}")
    return problems


QUIET_START, QUIET_END = dtime(20, 0), dtime(8, 0)  # RELAIS_QUIET_HOURS, not set by scripts/contract-tests
EVENING = dtime(18, 0)
PARIS = ZoneInfo("Europe/Paris")


def instant(epoch_seconds):
    """A UTC datetime of an exact epoch (Decimal seconds, microseconds kept)."""
    whole = int(epoch_seconds // 1)
    return datetime.fromtimestamp(whole, timezone.utc) + timedelta(microseconds=int((epoch_seconds - whole) * 1_000_000))


def seconds(when):
    """The exact epoch of a datetime, as Decimal seconds."""
    delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def outside_quiet_hours(due, zone, latest):
    """The reminder rule of docs/producers.md: a reminder due in quiet hours (20:00-08:00 shop
    time) goes out at their end, and is dropped when that is at or after `latest`."""
    local = due.astimezone(zone)
    if local.time() >= QUIET_START or local.time() < QUIET_END:
        day = local.date() + timedelta(days=1 if local.time() >= QUIET_START else 0)
        due = datetime.combine(day, QUIET_END, tzinfo=zone).astimezone(timezone.utc)
    return None if due >= latest else due


def booking_reminders(start_epoch, now):
    """The (kind, due epoch) a booking of a slot starting at `start_epoch` plans for a shop in
    Europe/Paris at `now`: the evening before at 18:00 when the slot is more than 24 h away,
    and one hour before it, each moved out of quiet hours or dropped (docs/producers.md).
    Worked out here with Python's zoneinfo, independently of the daemon's Foundation calendar."""
    start = instant(start_epoch)
    out = []
    if start - now > timedelta(hours=24):
        day = start.astimezone(PARIS).date() - timedelta(days=1)
        due = datetime.combine(day, EVENING, tzinfo=PARIS).astimezone(timezone.utc)
        if due > now and (due := outside_quiet_hours(due, PARIS, start)) is not None:
            out.append(("evening", seconds(due)))
    soon = start - timedelta(hours=1)
    if soon > now and (soon := outside_quiet_hours(soon, PARIS, start)) is not None:
        out.append(("soon", seconds(soon)))
    return out


def reminder_problems(bookings, final_open, rows, zone_name, now):
    """What is wrong with an order's booking reminders (`rows`: (kind, due, status) in planning
    order) after `bookings`, the applied pickup jobs in the order they took effect: (type, slot
    start epoch or None). Each booking plans its reminders and cancels the pending ones of the
    booking before; a cancellation cancels them; an order that ended cancels them all. In a
    shop of Europe/Paris the due times are checked to the microsecond; in another zone (where
    Python's and the daemon's time zone data may differ centuries ahead) the evening one must
    lie 4 to 32 hours before the slot and the hour-before one, if any, in the last hour."""
    exact = zone_name == "Europe/Paris"
    problems, at = [], 0
    for number, (job_type, start) in enumerate(bookings):
        if job_type != "pickup.booked":
            continue
        last = number == len(bookings) - 1 and final_open
        status = "pending" if last else "cancelled"
        want = booking_reminders(start, now) if exact else [("evening", None), ("soon", None)]
        for kind, due in want:
            row = rows[at] if at < len(rows) else None
            if row is None or row[0] != kind:
                if not exact and kind == "soon":
                    continue  # dropped in quiet hours: possible in a zone this check cannot work out
                problems.append(f"booking {number + 1} (slot {instant(start).isoformat()}): no {kind} reminder "
                                f"at row {at} ({row})")
                return problems
            at += 1
            if row[2] != status:
                problems.append(f"booking {number + 1}: {kind} reminder {row[2]}, expected {status}")
            if exact and abs(row[1] - due) >= Decimal("0.000001"):
                problems.append(f"booking {number + 1}: {kind} reminder due {instant(row[1]).isoformat()}, expected "
                                f"{instant(due).isoformat()} (slot {instant(start).isoformat()}, Europe/Paris)")
            if not exact and kind == "evening" and not timedelta(hours=4) < instant(start) - instant(row[1]) < timedelta(hours=32):
                problems.append(f"booking {number + 1}: evening reminder due {instant(row[1]).isoformat()} for the slot "
                                f"{instant(start).isoformat()} ({zone_name})")
            if not exact and kind == "soon" and not timedelta(0) < instant(start) - instant(row[1]) <= timedelta(hours=1):
                problems.append(f"booking {number + 1}: hour-before reminder due {instant(row[1]).isoformat()} for the "
                                f"slot {instant(start).isoformat()} ({zone_name})")
    if at != len(rows):
        problems.append(f"{len(rows) - at} more booking reminders than its bookings plan: {rows[at:at + 3]}")
    return problems


def pickup_problems(case, pickups, slots, reminders, final_status, now):
    """What is wrong with the slot and the booking reminders of the order of valid order.placed
    `case`, after the valid pickup jobs about it (`pickups`, each with its phase and whether it
    applies)."""
    data = json.loads(case["job"])["data"]
    order = data["order_id"]
    applied = sorted((e for e in pickups if e["applied"]), key=lambda e: e["phase"])
    bookings, slot = [], (None, None)
    for e in applied:
        if e["type"] == "pickup.booked":
            slot = (epoch(e["data"]["slot_start"]), epoch(e["data"]["slot_end"]))
        else:
            slot = (None, None)
        bookings.append((e["type"], slot[0]))
    problems = []
    got = slots.get(order)
    if got is None:
        return [f"order {order!r} not in relais.order_status"]
    if not all(close_epoch(g, w) for g, w in zip(got, slot)):
        problems.append(f"slot_start/slot_end {got}, expected {slot} after {[e['type'] for e in applied]}")
    zone = data["shop"].get("timezone") or "Europe/Paris"
    final_open = final_status in ("placed", "confirmed", "ready") and bool(bookings) and bookings[-1][0] == "pickup.booked"
    problems += reminder_problems(bookings, final_open, reminders.get(order, []), zone, now)
    return problems


STATUS_OF = {"order.placed": "placed", "order.confirmed": "confirmed", "order.ready": "ready",
             "order.collected": "collected", "order.cancelled": "cancelled"}


APPOINTMENT_STATUS_OF = {"appointment.cancelled": "cancelled", "appointment.attended": "attended",
                         "appointment.missed": "missed"}


def appointment_problems(case, events, appointments, history, reminders):
    """What differs between a valid appointment.booked's appointment and what its valid events
    (generate_cases.py, appointment_plan) say: status, times, canceller, history, reminders."""
    data = json.loads(case["job"])["data"]
    appointment, problems = data["appointment_id"], []
    applied = [e for e in events if e["applied"]]
    final = next((e for e in applied if e["type"] in APPOINTMENT_STATUS_OF), None)
    moves = [e for e in applied if e["type"] == "appointment.rescheduled"]
    times = (moves[-1]["data"] if moves else data)
    want = (APPOINTMENT_STATUS_OF[final["type"]] if final else "booked", times["start"], times["end"],
            final["data"]["by"] if final and final["type"] == "appointment.cancelled" else "")
    got = appointments.get(appointment)
    if got is None:
        return [f"no row in relais.appointments for {appointment!r}"]
    if got[0] != want[0] or not close_enough(got[1], want[1]) or not close_enough(got[2], want[2]) or got[3] != want[3]:
        problems.append(f"relais.appointments has {got}, expected status {want[0]}, {want[1]}–{want[2]}, by {want[3]!r}")
    want_history = {json.loads(case["job"])["id"]: ("appointment.booked", True)}
    want_history.update({e["id"]: (e["type"], e["applied"]) for e in events})
    if history.get(appointment, {}) != want_history:
        problems.append(f"history {history.get(appointment, {})}, expected {want_history}")
    if final and "pending" in reminders.get(appointment, []):
        problems.append(f"reminders {reminders[appointment]}: none pending once the appointment is {want[0]}")
    return problems


def close_epoch(got, want):
    """Whether two epochs (None: absent) are the same to the microsecond."""
    if got is None or want is None:
        return got is None and want is None
    return abs(got - want) < Decimal("0.000001")


def final_status(events):
    """The status an order ends with after its valid events (each with its phase and whether it applies)."""
    applied = [e for e in events if e["applied"]]
    final = max(applied, key=lambda e: e["phase"]) if applied else None
    status = STATUS_OF[final["type"]] if final else "placed"
    if status == "confirmed" and any(e["type"] == "order.ready" for e in applied):
        status = "ready"
    return status


def close_enough(got, text):
    """Whether an epoch from PostgreSQL is the RFC 3339 `text` (None: absent) to the microsecond."""
    if text is None or got is None:
        return text is None and got is None
    return abs(got - epoch(text)) < Decimal("0.000001")


def check_retries(live, checks, token):
    """An order event or a pickup booking before its order.placed is retried and applied once the
    order exists; one for an order that never comes is dead-lettered after the last attempt.
    Returns (job ids that took effect, order ids, entry ids of the expected dead letters)."""
    def job(job_type, job_id, data):
        return {b"job": json.dumps({"id": job_id, "type": job_type, "data": data}).encode()}
    early, orphan = f"contract-{token}-early", f"contract-{token}-orphan"
    placed = {"order_id": early, "shop": {"id": f"contract-{token}-early-shop", "name": "Early"},
              "customer": {"name": "Early"}, "items": [{"sku": "a", "name": "A", "quantity": 2, "unit_price_cents": 5}],
              "total_cents": 10, "currency": "EUR", "placed_at": "2026-11-01T09:00:00Z"}
    at = "2026-11-01T09:10:00Z"
    first = live.enqueue([job("order.confirmed", f"order-confirmed:{early}", {"order_id": early, "at": at}),
                          job("order.confirmed", f"order-confirmed:{orphan}", {"order_id": orphan, "at": at})], "orders")
    slot = {"slot_start": "2031-03-14T10:00:00+01:00", "slot_end": "2031-03-14T10:30:00+01:00"}
    live.enqueue([job("pickup.booked", f"pickup-booked:{early}:1", {"order_id": early, **slot}),
                  job("pickup.booked", f"pickup-booked:{orphan}:1", {"order_id": orphan, **slot})], "pickups")
    time.sleep(0.3)  # the confirmed events and bookings are tried (and retried) before their order exists
    live.enqueue([job("order.placed", f"order-placed:{early}", placed)], "orders")
    started = time.monotonic()
    if live.wait_drained(checks, "retried events") is None:
        return set(), {early}, set()
    info(f"events before their order: drained in {time.monotonic() - started:.1f}s "
         f"(RELAIS_MAX_ATTEMPTS {live.args.max_attempts})")
    processed, orders, history = live.processed(), live.orders(), live.history()
    dead, all_dead = live.dead_letters()
    problems = []
    if orders.get(early, (None, None))[1] != "confirmed":
        problems.append(f"order_status {orders.get(early)}, expected confirmed")
    for job_type in ("order.placed", "order.confirmed"):
        job_id = f"{job_type.replace('.', '-')}:{early}"
        if processed.get(job_id) != [("orders", job_type)]:
            problems.append(f"{job_id}: ledger has {processed.get(job_id)}")
        if history.get(early, {}).get(job_id) != (job_type, True):
            problems.append(f"{job_id}: history has {history.get(early, {}).get(job_id)}")
    if any(f.get("job_id") == f"order-confirmed:{early}".encode() for f in all_dead):
        problems.append("the early order.confirmed was dead-lettered")
    checks.check(not problems, "an order.confirmed sent before its order.placed is retried, then applied",
                 "; ".join(problems))
    # The booking: retried, then applied: the slot in order_status, the reminders pending.
    problems = []
    booked = f"pickup-booked:{early}:1"
    if processed.get(booked) != [("pickups", "pickup.booked")]:
        problems.append(f"{booked}: ledger has {processed.get(booked)}")
    if history.get(early, {}).get(booked) != ("pickup.booked", True):
        problems.append(f"{booked}: history has {history.get(early, {}).get(booked)}")
    want = (epoch(slot["slot_start"]), epoch(slot["slot_end"]))
    got = live.slots().get(early, (None, None))
    if not all(close_epoch(g, w) for g, w in zip(got, want)):
        problems.append(f"slot_start/slot_end {got}, expected {want}")
    reminders = live.reminders().get(early, [])
    expected = [(kind, due, "pending") for kind, due in booking_reminders(want[0], datetime.now(timezone.utc))]
    if [r[0] for r in reminders] != [e[0] for e in expected] or any(
            r[2] != e[2] or not close_epoch(r[1], e[1]) for r, e in zip(reminders, expected)):
        problems.append(f"booking reminders {reminders}, expected {expected} (evening before 18:00 and 09:00, "
                        "Europe/Paris)")
    if any(f.get("job_id") == booked.encode() for f in all_dead):
        problems.append("the early pickup.booked was dead-lettered")
    checks.check(not problems, "a pickup.booked sent before its order.placed is retried, then applied: its slot in "
                 "relais.order_status, its two reminders pending in relais.reminders", "; ".join(problems))
    # A retried job goes back on the stream as a new entry: find its dead letter by job id.
    all_letters = []
    for job_type, queue, job_id in (("order.confirmed", "orders", f"order-confirmed:{orphan}"),
                                    ("pickup.booked", "pickups", f"pickup-booked:{orphan}:1")):
        letters = [f for f in all_dead if f.get("job_id") == job_id.encode()]
        all_letters += letters
        problems = []
        if len(letters) != 1:
            problems.append(f"{len(letters)} dead letters")
        else:
            text = {k: v.decode("utf-8", "replace") for k, v in letters[0].items() if isinstance(v, bytes)}
            if text.get("code") != "attempts_exhausted":
                problems.append(f"code {text.get('code')!r}")
            if text.get("attempts") != str(live.args.max_attempts):
                problems.append(f"attempts {text.get('attempts')!r}, expected {live.args.max_attempts}")
            if "not placed" not in text.get("reason", ""):
                problems.append(f"reason {text.get('reason')!r} does not say the order is not placed")
            if text.get("job_id") != job_id or text.get("job_type") != job_type or text.get("queue") != queue:
                problems.append(f"job_id {text.get('job_id')!r} job_type {text.get('job_type')!r} "
                                f"queue {text.get('queue')!r}")
        if processed.get(job_id) or orphan in orders or orphan in history or orphan in live.reminders():
            problems.append("it left a trace in the ledger, order_status, the history or the reminders")
        checks.check(not problems, f"an {job_type} for an order never placed is dead-lettered after "
                     f"{live.args.max_attempts} attempts (attempts_exhausted), with no effect", "; ".join(problems))
    return ({f"order-placed:{early}", f"order-confirmed:{early}", booked}, {early},
            {(f.get("queue", b"").decode(), f.get("entry_id", b"").decode()) for f in all_letters})


def order_problems(case, events, live_state, pickups=()):
    """What is wrong with the effect of valid order.placed `case` and the valid events about it
    (order events, and the pickup jobs in `pickups`, whose own effects pickup_problems checks)."""
    orders, stock, history, messages = live_state
    data = json.loads(case["job"])["data"]
    order, shop = data["order_id"], data["shop"]["id"]
    problems = []
    applied = [e for e in events if e["applied"]]
    status = final_status(events)
    deadline = data.get("pickup_deadline")
    for e in applied:
        if e["type"] == "order.ready" and e["data"].get("pickup_deadline") is not None:
            deadline = e["data"]["pickup_deadline"]
    row = orders.get(order)
    if row is None:
        return [f"order {order!r} not in relais.order_status"]
    if row[0] != shop or row[1] != status:
        problems.append(f"order_status shop {row[0]!r} status {row[1]!r}, expected {shop!r} {status!r}")
    if not close_enough(row[2], data["placed_at"]):
        problems.append(f"placed_at {row[2]}, expected {data['placed_at']}")
    if not close_enough(row[3], deadline):
        problems.append(f"pickup_deadline {row[3]}, expected {deadline}")
    # History: the placed and every event about it, applied or not as planned.
    got = history.get(order, {})
    want = {json.loads(case["job"])["id"]: ("order.placed", True)}
    want.update({e["id"]: (e["type"], e["applied"]) for e in events})
    want.update({e["id"]: (e["type"], e["applied"]) for e in pickups})
    if got != want:
        wrong = {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
        problems.append(f"history differs (job: (got, expected)): {dict(list(wrong.items())[:3])}")
    # Stock: reserved while open, consumed when collected, released when cancelled.
    quantities = collections.Counter()
    for item in data["items"]:
        quantities[item["sku"]] += int(item["quantity"])
    rows = stock.get(shop, {})
    want_rows = {sku: {"collected": (-q, 0, -q), "cancelled": (0, 0, 0)}.get(status, (0, q, -q))
                 for sku, q in quantities.items()}
    got_rows = {sku: row[:3] for sku, row in rows.items()}
    if got_rows != want_rows:
        wrong = {k: (got_rows.get(k), want_rows.get(k)) for k in set(got_rows) | set(want_rows) if got_rows.get(k) != want_rows.get(k)}
        problems.append(f"stock of shop {shop!r} ({status}) (on_hand, reserved, available) got vs expected: "
                        f"{dict(list(wrong.items())[:3])}")
    want_messages = sorted(expected_messages("order.placed", data)
                           + [m for e in applied for m in expected_messages(e["type"], e["data"])])
    if messages.get(order, []) != want_messages:
        problems.append(f"notification_log {messages.get(order, [])}, expected {want_messages}")
    return problems


def check_generated(live, checks, token, example_shops, example_ids, example_orders):
    retried_ids, retried_orders, retried_dead = check_retries(live, checks, token)
    cases = load_cases(live.args, token, checks)
    placed = [case for case in cases if case["type"] == "order.placed" and case["valid"]]
    events, pickups = collections.defaultdict(list), collections.defaultdict(list)
    booked = [case for case in cases if case["type"] == "appointment.booked" and case["valid"]]
    appointment_events = collections.defaultdict(list)
    for case in cases:
        if case["valid"] and case["type"] in c.APPOINTMENT_TYPES[1:]:
            job = json.loads(case["job"])
            appointment_events[case["order"]].append({"id": job["id"], "type": case["type"], "data": job["data"],
                                                      "phase": case["phase"], "applied": case["applied"]})
        elif case["valid"] and (case["type"] in c.ORDER_TYPES[1:] or case["type"] in c.PICKUP_TYPES):
            job = json.loads(case["job"])
            (pickups if case["type"] in c.PICKUP_TYPES else events)[case["order"]].append(
                {"id": job["id"], "type": case["type"], "data": job["data"], "phase": case["phase"],
                 "applied": case["applied"]})
    # Phase 1: the stock jobs, every invalid job and the valid orders; phases 2-5: the valid
    # events about those orders (generate_cases.py, event_plan), each phase once the one
    # before has drained, so no event waits for its order and the final states are known.
    started = time.monotonic()
    megabytes = 0
    for phase in range(1, 6):
        batch = [case for case in cases if case.get("phase", 1) == phase]
        for queue in c.QUEUES:
            mine = [case for case in batch if c.queue_of(case["type"]) == queue]
            try:
                entry_ids = live.enqueue((case["fields"] for case in mine), queue)
            except redis.RedisError as error:
                checks.check(False, f"generated: enqueue phase {phase} ({queue})", str(error))
                return
            for case, entry in zip(mine, entry_ids):
                case["entry"] = (queue, entry)
            megabytes += sum(len(v) for case in mine for v in case["fields"].values()) / (1 << 20)
        drained = live.wait_drained(checks, f"generated cases, phase {phase} ({len(batch)} jobs)")
        if drained is None:
            return
    info(f"enqueued {len(cases)} entries ({megabytes:.1f} MiB) in 5 phases, all drained in "
         f"{time.monotonic() - started:.1f}s")

    processed, stock = live.processed(), live.stock()
    dead, all_dead = live.dead_letters()
    orders, history, (messages, statuses) = live.orders(), live.history(), live.notifications()
    slots, reminders, now = live.slots(), live.reminders(), datetime.now(timezone.utc)
    appointments, (appointment_history, appointment_reminders) = live.appointments(), live.appointment_history()
    counts = collections.Counter()
    for case in cases:
        queue = c.queue_of(case["type"])
        name = f"{case['name']} [{case['rule']}] entry {case['entry'][1]} id {case['id']}"
        in_dead = dead.get(case["entry"], [])
        ledger = processed.get(case["id"], []) if case["id"] is not None else []
        counts["processed"] += bool(ledger)
        counts["dead"] += bool(in_dead)
        if case["valid"]:
            problems = []
            if ledger != [(queue, case["type"])]:
                problems.append(f"ledger has {ledger or 'nothing'}, expected [({queue!r}, {case['type']!r})]")
            for fields in in_dead:
                problems.append(f"dead-lettered {fields.get('code', b'').decode()} "
                                f"{excerpt(fields.get('reason', b''), 300)!r}")
            times = []
            if not problems and queue == "stock":
                problems, times = effect_problems(case, stock)
            elif not problems and case["type"] == "order.placed":
                index = placed.index(case)
                problems = order_problems(case, events[index], (orders, stock, history, messages), pickups[index])
                problems += pickup_problems(case, pickups[index], slots, reminders, final_status(events[index]), now)
            elif not problems and case["type"] == "appointment.booked":
                problems = appointment_problems(case, appointment_events[booked.index(case)], appointments,
                                                appointment_history, appointment_reminders)
            elif not problems and case["type"] in c.APPOINTMENT_TYPES:
                job = json.loads(case["job"])
                got = appointment_history.get(job["data"]["appointment_id"], {}).get(job["id"])
                if got != (case["type"], case["applied"]):
                    problems.append(f"history of its appointment has {got}, expected ({case['type']!r}, {case['applied']})")
            elif not problems:
                job = json.loads(case["job"])
                got = history.get(job["data"]["order_id"], {}).get(job["id"])
                if got != (case["type"], case["applied"]):
                    problems.append(f"history of its order has {got}, expected ({case['type']!r}, {case['applied']})")
            what = ("processed; its appointment's status, times, history and reminders as its events say"
                    if case["type"] == "appointment.booked" else "processed with its effect" if case["type"] != "order.placed" else
                    "processed; its order's status, history, stock, messages, slot and booking reminders as its "
                    "events and pickup jobs say")
            checks.check(not problems, f"valid {name}: {what}",
                         "; ".join(problems) + f"; payload {excerpt(case['job'])}", rule=case["rule"])
            if case["type"] == "stock.levels" and not problems:
                checks.check(not times, f"valid {name}: observed_at kept to the microsecond", "; ".join(times),
                             rule="valid (observed_at)")
        else:
            expect = f"{case['code']}" + (f" naming {case['field']}" if case["field"] else "")
            problems = []
            if ledger:
                problems.append(f"processed (ledger {ledger}) instead of dead-lettered")
            if not in_dead:
                problems.append("not in the dead letters" + ("" if ledger else ": dropped silently"))
            elif len(in_dead) > 1:
                problems.append(f"dead-lettered {len(in_dead)} times")
            else:
                problems += dead_letter_problems(case, case["entry"][1], in_dead[0], queue)
            checks.check(not problems, f"invalid {name}: dead-lettered as {expect}",
                         "; ".join(problems) + f"; payload {excerpt(case['fields'].get(b'job', b''))}", rule=case["rule"])

    ours = {case["entry"] for case in cases} | retried_dead
    checks.check(counts["processed"] + counts["dead"] == len(cases),
                 "generated: processed + dead-lettered == cases (none dropped, none both)",
                 f"{counts['processed']} processed + {counts['dead']} dead-lettered != {len(cases)} cases")
    stray_dead = [f for f in all_dead
                  if (f.get("queue", b"").decode(), f.get("entry_id", b"").decode()) not in ours]
    checks.check(not stray_dead, "no other dead letters (the examples' jobs are not dead-lettered)",
                 "; ".join(f"{excerpt(f.get('entry_id', b''))} {excerpt(f.get('code', b''))} "
                           f"{excerpt(f.get('reason', b''), 100)}" for f in stray_dead[:5]))
    expected_ids = {case["id"] for case in cases if case["valid"]} | example_ids | retried_ids
    stray_ids = set(processed) - expected_ids
    checks.check(not stray_ids, "no other job in relais.processed_jobs",
                 f"{len(stray_ids)} unexpected, e.g. {sorted(stray_ids)[:5]}")
    valid_jobs = [json.loads(case["job"]) for case in cases if case["valid"]]
    expected_shops = ({job["data"]["shop_id"] for job in valid_jobs if job["type"].startswith("stock.")}
                      | {job["data"]["shop"]["id"] for job in valid_jobs if job["type"] == "order.placed"}
                      | example_shops | {f"contract-{token}-early-shop"})
    stray_shops = set(stock) - expected_shops
    checks.check(not stray_shops, "no stock rows for other shops (invalid jobs had no effect)",
                 f"{len(stray_shops)} unexpected shops, e.g. {sorted(stray_shops)[:5]}")
    expected_orders = {json.loads(case["job"])["data"]["order_id"] for case in placed} | example_orders | retried_orders
    stray_orders = set(orders) - expected_orders
    checks.check(not stray_orders, "no other orders in relais.order_status (invalid jobs had no effect)",
                 f"{len(stray_orders)} unexpected, e.g. {sorted(stray_orders)[:5]}")
    expected_appointments = {json.loads(case["job"])["data"]["appointment_id"] for case in booked}
    stray_appointments = set(appointments) - expected_appointments
    checks.check(not stray_appointments, "no other appointments in relais.appointments (invalid jobs had no effect)",
                 f"{len(stray_appointments)} unexpected, e.g. {sorted(stray_appointments)[:5]}")
    stray_messages = set(messages) - expected_orders
    checks.check(not stray_messages, "no messages about other orders in relais.notification_log",
                 f"{len(stray_messages)} unexpected, e.g. {sorted(stray_messages)[:5]}")
    checks.check(set(statuses) <= {"pending", "sent", "failed"}, "notification_log statuses are pending, sent or failed",
                 f"{dict(statuses)}")
    stray_reminders = set(reminders) - expected_orders
    checks.check(not stray_reminders, "no booking reminders of other orders in relais.reminders (invalid pickup jobs "
                 "had no effect)", f"{len(stray_reminders)} unexpected, e.g. {sorted(stray_reminders)[:5]}")
    reminder_statuses = collections.Counter(row[2] for rows in reminders.values() for row in rows)
    checks.check(reminder_statuses["pending"] > 0 and reminder_statuses["cancelled"] > 0
                 and set(reminder_statuses) <= {"pending", "cancelled"},
                 "booking reminders are pending or cancelled (both seen), none sent or skipped: every slot is "
                 "years ahead", f"{dict(reminder_statuses)}")
    valid = sum(case["valid"] for case in cases)
    info(f"{valid} valid cases, {len(cases) - valid} invalid ({len(RAW_CASES)} raw): "
         f"{counts['processed']} processed, {counts['dead']} dead-lettered; "
         f"{sum(len(v) for v in messages.values())} messages ({dict(statuses)}); "
         f"booking reminders {dict(reminder_statuses)}")
    if checks.failed_rules:
        info("failed cases by rule: " + ", ".join(f"{rule} {n}" for rule, n in sorted(checks.failed_rules.items())))


# Main ---------------------------------------------------------------------------


def check_alive(args, checks):
    try:
        os.kill(args.pid, 0)
        alive = True
    except OSError:
        alive = False
    checks.check(alive, f"the daemon (pid {args.pid}) is still running")
    try:
        with urllib.request.urlopen(f"http://{args.http}/readyz", timeout=10) as reply:
            status, body = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except OSError as error:
        status, body = None, str(error).encode()
    checks.check(status == 200, "GET /readyz answers 200", f"{status} {excerpt(body, 300)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--http", required=True, help="host:port of the daemon's HTTP endpoint")
    parser.add_argument("--pid", type=int, required=True, help="the daemon's process id")
    parser.add_argument("--workdir", required=True, help="a directory for the generated cases")
    parser.add_argument("--psql", default="psql")
    parser.add_argument("-n", "--count", type=int, default=200, help="valid and invalid cases per job type")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the queue to drain")
    parser.add_argument("--max-attempts", type=int, required=True,
                        help="the daemon's RELAIS_MAX_ATTEMPTS (an event for an unknown order is dead-lettered after it)")
    args = parser.parse_args()

    checks = Checks()
    live = Live(args)
    token = secrets.token_hex(4)
    try:
        example_shops, example_ids, example_orders = check_examples(live, checks, token)
        pickup_shops, pickup_ids, pickup_orders = check_pickup_examples(live, checks, token)
        example_shops, example_ids, example_orders = (example_shops | pickup_shops, example_ids | pickup_ids,
                                                      example_orders | pickup_orders)
        check_generated(live, checks, token, example_shops, example_ids, example_orders)
    except Exception as error:  # report, count, and still check the daemon
        checks.check(False, "live checks ran to the end", f"{type(error).__name__}: {error}")
    check_alive(args, checks)
    print(f"{checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
