#!/usr/bin/env python3
"""Checks the producer-facing JSON Schemas and the example payloads.

- every docs/schemas/*.schema.json is a valid draft 2020-12 schema;
- every examples/payloads/*.json is valid against the envelope and its job type's
  schema, and every job type has an example payload;
- a table of known-good edge cases passes and a table of known-bad payloads fails,
  each at the field the daemon would name.

Usage: python3 Tests/contract/check_schemas.py   (needs jsonschema and rfc3339-validator)
Ends with a line `N passed, M failed`; exits 1 if anything failed.
"""

import copy
import json
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

import _contract as c

DELETE = object()

# (job type, field path, new value or DELETE, why it must pass)
GOOD = [
    ("stock.levels", "v", None, "v null means 1"),
    ("stock.levels", "v", DELETE, "v absent means 1"),
    ("stock.levels", "enqueued_at", None, "optional enqueued_at may be null"),
    ("stock.levels", "enqueued_at", DELETE, "enqueued_at is optional"),
    ("stock.levels", "trace", {"by": "till-3"}, "unknown top-level fields are ignored"),
    ("stock.levels", "data.source", "till", "unknown data fields are ignored"),
    ("stock.levels", "data.levels[0].label", "Baguette tradition", "unknown level fields are ignored"),
    ("stock.levels", "data.complete", True, "complete true"),
    ("stock.levels", "data.complete", None, "complete null means false"),
    ("stock.levels", "data.levels[0].on_hand", 0, "on_hand 0"),
    ("stock.levels", "data.levels[0].on_hand", 1_000_000_000, "on_hand upper bound"),
    ("stock.levels", "data.levels[0].on_hand", 40.0, "an integral number is an integer (the daemon agrees)"),
    ("stock.levels", "data.levels[0].sku", "é" * 200, "200 characters, multi-byte"),
    ("stock.levels", "id", "a" * 200, "id of 200 characters"),
    ("stock.levels", "id", "Aa0._:-", "every id character class"),
    ("stock.levels", "data.observed_at", "2026-11-28T09:30:00.123456789-12:00", "9 fractional digits, negative offset"),
    ("stock.levels", "data.observed_at", "2026-02-28T23:59:59+14:00", "offset +14:00"),
    ("stock.adjust", "data.reason", None, "reason null means none"),
    ("stock.adjust", "data.reason", DELETE, "reason is optional"),
    ("stock.adjust", "data.reason", "x" * 500, "reason of 500 characters"),
    ("stock.adjust", "data.delta", 1_000_000_000, "delta upper bound"),
    ("stock.adjust", "data.delta", -1_000_000_000, "delta lower bound"),
    ("stock.adjust", "data.delta", 1, "delta 1"),
]

# (job type, field path, new value or DELETE, field the failure must name)
BAD = [
    ("stock.levels", "id", DELETE, ""),
    ("stock.levels", "id", "", "id"),
    ("stock.levels", "id", "a b", "id"),
    ("stock.levels", "id", "stock+levels", "id"),
    ("stock.levels", "id", "café", "id"),
    ("stock.levels", "id", "a" * 201, "id"),
    ("stock.levels", "id", 42, "id"),
    ("stock.levels", "id", None, "id"),
    ("stock.levels", "type", DELETE, ""),
    ("stock.levels", "type", "stock.level", "type"),
    ("stock.levels", "type", "stock.adjust", "type"),  # a levels job labelled as an adjustment
    ("stock.levels", "data", DELETE, ""),
    ("stock.levels", "data", None, "data"),
    ("stock.levels", "data", [], "data"),
    ("stock.levels", "v", 2, "v"),
    ("stock.levels", "v", 0, "v"),
    ("stock.levels", "v", "1", "v"),
    ("stock.levels", "v", True, "v"),
    ("stock.levels", "v", 1.5, "v"),
    ("stock.levels", "enqueued_at", "yesterday", "enqueued_at"),
    ("stock.levels", "enqueued_at", "2026-11-28T10:00:00", "enqueued_at"),
    ("stock.levels", "enqueued_at", "2026-11-28", "enqueued_at"),
    ("stock.levels", "enqueued_at", "2026-02-30T10:00:00Z", "enqueued_at"),  # caught by format only
    ("stock.levels", "enqueued_at", "2026-11-28T10:00:00.1234567890Z", "enqueued_at"),
    ("stock.levels", "enqueued_at", "2026-11-28T10:00:00+19:00", "enqueued_at"),
    ("stock.levels", "enqueued_at", 1795860000, "enqueued_at"),
    ("stock.levels", "data.shop_id", DELETE, "data"),
    ("stock.levels", "data.shop_id", "", "data.shop_id"),
    ("stock.levels", "data.shop_id", "s" * 201, "data.shop_id"),
    ("stock.levels", "data.shop_id", None, "data.shop_id"),
    ("stock.levels", "data.shop_id", "a\u0000b", "data.shop_id"),
    ("stock.levels", "data.observed_at", DELETE, "data"),
    ("stock.levels", "data.observed_at", "2026-11-01 07:00:00", "data.observed_at"),
    ("stock.levels", "data.levels", DELETE, "data"),
    ("stock.levels", "data.levels", [], "data.levels"),
    ("stock.levels", "data.levels", {"baguette": 40}, "data.levels"),
    ("stock.levels", "data.levels", [{"sku": f"s{i}", "on_hand": 1} for i in range(10_001)], "data.levels"),
    ("stock.levels", "data.levels[1]", 60, "data.levels[1]"),
    ("stock.levels", "data.levels[1].sku", DELETE, "data.levels[1]"),
    ("stock.levels", "data.levels[1].sku", 7, "data.levels[1].sku"),
    ("stock.levels", "data.levels[2].on_hand", DELETE, "data.levels[2]"),
    ("stock.levels", "data.levels[2].on_hand", -1, "data.levels[2].on_hand"),
    ("stock.levels", "data.levels[2].on_hand", 1_000_000_001, "data.levels[2].on_hand"),
    ("stock.levels", "data.levels[2].on_hand", 1.5, "data.levels[2].on_hand"),
    ("stock.levels", "data.levels[2].on_hand", "30", "data.levels[2].on_hand"),
    ("stock.levels", "data.levels[2].on_hand", True, "data.levels[2].on_hand"),
    ("stock.levels", "data.levels[2].on_hand", None, "data.levels[2].on_hand"),
    ("stock.levels", "data.complete", "yes", "data.complete"),
    ("stock.levels", "data.complete", 1, "data.complete"),
    ("stock.adjust", "data.delta", 0, "data.delta"),
    ("stock.adjust", "data.delta", 0.0, "data.delta"),
    ("stock.adjust", "data.delta", 1_000_000_001, "data.delta"),
    ("stock.adjust", "data.delta", -1_000_000_001, "data.delta"),
    ("stock.adjust", "data.delta", None, "data.delta"),
    ("stock.adjust", "data.delta", DELETE, "data"),
    ("stock.adjust", "data.reason", "", "data.reason"),
    ("stock.adjust", "data.reason", "x" * 501, "data.reason"),
    ("stock.adjust", "data.reason", 5, "data.reason"),
    ("stock.adjust", "data.sku", DELETE, "data"),
    ("stock.adjust", "data.at", "now", "data.at"),
    ("stock.adjust", "data.at", DELETE, "data"),
]

