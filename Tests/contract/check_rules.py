#!/usr/bin/env python3
"""Compares the schemas with the daemon's own rules, through `relais validate`.

JSON Schema cannot call OrderRules, so the schemas restate it: the time zone enum comes
from `relais validate --time-zones`, and the e-mail, E.164 and URL patterns mimic
EmailAddress.isValid, OrderRules.isE164 and WebAddress.isValid, which work on Swift Characters (grapheme
clusters) and Unicode White_Space. This check feeds the daemon's decoder and the schemas
the same values and requires the same verdict:

- the schema's time zone enum is exactly the daemon's list, and every name is accepted;
- every value of the schema tables in check_schemas.py (GOOD and BAD rows, for the three
  queues) gets the same verdict from the daemon, and a refused job is refused at the field
  changed; the pickup slots that the schema cannot judge (check_schemas.SLOT_ORDER, a
  slot_end not after slot_start) are refused at data.slot_end, and accepted swapped; so are
  the quote validities of check_schemas.VALIDITY_ORDER (a valid_until not after at), at
  data.valid_until;
- every job generate_cases.py writes (--cases N per type, valid and invalid), for every job
  type of every family `relais validate --families` lists (the families without hand-written
  rules drawn from their schemas): the valid ones accepted, the invalid ones refused with
  the code and at the field the case expects;
- probe strings for shop.email, shop.phone, shop.webhook_url, customer.email and
  shop.timezone: every "interesting" code point (ASCII, White_Space, prepend and extending
  scalars, look-alikes) at every position of a few templates, length edges, and random
  strings over those code points.

Usage: python3 Tests/contract/check_rules.py --relais PATH [--random N] [--seed S] [--cases N]
Ends with a line `N passed, M failed`; exits 1 if anything failed.
"""

import argparse
import copy
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import _contract as c
import check_schemas as tables

passed = failed = 0


def report(ok, name, detail=""):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok or not detail else ': ' + detail}")


def daemon_verdicts(relais, queue, jobs):
    """One (ok, code, field) per job, from `relais validate --queue`."""
    lines = "".join(json.dumps(job, ensure_ascii=False, separators=(",", ":")) + "\n" for job in jobs)
    done = subprocess.run([relais, "validate", "--queue", queue], input=lines.encode(), capture_output=True, timeout=300)
    if done.returncode not in (0, 65):
        raise RuntimeError(f"relais validate exited {done.returncode}: {done.stderr.decode()[-300:]}")
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    if len(out) != len(jobs):
        raise RuntimeError(f"relais validate answered {len(out)} lines for {len(jobs)} jobs")
    return [(v["ok"], v.get("code"), v.get("field")) for v in out]


def interesting_code_points(classes, rng):
    """ASCII, every prepend and whitespace scalar, both ends (and their neighbours) of every
    range of the larger classes, and a sample of their insides."""
    points = set(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x7F, 0x85}
    for name in ("prepend", "whitespace_always", "whitespace_after_non_prepend"):
        for a, b in classes[name]:
            points |= set(range(a - 1, b + 2))
    for name in ("extend", "dot_search_blockers"):
        inside = []
        for a, b in classes[name]:
            points |= {a - 1, a, b, b + 1}
            inside += range(a + 1, b)
        points |= set(rng.sample(inside, min(len(inside), 150)))
    points |= {0xFEFF, 0x180E, 0x200B, 0x200C, 0x200D, 0x2060, 0xFE0F, 0xFF20, 0xFF0E, 0xFE6B, 0x2024, 0xFF0F,
               0x1F1EB, 0x1F1F7, 0x1F600, 0xE0001, 0xE0020, 0x10FFFF, 0xFF13, 0x0663, 0x00E9, 0x0130, 0x212A}
    return sorted(p for p in points if 0 < p <= 0x10FFFF and not 0xD800 <= p <= 0xDFFF)


