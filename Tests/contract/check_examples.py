#!/usr/bin/env python3
"""Runs every producer example against a throwaway Redis and checks what it enqueued.

For each example (shell, python, php, node; enqueue-stock, enqueue-orders, enqueue-pickups
and enqueue-deliveries) it starts with its own RELAIS_PREFIX and shop id (or order id), then
checks that it exited 0, printed `<type> <job id> <entry id>` for each job, and that the
entries in <prefix>:stock, <prefix>:orders, <prefix>:pickups or <prefix>:deliveries are exactly
those jobs, valid against the schemas and equal to examples/payloads/*.json but for the shop,
the ids and the times; the pickups example's slots are where its comments say, the move after
the booking; the deliveries example's steps happen at the time of the run, the relay point's
hold ends ten days later at 18:00 UTC. The examples of the other families `relais validate
--families` lists (examples/<language>/enqueue_<queue>.*, such as enqueue_appointments and
enqueue_quotes), when their queue is served: each job valid against its schema, with the
printed type and id.

Usage: python3 Tests/contract/check_examples.py
Needs: redis-server on PATH, python packages jsonschema, rfc3339-validator and redis; an
example whose runtime is missing (php with php-redis, node with node-redis) is skipped.
Ends with a line `N passed, M failed, K skipped`; exits 1 if anything failed.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import _contract as c

EXAMPLES = c.ROOT / "examples"
NODE_PATH = os.pathsep.join(p for p in (os.environ.get("NODE_PATH"), "/usr/share/nodejs") if p)
VOLATILE = {"id", "enqueued_at", "at", "placed_at", "pickup_deadline", "slot_start", "slot_end", "hold_until"}  # differ from run to run
ORDER_FILES = ["order.placed", "order.confirmed", "order.ready", "order.collected", "order.placed.2", "order.cancelled"]
PICKUP_FILES = ["pickup.booked", "pickup.booked.2"]
PICKUP_COMMANDS = {
    "shell": ["sh", str(EXAMPLES / "shell/enqueue-pickups.sh")],
    "python": [sys.executable, str(EXAMPLES / "python/enqueue_pickups.py")],
    "php": ["php", str(EXAMPLES / "php/enqueue_pickups.php")],
    "node": ["node", str(EXAMPLES / "node/enqueue_pickups.js")],
}
DELIVERY_FILES = ["delivery.shipped", "delivery.at_relay"]
DELIVERY_COMMANDS = {
    "shell": ["sh", str(EXAMPLES / "shell/enqueue-deliveries.sh")],
    "python": [sys.executable, str(EXAMPLES / "python/enqueue_deliveries.py")],
    "php": ["php", str(EXAMPLES / "php/enqueue_deliveries.php")],
    "node": ["node", str(EXAMPLES / "node/enqueue_deliveries.js")],
}
ORDER_COMMANDS = {
    "shell": ["sh", str(EXAMPLES / "shell/enqueue-orders.sh")],
    "python": [sys.executable, str(EXAMPLES / "python/enqueue_orders.py")],
    "php": ["php", str(EXAMPLES / "php/enqueue_orders.php")],
    "node": ["node", str(EXAMPLES / "node/enqueue_orders.js")],
}

passed = failed = skipped = 0


def report(ok, name, detail=""):
    global passed, failed
    passed += ok
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok or not detail else ': ' + detail}")


def skip(name, why):
    global skipped
    skipped += 1
    print(f"skip {name}: {why}")


def runs(*command, env=None):
    try:
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


def examples():
    """(name, command, environment additions, why it cannot run or None)."""
    node_env = {"NODE_PATH": NODE_PATH}
    return [
        ("shell", ["sh", str(EXAMPLES / "shell/enqueue-stock.sh")], {},
         None if shutil.which("redis-cli") else "redis-cli not found (Debian package redis-tools)"),
        ("python", [sys.executable, str(EXAMPLES / "python/enqueue_stock.py")], {},
         None if runs(sys.executable, "-c", "import redis") else "python package redis not installed"),
        ("php", ["php", str(EXAMPLES / "php/enqueue_stock.php")], {},
         None if runs("php", "-r", "exit(class_exists('Redis') ? 0 : 1);") else "php with php-redis not found"),
        ("node", ["node", str(EXAMPLES / "node/enqueue_stock.js")], node_env,
         None if runs("node", "-e", "require('redis')", env={**os.environ, **node_env}) else "node with node-redis not found"),
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir):
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(port=port, decode_responses=True)
    for _ in range(100):
        try:
            client.ping()
            return server, client, port
        except redis.ConnectionError:
            time.sleep(0.05)
    server.terminate()
    raise RuntimeError("redis-server did not start")


def stable(job, shop):
    """The job without its volatile fields, with the example shop in place of `shop`."""
    out = {k: v for k, v in job.items() if k not in VOLATILE}
    out["data"] = {k: v for k, v in job["data"].items() if k not in VOLATILE}
    if out["data"].get("shop_id") == shop:
        out["data"]["shop_id"] = "boulangerie-martin"
    if isinstance(out["data"].get("shop"), dict) and out["data"]["shop"].get("id") == shop:
        out["data"]["shop"] = {**out["data"]["shop"], "id": "boulangerie-martin"}
    if isinstance(out["data"].get("order_id"), str) and out["data"]["order_id"].startswith(shop + "-"):
        out["data"]["order_id"] = "boulangerie-martin-" + out["data"]["order_id"][len(shop) + 1:]
    return out


def run_example(label, command, argument, prefix, extra_env, client, port, queue, want_types, listed):
    """Runs an example with `argument` and RELAIS_PREFIX `prefix`, and checks that it exits 0,
    prints `<type> <job id> <entry id>` for `want_types` (`listed` says them in words) and that
    the printed entry ids are those of <prefix>:<queue>. Returns the printed lines, split at
    spaces, and the stream's entries."""
    env = {**os.environ, **extra_env, "RELAIS_REDIS_URL": f"redis://127.0.0.1:{port}/0", "RELAIS_PREFIX": prefix}
    done = subprocess.run(command + [argument], env=env, capture_output=True, text=True, timeout=60)
    report(done.returncode == 0, f"{label}: exits 0", done.stderr.strip()[-300:])
    printed = [line.split(" ") for line in done.stdout.splitlines()]
    report([p[0] for p in printed] == want_types and all(len(p) == 3 for p in printed),
           f"{label}: prints <type> <job id> <entry id> for {listed}", repr(done.stdout))
    entries = client.xrange(f"{prefix}:{queue}")
    report([e for e, _ in entries] == [p[2] for p in printed if len(p) == 3],
           f"{label}: the printed entry ids are the entries of {prefix}:{queue}", repr(entries)[:300])
    return printed, entries