passed = failed = 0


def report(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}{': ' + detail if detail else ''}")


def mutated(payload, path, value):
    job = copy.deepcopy(payload)
    if value is DELETE:
        c.delete(job, path)
    else:
        c.put(job, path, value)
    return job


def short(value):
    text = "<deleted>" if value is DELETE else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def main():
    schemas = c.load_schemas()
    for name, schema in schemas.items():
        try:
            Draft202012Validator.check_schema(schema)
            report(True, f"{name} is a valid 2020-12 schema")
        except SchemaError as error:
            report(False, f"{name} is a valid 2020-12 schema", error.message)
    report("envelope.schema.json" in schemas, "envelope.schema.json exists")
    for job_type in c.JOB_TYPES:
        report(c.schema_for(job_type) in schemas, f"{c.schema_for(job_type)} exists")
    if failed:
        return

    envelope = c.validator(schemas, "envelope.schema.json")
    examples = {}
    for path in sorted(c.PAYLOADS.glob("*.json")):
        raw = path.read_bytes()
        job = json.loads(raw)
        examples[job.get("type")] = job
        name = c.schema_for(job.get("type"))
        if name not in schemas:
            report(False, f"{path.name}: a schema for its type", f"no {name}")
            continue
        errors = [e.message for e in envelope.iter_errors(job)] + [e.message for e in c.validator(schemas, name).iter_errors(job)]
        report(not errors, f"{path.name} is valid against envelope.schema.json and {name}", "; ".join(errors))
        report(len(json.dumps(job, ensure_ascii=False).encode()) <= c.MAX_BYTES, f"{path.name} is at most 1 MiB")
    for job_type in c.JOB_TYPES:
        report(job_type in examples, f"examples/payloads has a {job_type} job")

    for job_type, path, value, why in GOOD:
        errors = [e.message for e in c.validator(schemas, c.schema_for(job_type)).iter_errors(mutated(examples[job_type], path, value))]
        report(not errors, f"good {job_type} {path}={short(value)} ({why})", "; ".join(errors))

    for job_type, path, value, field in BAD:
        job = mutated(examples[job_type], path, value)
        errors = list(c.validator(schemas, c.schema_for(job_type)).iter_errors(job))
        named = c.error_paths(errors)
        ok = bool(errors) and field in named
        report(ok, f"bad {job_type} {path}={short(value)} fails at {field or '<job>'}",
               "passed the schema" if not errors else f"failed at {named} instead")
        if job_type == "stock.levels" and path in ("id", "v", "enqueued_at", "type", "data"):
            bad_envelope = list(envelope.iter_errors(job))
            if path != "type":  # the envelope accepts any type string
                report(bool(bad_envelope), f"bad envelope {path}={short(value)} fails envelope.schema.json")

    # Documented limits that JSON Schema cannot express: they must pass the schema,
    # so producers and generators have to enforce them themselves.
    dup = mutated(examples["stock.levels"], "data.levels[2].sku", "baguette")
    report(c.validator(schemas, "stock.levels.schema.json").is_valid(dup),
           "limit: a repeated SKU passes the schema (documented; the daemon rejects it)")


if __name__ == "__main__":
    main()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
