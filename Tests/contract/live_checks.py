#!/usr/bin/env python3
"""Checks a live `relais serve` against the producer contract (docs/producers.md).

1. Examples: every producer example (shell, python, php, node) enqueues for a shop of
   its own; once the queue is drained, relais.stock_available shows baguette 37,
   croissant 60, pain-au-chocolat 30 for that shop and both job ids are in
   relais.processed_jobs. A second run for the same shop applies the levels job once
   more (no effect: same id) and the adjustment again: baguette 34.
2. Generated cases (generate_cases.py, N valid and N invalid jobs per job type), plus a
   few raw entries JSON Schema cannot describe (no job field, not JSON, not UTF-8, not
   an object): all are enqueued, the queue is drained, then
   - every valid job is in relais.processed_jobs (queue stock, its type), is not
     dead-lettered, and its effect is in relais.stock_available: each job has a shop of
     its own, so the shop's rows are exactly the job's levels (on_hand, reserved 0,
     available, observed_at to the microsecond), or for stock.adjust one row whose
     on_hand is the delta;
   - every invalid job is in <prefix>:dead exactly once, with the expected code, a reason
     that names the expected field, the payload byte for byte, queue stock, job_id and
     job_type as documented, and it had no effect;
   - none dropped silently: processed + dead-lettered == number of cases, and no other
     ledger row, dead letter or shop exists.
3. The daemon is still running and GET /readyz answers 200.

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
from decimal import Decimal
from pathlib import Path

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
EXAMPLE_LEVELS = {"baguette": 40, "croissant": 60, "pain-au-chocolat": 30}
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
        self.stream = f"{args.prefix}:stock"
        self.retry = f"{args.prefix}:stock:retry"
        self.dead = f"{args.prefix}:dead"

    def enqueue(self, entries):
        """XADDs each entry (a dict of bytes fields) in pipelines; returns the entry ids."""
        ids, pipe, size = [], self.redis.pipeline(transaction=False), 0
        for fields in entries:
            pipe.xadd(self.stream, fields)
            size += sum(len(v) for v in fields.values())
            if len(pipe) >= 200 or size >= 8 << 20:
                ids += pipe.execute()
                pipe, size = self.redis.pipeline(transaction=False), 0
        ids += pipe.execute()
        return [i.decode() for i in ids]

    def backlog(self):
        """(stream length, pending in the group, retries scheduled)."""
        try:
            pending = self.redis.xpending(self.stream, GROUP)["pending"]
        except redis.ResponseError as error:  # NOGROUP: the daemon has not created it
            pending = f"no group ({error})"
        return self.redis.xlen(self.stream), pending, self.redis.zcard(self.retry)

    def wait_drained(self, checks, what):
        """Waits until the stock stream, its pending list and its retries are empty."""
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
        """entry_id -> list of dead-letter fields (bytes values, str keys), and all of them."""
        by_entry, everything, start = collections.defaultdict(list), [], "-"
        while True:
            batch = self.redis.xrange(self.dead, start, "+", count=500)
            for dead_id, fields in batch:
                fields = {k.decode(): v for k, v in fields.items()}
                fields["_dead_id"] = dead_id.decode()
                everything.append(fields)
                by_entry[fields.get("entry_id", b"").decode()].append(fields)
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


# Examples -----------------------------------------------------------------------


def run_example(name, command, shop, args):
    env = {**os.environ, "RELAIS_REDIS_URL": args.redis_url, "RELAIS_PREFIX": args.prefix, "NODE_PATH": NODE_PATH}
    try:
        done = subprocess.run(command + [shop], cwd=c.ROOT, env=env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    lines = [line.split(" ") for line in done.stdout.splitlines()]
    if done.returncode != 0 or [l[0] for l in lines] != ["stock.levels", "stock.adjust"] or any(len(l) != 3 for l in lines):
        return None, f"exit {done.returncode}, stdout {done.stdout.strip()!r}, stderr {done.stderr.strip()[-300:]!r}"
    return {t: (job_id, entry) for t, job_id, entry in lines}, None


def check_examples(live, checks, token):
    """Runs every example twice for a shop of its own; returns (shops, job ids)."""
    shops = {name: f"contract-{name}-{token}" for name, _ in EXAMPLES}
    runs = {name: [] for name, _ in EXAMPLES}
    after_first = {}
    for round_ in (1, 2):
        for name, command in EXAMPLES:
            printed, error = run_example(name, command, shops[name], live.args)
            if checks.check(printed is not None, f"example {name} (run {round_}): exits 0 and prints both jobs", error):
                runs[name].append(printed)
        if live.wait_drained(checks, f"examples run {round_}") is None:
            return set(shops.values()), set()
        stock, processed, (dead, _) = live.stock(), live.processed(), live.dead_letters()
        for name, _ in EXAMPLES:
            if len(runs[name]) != round_:
                checks.check(False, f"example {name} (run {round_}): effect in relais.stock_available",
                             "not checked: the example failed")
                continue
            shop = shops[name]
            got = {sku: row[0] for sku, row in stock.get(shop, {}).items()}
            if round_ == 1:
                after_first[name] = got.get("baguette")
                want, what = {**EXAMPLE_LEVELS, "baguette": 37}, "baguette 37"
            else:  # the levels job again (same id: no effect) and a second sale
                baguette = (after_first[name] - 3) if isinstance(after_first[name], int) else 34
                want, what = {**EXAMPLE_LEVELS, "baguette": baguette}, f"baguette {baguette} (3 fewer than after run 1)"
            problems = []
            if got != want:
                problems.append(f"on_hand {got}, expected {want}")
                if round_ == 1 and got.get("baguette") == 40 and all(
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
            checks.check(not problems, f"example {name} (run {round_}) for shop {shop}: {what}, croissant 60, "
                         "pain-au-chocolat 30, its jobs in relais.processed_jobs", "; ".join(problems))
    job_ids = {job_id for name in runs for printed in runs[name] for job_id, _ in printed.values()}
    return set(shops.values()), job_ids


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


def dead_letter_problems(case, entry, fields):
    problems = []
    text = {k: v.decode("utf-8", "replace") for k, v in fields.items() if isinstance(v, bytes) and k != "job"}
    code, reason, field = text.get("code"), text.get("reason", ""), case["field"]
    if code != case["code"]:
        problems.append(f"code {code!r}, expected {case['code']!r}")
    if not reason:
        problems.append("empty reason")
    elif field is not None and not names_field(reason, field):
        problems.append(f"reason does not name {field}")
    if text.get("queue") != "stock":
        problems.append(f"queue {text.get('queue')!r}, expected 'stock'")
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


def check_generated(live, checks, token, example_shops, example_ids):
    cases = load_cases(live.args, token, checks)
    started = time.monotonic()
    try:
        entry_ids = live.enqueue(case["fields"] for case in cases)
    except redis.RedisError as error:
        checks.check(False, "generated: enqueue every case", str(error))
        return
    for case, entry in zip(cases, entry_ids):
        case["entry"] = entry
    megabytes = sum(len(v) for case in cases for v in case["fields"].values()) / (1 << 20)
    info(f"enqueued {len(cases)} entries ({megabytes:.1f} MiB) in {time.monotonic() - started:.1f}s")
    drained = live.wait_drained(checks, "generated cases")
    if drained is None:
        return
    info(f"drained in {drained:.1f}s after the last XADD")

    processed, stock = live.processed(), live.stock()
    dead, all_dead = live.dead_letters()
    counts = collections.Counter()
    for case in cases:
        name = f"{case['name']} [{case['rule']}] entry {case['entry']} id {case['id']}"
        in_dead = dead.get(case["entry"], [])
        ledger = processed.get(case["id"], []) if case["id"] is not None else []
        counts["processed"] += bool(ledger)
        counts["dead"] += bool(in_dead)
        if case["valid"]:
            problems = []
            if ledger != [("stock", case["type"])]:
                problems.append(f"ledger has {ledger or 'nothing'}, expected [('stock', {case['type']!r})]")
            for fields in in_dead:
                problems.append(f"dead-lettered {fields.get('code', b'').decode()} "
                                f"{excerpt(fields.get('reason', b''), 300)!r}")
            times = []
            if not problems:
                problems, times = effect_problems(case, stock)
            checks.check(not problems, f"valid {name}: processed with its effect",
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
                problems += dead_letter_problems(case, case["entry"], in_dead[0])
            checks.check(not problems, f"invalid {name}: dead-lettered as {expect}",
                         "; ".join(problems) + f"; payload {excerpt(case['fields'].get(b'job', b''))}", rule=case["rule"])

    ours = {case["entry"] for case in cases}
    checks.check(counts["processed"] + counts["dead"] == len(cases),
                 "generated: processed + dead-lettered == cases (none dropped, none both)",
                 f"{counts['processed']} processed + {counts['dead']} dead-lettered != {len(cases)} cases")
    stray_dead = [f for f in all_dead if f.get("entry_id", b"").decode() not in ours]
    checks.check(not stray_dead, "no other dead letters (the examples' jobs are not dead-lettered)",
                 "; ".join(f"{excerpt(f.get('entry_id', b''))} {excerpt(f.get('code', b''))} "
                           f"{excerpt(f.get('reason', b''), 100)}" for f in stray_dead[:5]))
    expected_ids = {case["id"] for case in cases if case["valid"]} | example_ids
    stray_ids = set(processed) - expected_ids
    checks.check(not stray_ids, "no other job in relais.processed_jobs",
                 f"{len(stray_ids)} unexpected, e.g. {sorted(stray_ids)[:5]}")
    expected_shops = {json.loads(case["job"])["data"]["shop_id"] for case in cases if case["valid"]} | example_shops
    stray_shops = set(stock) - expected_shops
    checks.check(not stray_shops, "no stock rows for other shops (invalid jobs had no effect)",
                 f"{len(stray_shops)} unexpected shops, e.g. {sorted(stray_shops)[:5]}")
    valid = sum(case["valid"] for case in cases)
    info(f"{valid} valid cases, {len(cases) - valid} invalid ({len(RAW_CASES)} raw): "
         f"{counts['processed']} processed, {counts['dead']} dead-lettered")
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
    args = parser.parse_args()

    checks = Checks()
    live = Live(args)
    token = secrets.token_hex(4)
    try:
        example_shops, example_ids = check_examples(live, checks, token)
        check_generated(live, checks, token, example_shops, example_ids)
    except Exception as error:  # report, count, and still check the daemon
        checks.check(False, "live checks ran to the end", f"{type(error).__name__}: {error}")
    check_alive(args, checks)
    print(f"{checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