def job_of(label, entry, fields):
    """The job of a stream entry, or None (reported) when the entry has other fields than `job`."""
    if list(fields) != ["job"]:
        report(False, f"{label}: entry {entry} has one field, job", repr(fields))
        return None
    return json.loads(fields["job"])


def check_orders(name, command, extra_env, client, port, schemas, payloads):
    """The orders example: six jobs on <prefix>:orders, equal to examples/payloads/order.*.json
    but for the shop, the ids and the times."""
    shop = f"check-{name}-{os.getpid()}"
    want_types = [payloads[f]["type"] for f in ORDER_FILES]
    printed, entries = run_example(f"{name} orders", command, shop, f"check-{name}", extra_env, client, port,
                                   "orders", want_types, ", ".join(want_types))
    for (entry, fields), line, stem in zip(entries, printed, ORDER_FILES):
        job = job_of(f"{name} orders", entry, fields)
        if job is None:
            continue
        kind = job.get("type")
        errors = [e.message for e in c.validator(schemas, c.schema_for(kind)).iter_errors(job)] if kind in c.ORDER_TYPES else ["unknown type"]
        report(not errors, f"{name} orders: {stem} is valid against its schema", "; ".join(errors))
        report(len(line) == 3 and job.get("id") == line[1], f"{name} orders: {stem} has the printed job id")
        order = job.get("data", {}).get("order_id", "")
        report(job.get("id") == f"{kind.replace('.', '-')}:{order}" and order.startswith(f"{shop}-CMD-"),
               f"{name} orders: {stem} id is <type with ->:<order id>, the order id <shop>-CMD-<n>", job.get("id"))
        report(stable(job, shop) == stable(payloads[stem], "boulangerie-martin"),
               f"{name} orders: {stem} matches examples/payloads/{stem}.json", json.dumps(stable(job, shop)))


