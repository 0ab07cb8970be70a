#!/usr/bin/env python3
"""Checks the producer-facing JSON Schemas and the example payloads.

- every docs/schemas/*.schema.json is a valid draft 2020-12 schema;
- every examples/payloads/*.json is valid against the envelope and its job type's
  schema, and every job type has an example payload;
- a table of known-good edge cases passes and a table of known-bad payloads fails,
  each at the field the daemon would name;
- the rules JSON Schema cannot express pass the schema, as docs/producers.md says: a
  repeated SKU, pickup slots whose slot_end is not after slot_start (SLOT_ORDER) and quotes
  whose valid_until is not after at (VALIDITY_ORDER); the daemon's verdict on them is
  check_rules.py's.

Usage: python3 Tests/contract/check_schemas.py   (needs jsonschema and rfc3339-validator)
Ends with a line `N passed, M failed`; exits 1 if anything failed.
"""

import copy
import json
import re
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
    ("order.placed", "data.shop.email", None, "optional e-mail may be null"),
    ("order.placed", "data.shop.email", DELETE, "shop e-mail is optional"),
    ("order.placed", "data.shop.phone", "+33612345678", "shop phone"),
    ("order.placed", "data.shop.webhook_url", "HTTP://x.example", "scheme in upper case"),
    ("order.placed", "data.shop.webhook_url", "https://x", "a host without a dot"),
    ("order.placed", "data.shop.webhook_url", "https://x" + "/" * 1991, "URL of 2000 characters"),
    ("order.placed", "data.shop.webhook_url", "https://x.example/a@b?c=d@e", "an @ after the host is not user info"),
    ("order.placed", "data.shop.timezone", None, "time zone null means Europe/Paris"),
    ("order.placed", "data.shop.timezone", DELETE, "time zone is optional"),
    ("order.placed", "data.shop.timezone", "America/Argentina/Buenos_Aires", "a three-part IANA name"),
    ("order.placed", "data.shop.timezone", "GMT", "GMT is known"),
    ("order.placed", "data.shop.name", "é" * 200, "name of 200 characters, multi-byte"),
    ("order.placed", "data.customer.locale", "en", "locale en"),
    ("order.placed", "data.customer.locale", None, "locale null means fr"),
    ("order.placed", "data.customer.locale", DELETE, "locale is optional"),
    ("order.placed", "data.customer.email", "x" * 248 + "@b.c.d", "e-mail of 254 characters"),
    ("order.placed", "data.customer.email", "a@\u0301b@c.d", "an @ with a combining mark is not an @ to the daemon"),
    ("order.placed", "data.customer.email", "a\u0600@b@c.d", "an @ after a prepend character is not an @ either"),
    ("order.placed", "data.customer.email", "a@b.c\u0600 x", "a space after a prepend character is not whitespace"),
    ("order.placed", "data.customer.email", DELETE, "customer e-mail is optional"),
    ("order.placed", "data.customer.phone", "+1234567", "7 digits"),
    ("order.placed", "data.customer.phone", "+123456789012345", "15 digits"),
    ("order.placed", "data.customer.phone", None, "phone null means none"),
    ("order.placed", "data.items", [{"sku": f"s{i}", "name": "n", "quantity": 1, "unit_price_cents": 0} for i in range(500)], "500 items"),
    ("order.placed", "data.items[0].quantity", 1_000_000, "quantity upper bound"),
    ("order.placed", "data.items[0].quantity", 2.0, "an integral number is an integer"),
    ("order.placed", "data.items[0].unit_price_cents", 0, "a free item"),
    ("order.placed", "data.items[0].unit_price_cents", 100_000_000, "unit price upper bound"),
    ("order.placed", "data.total_cents", 0, "total 0"),
    ("order.placed", "data.total_cents", 100_000_000_000, "total upper bound"),
    ("order.placed", "data.pickup_deadline", None, "pickup deadline null"),
    ("order.placed", "data.pickup_deadline", DELETE, "pickup deadline is optional"),
    ("order.placed", "data.order_id", "a/b c:é" * 25, "an order id of 200 characters, any text"),
    ("order.placed", "data.gift_wrap", True, "unknown data fields are ignored"),
    ("order.ready", "data.pickup_deadline", None, "ready without a new deadline"),
    ("order.ready", "data.pickup_deadline", DELETE, "pickup deadline is optional"),
    ("order.cancelled", "data.by", "shop", "cancelled by the shop"),
    ("order.cancelled", "data.by", "platform", "cancelled by the platform"),
    ("order.cancelled", "data.reason", None, "reason null means none"),
    ("order.cancelled", "data.reason", DELETE, "reason is optional"),
    ("order.cancelled", "data.reason", "x" * 500, "reason of 500 characters"),
    ("order.confirmed", "data.note", "x", "unknown fields are ignored"),
    ("order.collected", "data.at", "2026-11-01T17:45:00.5Z", "a fractional second"),
    ("pickup.booked", "data.slot_end", "2026-11-02T16:00:00.000001Z", "a slot of one microsecond"),
    ("pickup.booked", "data.slot_end", "2026-11-03T01:30:00+09:00", "slot_end in another offset, later as an instant"),
    ("pickup.booked", "data.slot_end", "2999-12-31T23:59:59.999999Z", "a slot ending at the end of the contract's years"),
    ("pickup.booked", "data.order_id", "a/b c:é" * 25, "an order id of 200 characters, any text"),
    ("pickup.booked", "data.shop_id", "boulangerie-martin", "unknown data fields are ignored"),
    ("pickup.cancelled", "data.reason", "empêchement", "unknown data fields are ignored"),
    ("pickup.cancelled", "v", DELETE, "v absent means 1"),
    ("quote.requested", "data.desired_date", DELETE, "desired date is optional"),
    ("quote.requested", "data.desired_date", None, "desired date null means none"),
    ("quote.requested", "data.request", "é" * 2000, "a request of 2000 characters, multi-byte"),
    ("quote.requested", "data.shop.webhook_url", DELETE, "the shop's webhook is optional"),
    ("quote.requested", "data.customer.locale", "en", "an English customer"),
    ("quote.sent", "data.lines[0].unit_price_cents", 0, "a free line"),
    ("quote.sent", "data.amount_cents", 100_000_000_000, "amount upper bound"),
    ("quote.sent", "data.url", "HTTP://x.example/devis?id=1&lang=fr", "scheme in upper case, a query"),
    ("quote.sent", "data.lines", [{"description": "x", "quantity": 1, "unit_price_cents": 1}] * 100, "100 lines"),
    ("quote.accepted", "data.order_id", DELETE, "order_id is optional"),
    ("quote.accepted", "data.order_id", None, "order_id null means none"),
    ("quote.declined", "data.reason", None, "reason null means none"),
    ("quote.expired", "data.note", "closed by the platform", "unknown data fields are ignored"),
    ("appointment.booked", "data.shop.address", None, "address null means none"),
    ("appointment.booked", "data.shop.address", DELETE, "address is optional"),
    ("appointment.booked", "data.shop.address", "é" * 500, "address of 500 characters"),
    ("appointment.booked", "data.shop.timezone", DELETE, "timezone defaults to Europe/Paris"),
    ("appointment.booked", "data.service.duration_minutes", None, "duration null means not said"),
    ("appointment.booked", "data.service.duration_minutes", 10080, "duration upper bound"),
    ("appointment.booked", "data.service.duration_minutes", 45.0, "an integral number is an integer"),
    ("appointment.booked", "data.customer.email", DELETE, "customer e-mail is optional"),
    ("appointment.booked", "data.end", "2026-11-28T10:00:00.000001+01:00", "an appointment of one microsecond"),
    ("appointment.booked", "data.appointment_id", "a/b c:é" * 25, "an appointment id of 200 characters, any text"),
    ("appointment.rescheduled", "data.end", "2026-11-28T23:15:00+09:00", "end in another offset, later as an instant"),
    ("appointment.cancelled", "data.reason", None, "reason null means none"),
    ("appointment.cancelled", "data.by", "platform", "cancelled by the platform"),
    ("appointment.attended", "data.note", "en avance", "unknown data fields are ignored"),
    ("appointment.missed", "v", DELETE, "v absent means 1"),
]