def daemon_text_verdicts(relais, queue, payloads):
    """(ok, code, reason) per raw payload (bytes without a newline), from `relais validate`."""
    done = subprocess.run([relais, "validate", "--queue", queue], input=b"".join(p + b"\n" for p in payloads),
                          capture_output=True, timeout=300)
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    if done.returncode not in (0, 65) or len(out) != len(payloads):
        raise RuntimeError(f"relais validate exited {done.returncode} with {len(out)} lines: {done.stderr.decode()[-300:]}")
    return [(v["ok"], v.get("code"), v.get("reason")) for v in out]


def check_json_text(relais):
    """Raw payloads that json-c alone would read (overlong UTF-8, encoded and escaped lone
    surrogates, raw control characters, U+0000 in a key, a repeated top-level key, deep
    nesting): the daemon refuses each as malformed_json, naming the byte, and so does
    _contract.read_job, the reader docs/producers.md gives producers; both accept the
    well-formed ones."""
    head = b'{"id":"t-1","type":"stock.adjust","data":{"shop_id":"'
    tail = b'","sku":"a","delta":1,"at":"2026-11-28T12:00:00Z"}}'
    def shop(raw):
        return head + raw + tail
    refused = [shop(b"a\xc0\xaf"), shop(b"a\xe0\x80\xaf"), shop(b"a\xed\xa0\x80"), shop(b"a\xf4\x90\x80\x80"),
               shop(b"a\x01"), shop(b"a\x1f"), shop(b"a\t"), shop(b"a\\ud800"), shop(b"a\\udc00x"),
               shop(b"a\\ud800\\u0041"),
               b'{"id":"t-1","id\\u0000":"t-2","type":"stock.adjust","data":{}}',
               b'{"id":"t-1","type":"stock.adjust","data":{"sku\\u0000":1}}',
               b'{"id":"t-1","type":"stock.adjust","id":"t-2","data":{}}',
               b'{"id":"t-1","type":"stock.adjust","data":{"delta":1.}}',
               b'{"id":"t-1","type":"stock.adjust","data":{"delta":NaN}}',
               b'{"id":"t-1","type":"stock.adjust","data":{"delta":-.5}}',
               b'{"id":"t-1","type":"stock.adjust","data":{"delta":00}}',
               b'{"id":"t-1","type":"stock.adjust","data":{"delta":01.5}}',
               b'{"id":"t-1","type":"stock.adjust","x":' + b"[" * 128 + b"]" * 128 + b',"data":{}}']
    # Control characters and noncharacters go in an unknown field: the fields' own rules may refuse them.
    accepted = [shop("é€🥖".encode()), shop(b"a\\ud83e\\udd56"),
                b'{"id":"t-1","note":"a\\u0001\xf4\x8f\xbf\xbf\x7f\xc2\x80","type":"stock.adjust","data":{"shop_id":"s","sku":"a","delta":1,"at":"2026-11-28T12:00:00Z"}}',
                b'{"id":"t-1","type":"stock.adjust","x":' + b"[" * 127 + b"]" * 127 +
                b',"data":{"shop_id":"s","sku":"a","delta":1,"at":"2026-11-28T12:00:00Z","sku":"b"}}',
                b'{"id":"t-1","n":[-0,0.5,-1.25e-3,1E+2,10e05],"type":"stock.adjust","data":{"shop_id":"s","sku":"a",'
                b'"delta":1.0e0,"at":"2026-11-28T12:00:00Z"}}']
    payloads = refused + accepted
    for payload, (ok, code, reason) in zip(payloads, daemon_text_verdicts(relais, "stock", payloads)):
        try:
            c.read_job(payload)
            python_ok = True
        except (ValueError, RecursionError):
            python_ok = False
        expected = payload in accepted
        daemon_right = ok if expected else (code == "malformed_json" and "at byte" in (reason or ""))
        report(daemon_right and python_ok == expected,
               f"JSON text {payload[:60]!r}... {'read' if expected else 'refused'} by the daemon and read_job",
               f"daemon: {ok} {code} {reason}; read_job: {'reads it' if python_ok else 'refuses it'}")