def check_pickups(name, command, extra_env, client, port, schemas, payloads):
    """The pickups example: two pickup.booked on <prefix>:pickups for the order given, the
    booking (the day after tomorrow, 16:00-16:30 UTC) and its move (three days ahead,
    09:00-09:30 UTC), with ids pickup-booked:<order>:1 and :2, equal to
    examples/payloads/pickup.booked.json and pickup.booked.2.json but for the ids and the times."""
    order = f"check-{name}-{os.getpid()}-CMD-1042"
    today = datetime.now(timezone.utc).date()  # read before and after: a run across midnight is told apart
    printed, entries = run_example(f"{name} pickups", command, order, f"check-{name}", extra_env, client, port,
                                   "pickups", ["pickup.booked", "pickup.booked"], "pickup.booked twice")
    days = {today, datetime.now(timezone.utc).date()}
    for number, ((entry, fields), line, stem) in enumerate(zip(entries, printed, PICKUP_FILES), 1):
        job = job_of(f"{name} pickups", entry, fields)
        if job is None:
            continue
        errors = [e.message for e in c.validator(schemas, "pickup.booked.schema.json").iter_errors(job)]
        report(not errors, f"{name} pickups: {stem} is valid against its schema", "; ".join(errors))
        report(len(line) == 3 and job.get("id") == line[1] == f"pickup-booked:{order}:{number}",
               f"{name} pickups: {stem} has the printed job id pickup-booked:<order>:{number}", job.get("id"))
        data = job.get("data", {})
        report(data.get("order_id") == order, f"{name} pickups: {stem} is for the order given as argument")
        mine = {**job, "data": {**data, "order_id": "boulangerie-martin-CMD-1042"}}
        report(stable(mine, "") == stable(payloads[stem], ""), f"{name} pickups: {stem} matches "
               f"examples/payloads/{stem}.json", json.dumps(stable(mine, "")))
        days_ahead, hour = (2, 16) if number == 1 else (3, 9)
        want = [(f"{(d + timedelta(days=days_ahead)).isoformat()}T{hour:02d}:00:00Z",
                 f"{(d + timedelta(days=days_ahead)).isoformat()}T{hour:02d}:30:00Z") for d in sorted(days)]
        report((data.get("slot_start"), data.get("slot_end")) in want,
               f"{name} pickups: {stem} books {days_ahead} days ahead, {hour:02d}:00-{hour:02d}:30 UTC",
               f"{data.get('slot_start')} - {data.get('slot_end')}, expected one of {want}")


def check_deliveries(name, command, extra_env, client, port, schemas, payloads):
    """The deliveries example: on <prefix>:deliveries for the order given, a delivery.shipped
    then a delivery.at_relay, ids delivery-shipped:<order> and delivery-at-relay:<order>, equal to
    examples/payloads/delivery.shipped.json and delivery.at_relay.json but for the ids and the
    times; both `at` the time of the run, hold_until ten days later at 18:00 UTC."""
    order = f"check-{name}-{os.getpid()}-CMD-1042"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    printed, entries = run_example(f"{name} deliveries", command, order, f"check-{name}", extra_env, client, port,
                                   "deliveries", DELIVERY_FILES, "delivery.shipped then delivery.at_relay")
    after = datetime.now(timezone.utc)
    for (entry, fields), line, stem in zip(entries, printed, DELIVERY_FILES):
        job = job_of(f"{name} deliveries", entry, fields)
        if job is None:
            continue
        errors = [e.message for e in c.validator(schemas, c.schema_for(stem)).iter_errors(job)]
        report(not errors, f"{name} deliveries: {stem} is valid against its schema", "; ".join(errors))
        want_id = f"{stem.replace('.', '-').replace('_', '-')}:{order}"
        report(len(line) == 3 and job.get("id") == line[1] == want_id,
               f"{name} deliveries: {stem} has the printed job id {want_id}", job.get("id"))
        data = job.get("data", {})
        report(data.get("order_id") == order, f"{name} deliveries: {stem} is for the order given as argument")
        mine = {**job, "data": {**data, "order_id": "boulangerie-martin-CMD-1042"}}
        report(stable(mine, "") == stable(payloads[stem], ""), f"{name} deliveries: {stem} matches "
               f"examples/payloads/{stem}.json", json.dumps(stable(mine, ""), ensure_ascii=False))
        try:
            at = datetime.fromisoformat(data.get("at", "").replace("Z", "+00:00"))
        except ValueError:
            at = None
        report(at is not None and before <= at <= after, f"{name} deliveries: {stem} happened at the time of the run",
               f"at {data.get('at')}, run from {before.isoformat()} to {after.isoformat()}")
        if stem == "delivery.at_relay":
            days = sorted({(before + timedelta(days=10)).date(), (after + timedelta(days=10)).date()})
            want = [f"{d.isoformat()}T18:00:00Z" for d in days]
            report(data.get("hold_until") in want, f"{name} deliveries: the relay point keeps it ten days, until 18:00 UTC",
                   f"hold_until {data.get('hold_until')}, expected one of {want}")


# The queues whose examples have checks of their own above; another family's examples, when
# they exist (examples/<language>/enqueue_<queue>.*), get the generic check below.
KNOWN_QUEUES = ("stock", "orders", "pickups", "deliveries")


def family_commands(queue):
    """The example commands of `queue`, by language, for those whose file exists."""
    files = {"shell": ("sh", EXAMPLES / f"shell/enqueue-{queue}.sh"),
             "python": (sys.executable, EXAMPLES / f"python/enqueue_{queue}.py"),
             "php": ("php", EXAMPLES / f"php/enqueue_{queue}.php"),
             "node": ("node", EXAMPLES / f"node/enqueue_{queue}.js")}
    return {name: [runner, str(path)] for name, (runner, path) in files.items() if path.exists()}