# (job type, field path, new values or DELETE): each must fail the job type's schema, at the
# field it replaces, or for DELETE at the object that lacks the field (failing_field).
BAD = [
    ("stock.levels", "id", [DELETE, "", "a b", "stock+levels", "café", "a" * 201, 42, None]),
    # "stock.adjust": a levels job labelled as an adjustment
    ("stock.levels", "type", [DELETE, "stock.level", "stock.adjust"]),
    ("stock.levels", "data", [DELETE, None, []]),
    ("stock.levels", "v", [2, 0, "1", True, 1.5]),
    # "2026-02-30T10:00:00Z": caught by format only
    ("stock.levels", "enqueued_at", ["yesterday", "2026-11-28T10:00:00", "2026-11-28", "2026-02-30T10:00:00Z",
        "2026-11-28T10:00:00.1234567890Z", "2026-11-28T10:00:00+19:00", 1795860000]),
    ("stock.levels", "data.shop_id", [DELETE, "", "s" * 201, None, "a\u0000b", "a\tb", "a\u001b[2Jb",
        "a\u009bb", "a\u2028b"]),
    ("stock.levels", "data.observed_at", [DELETE, "2026-11-01 07:00:00"]),
    ("stock.levels", "data.levels", [DELETE, [], {"baguette": 40},
        [{"sku": f"s{i}", "on_hand": 1} for i in range(10_001)]]),
    ("stock.levels", "data.levels[1]", [60]),
    ("stock.levels", "data.levels[1].sku", [DELETE, 7]),
    ("stock.levels", "data.levels[2].on_hand", [DELETE, -1, 1_000_000_001, 1.5, "30", True, None]),
    ("stock.levels", "data.complete", ["yes", 1]),
    ("stock.adjust", "data.delta", [0, 0.0, 1_000_000_001, -1_000_000_001, None, DELETE]),
    ("stock.adjust", "data.reason", ["", "x" * 501, 5]),
    ("stock.adjust", "data.sku", [DELETE]),
    ("stock.adjust", "data.at", ["now", DELETE]),
    ("order.placed", "data.order_id", [DELETE, "", "o" * 201, 1042]),
    ("order.placed", "data.shop", [DELETE, None, "boulangerie-martin"]),
    ("order.placed", "data.shop.id", [DELETE]),
    ("order.placed", "data.shop.name", ["", "n" * 201]),
    ("order.placed", "data.shop.email", ["a@b", "a b@c.d", "a\u00a0b@c.d", "a@b.c\u3000", "a@b.c\n", "a@b.c.",
        "a@.b.c", "@b.c", "a@@b.c", "a@b@c.d", "a@\u0301b.c", "a@b.\u0301c", "x" * 249 + "@b.c.d", ""]),
    ("order.placed", "data.shop.phone", ["0612345678", "+0612345678", "+123456", "+1234567890123456",
        "+33 612345678", "+\uff13\uff13612345678", 33612345678]),
    ("order.placed", "data.shop.webhook_url", ["ftp://x.example", "https://", "https:///x", "https://?q",
        "https://:443/x", "https://a b", "https://x/\u2028", "https:/x", "x.example/hook",
        "https://x" + "/" * 1992, "https://user:pw@x.example/hook", "http://@127.0.0.1/"]),
    ("order.placed", "data.shop.timezone", ["Europe/Pariss", "europe/paris", "UTC", "", 1]),
    ("order.placed", "data.customer", [DELETE]),
    ("order.placed", "data.customer.name", [DELETE, None, "Léa\r\n\r\nVotre compte est suspendu"]),
    ("order.placed", "data.shop.name", ["Boulangerie\u001b[2J\u0007"]),
    ("order.placed", "data.customer.email", ["lea\u001b@example.fr"]),
    ("order.placed", "data.shop.webhook_url", ["https://x.example/\u0085"]),
    ("order.placed", "data.customer.locale", ["de", "FR", ""]),
    ("order.placed", "data.items", [DELETE, [],
        [{"sku": f"s{i}", "name": "n", "quantity": 1, "unit_price_cents": 0} for i in range(501)]]),
    ("order.placed", "data.items[0]", [5]),
    ("order.placed", "data.items[1].sku", [DELETE]),
    ("order.placed", "data.items[1].name", [""]),
    ("order.placed", "data.items[1].quantity", [0, 1_000_001, 1.5, "2"]),
    ("order.placed", "data.items[1].unit_price_cents", [-1, 100_000_001]),
    ("order.placed", "data.total_cents", [-1, 100_000_000_001, DELETE]),
    ("order.placed", "data.currency", ["eur", "USD", DELETE]),
    ("order.placed", "data.placed_at", ["now", DELETE]),
    ("order.placed", "data.pickup_deadline", ["tomorrow"]),
    ("order.confirmed", "data.order_id", [DELETE, None]),
    ("order.confirmed", "data.at", [DELETE]),
    ("order.ready", "data.at", ["2026-11-01T10:30:00"]),
    ("order.ready", "data.pickup_deadline", ["2026-11-02"]),
    ("order.collected", "data.at", [None]),
    ("order.collected", "data", [[]]),
    ("order.cancelled", "data.by", [DELETE, "admin", None]),
    ("order.cancelled", "data.reason", ["", "x" * 501, "a\u0000b", "rupture\r\nPayez ici"]),
    ("order.cancelled", "type", ["order.canceled"]),
    ("pickup.booked", "data.order_id", [DELETE, "", "o" * 201, None, "a\u0000b"]),
    ("pickup.booked", "data.slot_start", [DELETE, None, "2026-11-02 17:00", "2026-11-02T17:00:00"]),
    ("pickup.booked", "data.slot_end", [DELETE, "17:30", 1793637000]),
    ("pickup.booked", "data", ["CMD-1042"]),
    ("pickup.booked", "type", ["pickup.book"]),
    ("pickup.cancelled", "data.order_id", [DELETE, 1042]),
    ("pickup.cancelled", "type", ["pickup.canceled"]),
    ("quote.requested", "data.quote_id", [DELETE, "", "q" * 201, None, "a\nb"]),
    ("quote.requested", "data.at", [DELETE, "2026-11-02"]),
    ("quote.requested", "data.request", [DELETE, "", "r" * 2001, "ligne 1\nligne 2", 42]),
    ("quote.requested", "data.desired_date", ["next week"]),
    ("quote.requested", "data.shop.email", ["not-an-address"]),
    ("quote.requested", "data.customer.locale", ["de"]),
    ("quote.sent", "data.amount_cents", [DELETE, 0, 100_000_000_001, "360"]),
    ("quote.sent", "data.currency", [DELETE, "USD"]),
    ("quote.sent", "data.lines", [DELETE, [], [{"description": "x", "quantity": 1, "unit_price_cents": 1}] * 101]),
    ("quote.sent", "data.lines[1].quantity", [DELETE, 0, -12, 1_000_001]),
    ("quote.sent", "data.lines[1].unit_price_cents", [-1, 100_000_001]),
    ("quote.sent", "data.lines[0].description", [DELETE, "", "d" * 501]),
    ("quote.sent", "data.valid_until", [DELETE, "2026-11-17"]),
    ("quote.sent", "data.url", [DELETE, "javascript:alert(1)", "ftp://x.example/q", "https://user:pw@x.example/q", "https://", "https://x.example/a b"]),
    ("quote.accepted", "data.order_id", ["", "o" * 201]),
    ("quote.declined", "data.reason", ["", "x" * 501]),
    ("quote.expired", "data.at", [DELETE]),
    ("appointment.booked", "data.appointment_id", [DELETE, "", "a" * 201, None, "a\u0000b"]),
    ("appointment.booked", "data.at", [DELETE, "yesterday"]),
    ("appointment.booked", "data.shop", [DELETE, "salon-lea"]),
    ("appointment.booked", "data.shop.id", [DELETE]),
    ("appointment.booked", "data.shop.email", ["a@b", ""]),
    ("appointment.booked", "data.shop.timezone", ["Europe/Pariss", "UTC"]),
    ("appointment.booked", "data.shop.address", ["", "a" * 501, "12 rue des Lilas\n75011 Paris", 12]),
    ("appointment.booked", "data.service", [DELETE, "Coupe"]),
    ("appointment.booked", "data.service.name", [DELETE, "", "n" * 201]),
    ("appointment.booked", "data.service.duration_minutes", [0, 10081, 1.5, "45"]),
    ("appointment.booked", "data.start", [DELETE, "2026-11-28 10:00"]),
    ("appointment.booked", "data.end", [DELETE, "10:45"]),
    ("appointment.booked", "data.customer", [DELETE]),
    ("appointment.booked", "data.customer.email", ["marie@"]),
    ("appointment.booked", "data.customer.phone", ["0612345678"]),
    ("appointment.booked", "data.customer.locale", ["de"]),
    ("appointment.rescheduled", "data.start", [DELETE, "demain"]),
    ("appointment.rescheduled", "data.end", [None]),
    ("appointment.cancelled", "data.by", [DELETE, "salon", None]),
    ("appointment.cancelled", "data.reason", ["", "x" * 501]),
    ("appointment.attended", "data.at", [DELETE, "2026-11-28"]),
    ("appointment.missed", "data.appointment_id", [DELETE, 2293]),
    ("appointment.missed", "type", ["appointment.miss"]),
]