def check_generated(relais, count, seed):
    """Every job generate_cases.py writes, for every job type of every family (those without
    hand-written rules drawn from their schemas), through `relais validate`: the valid ones
    accepted, each invalid one refused with the code and at the field the case expects (which
    generate_cases.py has checked against the schema). A schema that says more or less than
    the daemon shows here, type by type and rule by rule."""
    with tempfile.TemporaryDirectory() as workdir:
        done = subprocess.run([sys.executable, str(c.ROOT / "Tests/contract/generate_cases.py"), workdir, "-n", str(count),
                               "--seed", str(seed)], capture_output=True, text=True, timeout=600)
        report(done.returncode == 0, "generate_cases.py: every generated job agrees with the schemas",
               (done.stderr or done.stdout).strip()[-1500:])
        files = sorted(Path(workdir).glob("*.jsonl"))
        report({f.name for f in files} >= {f"{t}.jsonl" for t in c.JOB_TYPES},
               "generate_cases.py writes cases for every job type of `relais validate --families`",
               f"missing: {sorted({f'{t}.jsonl' for t in c.JOB_TYPES} - {f.name for f in files})}")
        for path in files:
            cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            if not cases:
                continue
            # One line a job: the indented ones written again on one line (same JSON).
            jobs = [json.loads(case["job"]) for case in cases]
            verdicts = daemon_verdicts(relais, c.queue_of(cases[0]["type"]), jobs)
            for number, (case, (ok, code, field)) in enumerate(zip(cases, verdicts), 1):
                name = f"daemon agrees with generated {path.name} #{number} [{case['rule']}]"
                if case["valid"]:
                    report(ok, name + ": accepted", f"refused: {code} at {field}; job {case['job'][:200]}")
                else:
                    want = (case["code"], case["field"])
                    report(not ok and (code, field if case["field"] is not None else None) == want,
                           name + f": refused, {case['code']} at {case['field']}",
                           ("accepted" if ok else f"refused: {code} at {field}") + f"; job {case['job'][:200]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relais", required=True, help="the relais binary")
    parser.add_argument("--random", type=int, default=2000, help="random probe strings per field")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--cases", type=int, default=60, help="generated valid and invalid jobs per type (generate_cases.py -n)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    schemas = c.load_schemas()
    examples = c.payloads()
    placed_schema = schemas["order.placed.schema.json"]

    # Time zones ---------------------------------------------------------------
    done = subprocess.run([args.relais, "validate", "--time-zones"], capture_output=True, text=True, timeout=60)
    daemon_zones = set(done.stdout.split())
    schema_zones = set(placed_schema["$defs"]["timezone"]["enum"])
    report(done.returncode == 0 and daemon_zones, "relais validate --time-zones lists names", done.stderr[-200:])
    report(schema_zones == daemon_zones, "the schema's time zone enum is the daemon's list (scripts/order-schemas)",
           f"only in the schema: {sorted(schema_zones - daemon_zones)[:5]}; "
           f"only in the daemon: {sorted(daemon_zones - schema_zones)[:5]}")

    # The JSON text: what json-c would read but Python and the schemas would not ---
    check_json_text(args.relais)

    # Generated cases of every family, through the daemon ----------------------
    check_generated(args.relais, args.cases, args.seed)

    # The tables of check_schemas.py, through the daemon -----------------------
    rows = ([(t, p, v, True) for t, p, v, _ in tables.GOOD]
            + [(t, p, v, False) for t, p, values in tables.BAD for v in values])
    for queue in c.QUEUES:
        mine = [(t, p, v, good) for t, p, v, good in rows if c.queue_of(t) == queue]
        if not mine:
            continue
        jobs = [tables.mutated(examples[t], p, v) for t, p, v, _ in mine]
        for (job_type, path, value, good), job, (ok, code, field) in zip(mine, jobs, daemon_verdicts(args.relais, queue, jobs)):
            name = f"daemon agrees: {'good' if good else 'bad'} {job_type} {path}={tables.short(value)}"
            if good:
                report(ok, name, f"refused: {code} {field}")
            else:
                # The daemon names the field itself, the schema its parent for a missing one.
                named = field is not None and (field == path or field.startswith(path + ".") or field.startswith(path + "[")
                                               or (path == "type" and code == "unknown_type"))
                report(not ok and (named or path in ("id", "type", "data", "v", "enqueued_at")),
                       name, "accepted" if ok else f"refused at {field} ({code}), not at {path}")

    # The slot order JSON Schema cannot express: the daemon refuses each at data.slot_end,
    # and accepts the same slots the other way round (or the GOOD rows above).
    slots = tables.SLOT_ORDER
    refused = [tables.mutated(tables.mutated(examples["pickup.booked"], "data.slot_start", start), "data.slot_end", end)
               for start, end, _ in slots]
    swapped = [tables.mutated(tables.mutated(examples["pickup.booked"], "data.slot_start", end), "data.slot_end", start)
               for start, end, why in slots if why not in ("an empty slot", "the same instant in another offset",
                                                           "later by 0.8 us, the same microsecond")]
    verdicts = daemon_verdicts(args.relais, "pickups", refused + swapped)
    for (start, end, why), (ok, code, field) in zip(slots, verdicts):
        report(not ok and code == "invalid_field" and field == "data.slot_end",
               f"daemon refuses a slot_end not after slot_start at data.slot_end ({why})",
               "accepted" if ok else f"refused at {field} ({code})")
    for job, (ok, code, field) in zip(swapped, verdicts[len(refused):]):
        report(ok, f"daemon accepts the slot {job['data']['slot_start']} - {job['data']['slot_end']}",
               f"refused at {field} ({code})")

    # The same for a quote's validity: refused at data.valid_until, accepted the other way round.
    validity = tables.VALIDITY_ORDER
    refused = [tables.mutated(tables.mutated(examples["quote.sent"], "data.at", at), "data.valid_until", until)
               for at, until, _ in validity]
    swapped = [tables.mutated(tables.mutated(examples["quote.sent"], "data.at", until), "data.valid_until", at)
               for at, until, why in validity if why not in ("valid until the instant it is sent", "the same instant in another offset")]
    verdicts = daemon_verdicts(args.relais, "quotes", refused + swapped)
    for (at, until, why), (ok, code, field) in zip(validity, verdicts):
        report(not ok and code == "invalid_field" and field == "data.valid_until",
               f"daemon refuses a valid_until not after at at data.valid_until ({why})",
               "accepted" if ok else f"refused at {field} ({code})")
    for job, (ok, code, field) in zip(swapped, verdicts[len(refused):]):
        report(ok, f"daemon accepts a quote sent at {job['data']['at']} valid until {job['data']['valid_until']}",
               f"refused at {field} ({code})")

    # Probes ---------------------------------------------------------------------
    from jsonschema import Draft202012Validator
    registry = c.registry(schemas)

    def field_validator(name):
        return Draft202012Validator({"$ref": f"https://relais.invalid/schemas/v1/order.placed.schema.json#/$defs/{name}"}, registry=registry)

    classes = subprocess.run([sys.executable, str(c.ROOT / "scripts/order-schemas"), "--classes"],
                             capture_output=True, text=True, timeout=600)
    gen_classes = json.loads(classes.stdout) if classes.returncode == 0 else None
    if gen_classes is None:
        report(False, "compute the grapheme classes (scripts/order-schemas --classes, needs swiftc)",
               classes.stderr[-300:])
        return
    points = interesting_code_points(gen_classes, rng)
    chars = [chr(p) for p in points]
    specials = list("@./?#: -+0123456789aAhHtTpPsS") + ["\u00a0", "\u0600", "\u0301", "\u200d", "\u3000", "\n"]

    def around(templates):
        out = []
        for template in templates:
            for ch in chars:
                out.append(template.replace("X", ch))
        return out

    def random_strings(prefixes, n):
        out = []
        for _ in range(n):
            pool = specials if rng.random() < 0.6 else chars
            s = rng.choice(prefixes) + "".join(rng.choice(pool) for _ in range(rng.randint(0, 10)))
            out.append(s)
        return out

    probes = {
        ("shop", "email"): around(["Xa@b.c", "aX@b.c", "a@Xb.c", "a@bX.c", "a@b.Xc", "a@b.cX", "a@b.X", "a.X@b.c",
                                   "a@X.c", "aX@b@c.d", "a@Xb@c.d", "a@b.cX x"])
                            + random_strings(["", "a@", "a@b.", "a@b.c", "@", "x"], args.random)
                            + ["x" * 248 + "@b.c.d", "x" * 249 + "@b.c.d", "é" * 248 + "@b.c.d", "😀" * 248 + "@b.c.d",
                               "😀" * 249 + "@b.c.d", "\u0600" * 250 + "@b.c"],
        ("customer", "email"): random_strings(["", "a@", "a@b.", "a@b.c"], args.random // 3),
        ("shop", "webhook_url"): around(["https://X", "https://aX", "http://X/", "https://X:80", "HTTPS://aX/b",
                                         "https:/X/a", "Xhttps://a", "http://a/X", "https://X?", "httpX://a",
                                         "https://uX@a", "https://u@X/a", "https://a/X@b", "https://a?X@b"])
                                 + random_strings(["", "https://", "http://", "HTTP://", "https:/", "https:", "https://u@"], args.random)
                                 + ["https://x" + "/" * 1991, "https://x" + "/" * 1992, "https://x" + "😀" * 1991,
                                    "https://x" + "😀" * 1992],
        ("shop", "phone"): around(["+3361234567X", "X+33612345678", "+X3612345678"])
                           + random_strings(["", "+", "+3", "+0"], args.random // 3)
                           + ["+1234567", "+123456", "+123456789012345", "+1234567890123456"],
        ("shop", "timezone"): sorted(daemon_zones) + [z.lower() for z in sorted(daemon_zones)[:50]]
                              + ["UTC", "Etc/UTC", "Europe/Paris ", " Europe/Paris", "Europe/Paris\u0301", "CET", "Z",
                                 "Europe/" + "x" * 60, "", "+01:00", "Local"],
    }
    names = {"email": "email", "webhook_url": "webhook_url", "phone": "phone", "timezone": "timezone"}
    for (obj, key), values in probes.items():
        validator = field_validator(names[key])
        jobs = []
        for value in values:
            job = copy.deepcopy(examples["order.placed"])
            job["data"][obj][key] = value
            jobs.append(job)
        verdicts = daemon_verdicts(args.relais, "orders", jobs)
        path = f"data.{obj}.{key}"
        disagree = []
        for value, (ok, code, field) in zip(values, verdicts):
            schema_ok = validator.is_valid(value)
            if ok != schema_ok or (not ok and field != path):
                disagree.append(f"{value!r}: daemon {'accepts' if ok else f'refuses ({code} at {field})'}, "
                                f"schema {'accepts' if schema_ok else 'refuses'}")
        accepted = sum(v[0] for v in verdicts)
        report(not disagree, f"{path}: schema and daemon agree on {len(values)} probes "
                             f"({accepted} accepted, {len(values) - accepted} refused)",
               f"{len(disagree)} disagree, e.g. " + "; ".join(disagree[:5]))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # report, count
        report(False, "check_rules ran to the end", f"{type(error).__name__}: {error}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