def check_family(name, queue, command, extra_env, client, port, schemas):
    """The example of a family without checks of its own, for a shop of its own: it exits 0,
    prints `<type> <job id> <entry id>` for each job it enqueues on <prefix>:<queue>, one or
    more jobs of the queue's types, each valid against its type's schema, with the printed id."""
    shop = f"check-{name}-{os.getpid()}"
    prefix = f"check-{name}-{queue}"
    env = {**os.environ, **extra_env, "RELAIS_REDIS_URL": f"redis://127.0.0.1:{port}/0", "RELAIS_PREFIX": prefix}
    done = subprocess.run(command + [shop], env=env, capture_output=True, text=True, timeout=60)
    report(done.returncode == 0, f"{name} {queue}: exits 0", done.stderr.strip()[-300:])
    printed = [line.split(" ") for line in done.stdout.splitlines()]
    report(printed and all(len(p) == 3 and p[0] in c.FAMILIES[queue] for p in printed),
           f"{name} {queue}: prints <type> <job id> <entry id> for jobs of the queue's types", repr(done.stdout))
    entries = client.xrange(f"{prefix}:{queue}")
    report([e for e, _ in entries] == [p[2] for p in printed if len(p) == 3],
           f"{name} {queue}: the printed entry ids are the entries of {prefix}:{queue}", repr(entries)[:300])
    for (entry, fields), line in zip(entries, printed):
        job = job_of(f"{name} {queue}", entry, fields)
        if job is None:
            continue
        kind = job.get("type")
        errors = ([e.message for e in c.validator(schemas, c.schema_for(kind)).iter_errors(job)]
                  if kind in c.FAMILIES[queue] else [f"not a type of {queue}"])
        report(not errors, f"{name} {queue}: {kind} is valid against its schema", "; ".join(errors))
        report(len(line) == 3 and job.get("id") == line[1] and line[0] == kind,
               f"{name} {queue}: {kind} has the printed type and job id", f"{job.get('id')} vs {line}")


def check(name, command, extra_env, client, port, schemas, payloads):
    shop = f"check-{name}-{os.getpid()}"
    printed, entries = run_example(name, command, shop, f"check-{name}", extra_env, client, port,
                                   "stock", ["stock.levels", "stock.adjust"], "stock.levels then stock.adjust")
    for (entry, fields), line in zip(entries, printed):
        job = job_of(name, entry, fields)
        if job is None:
            continue
        kind = job.get("type")
        errors = [e.message for e in c.validator(schemas, c.schema_for(kind)).iter_errors(job)] if kind in payloads else ["unknown type"]
        report(not errors, f"{name}: {kind} is valid against its schema", "; ".join(errors))
        report(len(line) == 3 and job.get("id") == line[1], f"{name}: {kind} has the printed job id", f"{job.get('id')} vs {line}")
        report(job.get("data", {}).get("shop_id") == shop, f"{name}: {kind} is for the shop given as argument")
        report(stable(job, shop) == stable(payloads[kind], "boulangerie-martin"),
               f"{name}: {kind} matches examples/payloads/{kind}.json", json.dumps(stable(job, shop)))
    ids = [json.loads(f["job"]).get("id") for _, f in entries]
    if len(ids) == 2:
        report(ids[0] == f"stock-levels:{shop}:{payloads['stock.levels']['data']['observed_at']}",
               f"{name}: the levels id is stock-levels:<shop>:<observed_at>", ids[0])
        report(ids[1].startswith(f"stock-adjust:{shop}:") and len(ids[1]) > len(f"stock-adjust:{shop}:") + 8,
               f"{name}: the adjust id is stock-adjust:<shop>:<unique receipt>", ids[1])


def main():
    schemas = c.load_schemas()
    payloads = c.payloads()
    todo = examples()
    if not shutil.which("redis-server") or not runs(sys.executable, "-c", "import redis"):
        for name, *_ in todo:
            skip(name, "needs redis-server and the python package redis")
        return
    with tempfile.TemporaryDirectory() as workdir:
        server, client, port = start_redis(workdir)
        try:
            for name, command, extra_env, missing in todo:
                if missing:
                    skip(name, missing)
                else:
                    check(name, command, extra_env, client, port, schemas, payloads)
                    check_orders(name, ORDER_COMMANDS[name], extra_env, client, port, schemas, payloads)
                    check_pickups(name, PICKUP_COMMANDS[name], extra_env, client, port, schemas, payloads)
                    check_deliveries(name, DELIVERY_COMMANDS[name], extra_env, client, port, schemas, payloads)
                    for queue in c.QUEUES:
                        if queue not in KNOWN_QUEUES and name in family_commands(queue):
                            check_family(name, queue, family_commands(queue)[name], extra_env, client, port, schemas)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)