# pickup.booked jobs whose slot_end is not after slot_start: the schema cannot compare two
# fields, so they pass it; Relais refuses them at data.slot_end (check_rules.py asks it).
# (slot_start, slot_end, why)
SLOT_ORDER = [
    ("2026-11-02T17:00:00+01:00", "2026-11-02T17:00:00+01:00", "an empty slot"),
    ("2026-11-02T17:00:00+01:00", "2026-11-02T16:30:00+01:00", "ends before it starts"),
    ("2026-11-02T17:00:00+01:00", "2026-11-02T16:00:00Z", "the same instant in another offset"),
    ("2026-11-02T17:00:00+01:00", "2026-11-02T17:30:00+03:00", "later on the clock, earlier as an instant"),
    ("2026-11-02T16:00:00.0000006Z", "2026-11-02T16:00:00.0000014Z", "later by 0.8 us, the same microsecond"),
]

# quote.sent jobs whose valid_until is not after at (at, valid_until, why): as for the slots,
# the schema accepts them and the daemon refuses them at data.valid_until.
VALIDITY_ORDER = [
    ("2026-11-03T09:00:00+01:00", "2026-11-03T09:00:00+01:00", "valid until the instant it is sent"),
    ("2026-11-03T09:00:00+01:00", "2026-11-02T09:00:00+01:00", "valid until the day before"),
    ("2026-11-03T09:00:00+01:00", "2026-11-03T08:00:00Z", "the same instant in another offset"),
    ("2026-11-03T09:00:00+01:00", "2026-11-03T09:30:00+03:00", "later on the clock, earlier as an instant"),
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


def failing_field(path, value):
    """The field a bad value makes the job fail at: its own, or for DELETE the object that
    lacks it (the parent path; "" for a top-level field, the job itself)."""
    return re.sub(r"(^|\.)[^.\[]+$|\[\d+\]$", "", path) if value is DELETE else path


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
    examples = {}  # by file stem: order.placed.json is the base of the order.placed rows
    for path in sorted(c.PAYLOADS.glob("*.json")):
        raw = path.read_bytes()
        job = json.loads(raw)
        examples[path.name[:-len(".json")]] = job
        report(path.name.startswith(f"{job.get('type')}."), f"{path.name} is named after its type {job.get('type')}")
        name = c.schema_for(job.get("type"))
        if name not in schemas:
            report(False, f"{path.name}: a schema for its type", f"no {name}")
            continue
        errors = [e.message for e in envelope.iter_errors(job)] + [e.message for e in c.validator(schemas, name).iter_errors(job)]
        report(not errors, f"{path.name} is valid against envelope.schema.json and {name}", "; ".join(errors))
        report(len(json.dumps(job, ensure_ascii=False).encode()) <= c.MAX_BYTES, f"{path.name} is at most 1 MiB")
    for job_type in c.JOB_TYPES:
        report(job_type in examples and examples[job_type].get("type") == job_type,
               f"examples/payloads/{job_type}.json is a {job_type} job")

    for job_type, path, value, why in GOOD:
        errors = [e.message for e in c.validator(schemas, c.schema_for(job_type)).iter_errors(mutated(examples[job_type], path, value))]
        report(not errors, f"good {job_type} {path}={short(value)} ({why})", "; ".join(errors))

    for job_type, path, values in BAD:
        for value in values:
            field = failing_field(path, value)
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
    booked = c.validator(schemas, "pickup.booked.schema.json")
    for start, end, why in SLOT_ORDER:
        job = mutated(mutated(examples["pickup.booked"], "data.slot_start", start), "data.slot_end", end)
        report(booked.is_valid(job), f"limit: a slot_end not after slot_start passes the schema ({why}; "
               "documented; the daemon rejects it)")
    sent = c.validator(schemas, "quote.sent.schema.json")
    for at, until, why in VALIDITY_ORDER:
        job = mutated(mutated(examples["quote.sent"], "data.at", at), "data.valid_until", until)
        report(sent.is_valid(job), f"limit: a valid_until not after at passes the schema ({why}; documented; the daemon rejects it)")
    rule = schemas["quote.sent.schema.json"]["$defs"]["data"].get("$comment", "")
    report("valid_until must be strictly after at" in rule, "quote.sent.schema.json documents the order it cannot express", rule[:80])
    rule = schemas["pickup.booked.schema.json"]["$defs"]["data"].get("$comment", "")
    report("slot_end must be strictly after slot_start" in rule,
           "pickup.booked.schema.json documents the slot order it cannot express", rule[:80])


if __name__ == "__main__":
    main()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
