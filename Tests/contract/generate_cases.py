#!/usr/bin/env python3
"""Writes test jobs for the `stock`, `orders`, `pickups` and `appointments` queues: N valid and N invalid per job type.

Usage: python3 Tests/contract/generate_cases.py OUTDIR [-n N] [--seed S] [--shop-prefix P]

Writes OUTDIR/<job type>.jsonl for stock.levels, stock.adjust, the five order types and
the two pickup types, one JSON object a line:

    {"job": "<the payload, a JSON string to put in the job field of XADD>",
     "type": "stock.levels", "valid": true|false,
     "field": "data.levels[0].on_hand" | null,   # the field the dead letter must name
     "code": "invalid_field" | null,             # the reason code it must carry
     "rule": "levels.on_hand.too_big",           # which rule the job breaks
     "schema_valid": true|false,                 # what the JSON Schema says of it
     "id": "<job id>" | null,                    # the dead letter's job_id: null when the id
                                                 # is at fault or the job is too large to parse
     "phase": 1-5,                               # when to send it (see event_plan, pickup_plan)
     "order": i, "applied": true|false}          # valid order and pickup events: the valid
                                                 # order.placed they are about, and whether
                                                 # they change it

- Orders: every valid order.placed has an order and a shop of its own; the valid events
  of the other four types are about those orders and are sent in phases, each after the
  previous one has been processed (event_plan below), so that no valid event ever waits
  for its order (an event before its order is retried, and dead-lettered after the last
  attempt: live_checks.py tests that once, on purpose) and the final state of every
  order is known: collected, cancelled or still ready, with late events kept in the
  history. Invalid order events are rejected before any order is looked up, so they go
  in phase 1 with everything else.

- Pickups: the valid pickup.booked and pickup.cancelled jobs are about the valid orders
  too, at most one per order and phase (pickup_plan below): bookings, moves, cancellations
  and re-bookings while the orders are open (phases 2 and 3), and late ones in phase 5,
  which apply to the orders still ready and change nothing for the collected and cancelled
  ones. Slots start between 2040 and 2990, so that their reminders are planned and pending
  during the run, never due; slot_end is 1 s to 3 days after slot_start as an instant,
  often in another offset. Invalid pickup jobs, as for orders, go in phase 1.

- Appointments: every valid appointment.booked has an appointment and a shop of its own,
  starting between 2040 and 2990; the valid events of the other four types are about those
  appointments, in phases 2 and 3 (appointment_plan below): a rescheduling that applies then
  an earlier one that does not, or a final event (cancelled, attended, missed) then one more
  event that is kept in the history without effect. Invalid appointment jobs go in phase 1.
  The plan gives each valid event its appointment ("order") and whether it applies; an
  appointment has one or two events, so some event types get fewer than N valid jobs.

- A valid job breaks no rule of the contract; the daemon must accept it. Every valid job
  has its own id and its own shop, so after feeding them the expected stock is each job's
  own values (for stock.adjust: the delta, if an unknown SKU starts at 0). SKUs are unique
  within a job as exact strings: some jobs list one SKU both in NFC and in NFD (`café`
  and `cafe` + U+0301), which are two SKUs (strings are compared by their exact UTF-8
  bytes). Lengths count code points: some strings are exactly 200 code points made of
  multi-code-point characters (flags, emoji with modifiers, letters with combining marks)
  and so fewer user-perceived characters. Every payload is at most 1 MiB; one valid job
  per type is exactly 1 MiB. Some integers are written with a zero fraction (`40.0`).
- An invalid job breaks exactly one rule, so `field` and `code` are known; `field` is
  null when the job as a whole is at fault. Three rules cannot be expressed in JSON
  Schema; their jobs have schema_valid true: a repeated SKU (rule levels.sku.duplicate),
  a slot_end not after slot_start (rule booked.slot_end.not_after: equal, the same instant
  in another offset, earlier, later by under a microsecond so that both round to the same
  one, or later on the clock but earlier as an instant; the same for an appointment's end,
  rule appointment.end.not_after) and a payload of 1 MiB + 1 byte
  (rule size.too_large, code too_large).

The output is deterministic for a given seed and N. Each job is checked against the
schemas in docs/schemas before it is written (needs jsonschema and rfc3339-validator);
the script exits 1 if a check fails.
"""

import argparse
import copy
import json
import random
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import _contract as c

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
# Single code points that are each one grapheme cluster and NFC-stable, so that lengths
# mean the same to JSON Schema (code points) and to the daemon (Swift Characters).
TEXT_CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "-_./:#+ '\"\\&%@()[]{},;!?=*<>|~^`$"
    "éèêëàâäçîïôöûüùÿæœßÉÈÇÀŒ"
    "面包店本日のパンλόγοςхлебخبز"
    "🥖🥐🍞🧀🍫€£¥"
)
# What every string refuses (TextRules: C0, DEL, C1, U+2028, U+2029): tab, line breaks
# and terminal escapes among them.
CONTROL_TEXTS = ["\t", "\r\n", "\n", "\u001b[2J", "\u0007", "\u007f", "\u009b", "\u2028"]
WIDE_CHARS = "é面🥖λ"  # multi-byte characters for strings at the length limit
# NFC-stable characters of several code points each (one grapheme cluster, several Unicode
# scalars): a string of them is longer in code points than in user-perceived characters.
CLUSTERS = ["q\u0307", "x\u0323\u0301", "\U0001F1EB\U0001F1F7", "\U0001F44D\U0001F3FD", "\U0001F469\u200D\U0001F373"]
# Date-times the schema accepts at the edges of its pattern.
EDGE_TIMESTAMPS = [
    "1900-01-01T00:00:00Z", "1900-01-01T00:00:00+14:00", "2999-12-31T23:59:59.999999999Z",
    "2999-12-31T23:59:59-14:59", "2024-02-29T12:00:00+14:59", "2000-02-29T23:59:59.5-00:30",
    "2026-11-28T09:30:00.000001+05:45", "1999-12-31T23:59:59.9999999Z",
]
DELETE = object()


class Gen:
    def __init__(self, seed, shop_prefix):
        self.rng = random.Random(seed)
        self.seed = seed
        self.shop_prefix = shop_prefix
        self.serial = 0
        self.booked_at = {}  # appointment id -> the `at` of its valid appointment.booked

    def next_serial(self):
        self.serial += 1
        return self.serial

    # Strings ------------------------------------------------------------------

    def text(self, min_len=1, max_len=40, chars=TEXT_CHARS):
        n = self.rng.randint(min_len, max_len)
        s = "".join(self.rng.choice(chars) for _ in range(n))
        assert unicodedata.normalize("NFC", s) == s
        return s

    def padded(self, head, length, chars=ID_CHARS):
        """`head` followed by random characters up to exactly `length` code points."""
        assert len(head) <= length
        return head + "".join(self.rng.choice(chars) for _ in range(length - len(head)))

    def clustered(self, head, length):
        """`head` followed by multi-code-point characters, exactly `length` code points."""
        out = head
        while len(out) < length:
            fits = [c for c in CLUSTERS if len(out) + len(c) <= length]
            out += self.rng.choice(fits) if fits else self.rng.choice(WIDE_CHARS)
        assert len(out) == length and unicodedata.normalize("NFC", out) == out
        return out

    def long_text(self, head, length):
        """Exactly `length` code points: wide single characters or multi-code-point ones."""
        return self.padded(head, length, WIDE_CHARS) if self.rng.random() < 0.5 else self.clustered(head, length)

    def job_id(self, job_type):
        """A unique id; sometimes long, once in a while exactly 200 characters."""
        head = f"gen:{self.seed}:{job_type}:{self.next_serial()}"
        roll = self.rng.random()
        if roll < 0.05:
            return self.padded(head + ":", 200)
        if roll < 0.5:
            return self.padded(head + ":", len(head) + 1 + self.rng.randint(1, 40))
        return head

    def unique_text(self, head, p_longer, longer_max):
        """`head` (unique), or with probability 0.05 `head` and any text to exactly 200 code
        points, or (up to probability `p_longer` in all) `head`, a space and 1 to
        `longer_max` characters of any text."""
        roll = self.rng.random()
        if roll < 0.05:
            return self.long_text(head + " ", 200)
        if roll < p_longer:
            return head + " " + self.text(1, longer_max)
        return head

    def shop(self):
        """A shop of its own for every job, sometimes with non-ASCII text or 200 characters long."""
        return self.unique_text(f"{self.shop_prefix}-{self.next_serial()}", 0.3, 30)

    def sku(self, index=None):
        roll = self.rng.random()
        if roll < 0.03:
            return self.long_text(str(index or ""), 200)
        if roll < 0.06:
            return self.rng.choice(WIDE_CHARS + "x")
        if roll < 0.08:
            return self.rng.choice(CLUSTERS)
        if roll < 0.1:  # decomposed (NFD): a different SKU from its NFC form
            return unicodedata.normalize("NFD", f"café-crème-{self.next_serial()}")
        return self.text(1, 24)

    def timestamp(self):
        """A valid RFC 3339 date-time, in one of the forms producers send."""
        if self.rng.random() < 0.05:
            return self.rng.choice(EDGE_TIMESTAMPS)
        start = datetime(2000, 1, 1, tzinfo=timezone.utc)
        instant = start + timedelta(seconds=self.rng.randrange(100 * 365 * 86400),
                                    microseconds=self.rng.randrange(1_000_000))
        offset = self.rng.choice([0, 0, 0, 60, 120, -300, -720, 840, 330, 345, -570])
        digits = self.rng.choice([0, 0, 1, 3, 3, 6, 9])
        return self.rfc3339(instant, offset, digits, self.rng.randrange(1000) if digits else 0)

    def rfc3339(self, instant, offset, digits, nanoseconds=0):
        """`instant` as RFC 3339 at `offset` minutes from UTC (for 0, usually `Z`), with `digits`
        fractional digits: its microseconds, then `nanoseconds` (0-999)."""
        local = instant + timedelta(minutes=offset)
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        if digits:
            text += "." + f"{local.microsecond:06d}{nanoseconds:03d}"[:digits]
        if offset == 0 and self.rng.random() < 0.7:
            return text + "Z"
        sign = "+" if offset >= 0 else "-"
        return text + f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"

    def deadline(self):
        """A pickup deadline that has not passed: the daemon expires a ready order past it,
        which would change the outcome the live checks expect."""
        while True:
            text = self.timestamp()
            if int(text[:4]) > datetime.now(timezone.utc).year + 1:
                return text

    # Valid jobs ---------------------------------------------------------------

    def envelope(self, job_type, data):
        job = {"id": self.job_id(job_type), "type": job_type, "data": data}
        roll = self.rng.random()
        if roll < 0.4:
            job["v"] = 1
        elif roll < 0.5:
            job["v"] = None
        roll = self.rng.random()
        if roll < 0.6:
            job["enqueued_at"] = self.timestamp()
        elif roll < 0.7:
            job["enqueued_at"] = None
        if self.rng.random() < 0.15:
            job["trace_id"] = self.text(1, 20)  # unknown fields are ignored
        if self.rng.random() < 0.5:  # producers put the fields in any order
            items = list(job.items())
            self.rng.shuffle(items)
            job = dict(items)
        return job

    def levels_data(self, count=None, sku=None):
        if count is None:
            roll = self.rng.random()
            count = 1 if roll < 0.1 else self.rng.randint(2, 20) if roll < 0.75 else self.rng.randint(21, 500)
        skus, seen = [], set()
        while len(skus) < count:
            s = sku(len(skus)) if sku else self.sku(len(skus))
            if s not in seen:  # NFC strings: equal here iff canonically equivalent
                seen.add(s)
                skus.append(s)
        levels = []
        if sku is None and 2 <= count < 10_000 and self.rng.random() < 0.1:
            # The same word in NFC and in NFD: two different SKUs.
            word = f"pâté-croûte-{self.next_serial()}"
            skus[-1:] = [unicodedata.normalize("NFC", word), unicodedata.normalize("NFD", word)]
        for s in skus:
            on_hand = self.rng.choice([0, 1, 1_000_000_000, self.rng.randint(0, 500), self.rng.randint(0, 1_000_000_000)])
            if self.rng.random() < 0.02:
                on_hand = float(on_hand)  # written 40.0: an integer all the same
            level = {"sku": s, "on_hand": on_hand}
            if self.rng.random() < 0.05:
                level["label"] = self.text(1, 30)
            levels.append(level)
        data = {"shop_id": self.shop(), "observed_at": self.timestamp(), "levels": levels}
        roll = self.rng.random()
        if roll < 0.2:
            data["complete"] = True
        elif roll < 0.3:
            data["complete"] = False
        elif roll < 0.35:
            data["complete"] = None
        if self.rng.random() < 0.1:
            data["source"] = "till"
        return data

    def adjust_data(self):
        delta = self.rng.choice([1, -1, 1_000_000_000, -1_000_000_000, self.rng.randint(1, 50), -self.rng.randint(1, 50),
                                 self.rng.choice([-1, 1]) * self.rng.randint(1, 1_000_000_000)])
        data = {"shop_id": self.shop(), "sku": self.sku(), "delta": delta, "at": self.timestamp()}
        roll = self.rng.random()
        if roll < 0.5:
            data["reason"] = self.text(1, 60)
        elif roll < 0.55:
            data["reason"] = self.long_text("", 500)
        elif roll < 0.65:
            data["reason"] = None
        if self.rng.random() < 0.1:
            data["till"] = self.rng.randint(1, 9)
        if self.rng.random() < 0.03:
            data["delta"] = float(delta)  # written -3.0: an integer all the same
        return data

    def slot(self):
        """(slot_start, slot_end) of a valid booking: slot_start years ahead (so that the
        reminders of the booking are far in the future: planned, never due during a test run),
        slot_end 1 s to 3 days after it as an instant, often written in another offset, so that
        comparing the texts would get some of them wrong.

        Slots run up to 2990, past 2255 (2^53 microseconds after 1970), where a timestamp
        computed as `n * interval '1 microsecond'` would be a microsecond off: Relais adds the
        seconds and the microseconds apart, and these cases check it stays exact."""
        start = datetime(2040, 1, 1, tzinfo=timezone.utc) + timedelta(
            seconds=self.rng.randrange(950 * 365 * 86400), microseconds=self.rng.choice([0, 0, self.rng.randrange(1_000_000)]))
        if self.rng.random() < 0.3:  # on the hour or half hour, as shops book them
            start = start.replace(minute=self.rng.choice([0, 30]), second=0, microsecond=0)
        length = timedelta(seconds=self.rng.choice([1, 60, 900, 1800, 1800, 3600, 7200, 8 * 3600, 3 * 86400]))
        return self.at(start), self.at(start + length)

    def at(self, instant):
        """`instant` as RFC 3339 in a random offset, with 0-9 fractional digits (never rounding it
        to another microsecond: the digits after the sixth are zeros)."""
        offset = self.rng.choice([0, 0, 60, 120, -300, -720, 840, 330, 345, -570, 899, -899])
        digits = self.rng.choice([6, 9]) if instant.microsecond else self.rng.choice([0, 0, 3])
        return self.rfc3339(instant, offset, digits)

    def pickup_data(self, job_type, order_id=None):
        data = {"order_id": order_id if order_id is not None else self.order_id()}
        if job_type == "pickup.booked":
            data["slot_start"], data["slot_end"] = self.slot()
        if self.rng.random() < 0.1:
            data["source"] = "booking-widget"  # unknown fields are ignored
        if self.rng.random() < 0.3:
            items = list(data.items())
            self.rng.shuffle(items)
            data = dict(items)
        return data

    def appointment_id(self):
        """A unique appointment id: usually ASCII, sometimes any text, once in a while 200 code points."""
        return self.unique_text(f"{self.shop_prefix}-rdv-{self.next_serial()}", 0.25, 20)

    def booked_data(self):
        """A valid appointment.booked: a shop and customer as order.placed's, its address,
        a service, and times as a pickup slot's (years ahead, end after start); `at` between
        2001 and 2099, kept in `booked_at` for the events planned after it."""
        placed = self.placed_data(items=1)
        shop = placed["shop"]
        address = self.maybe(self.rng.choice([self.text(1, 60), self.long_text("", 500)]), 0.6)
        if address is not DELETE:
            shop["address"] = address
        service = {"name": self.rng.choice([self.text(1, 40), self.long_text("", 200)]) if self.rng.random() < 0.1
                   else "Service " + self.text(1, 20)}
        minutes = self.maybe(self.rng.choice([1, 45, 90, 10080, float(30)]), 0.6)
        if minutes is not DELETE:
            service["duration_minutes"] = minutes
        at = datetime(2001, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=self.rng.randrange(98 * 365 * 86400))
        start, end = self.slot()
        data = {"appointment_id": self.appointment_id(), "at": self.at(at), "shop": shop, "service": service,
                "start": start, "end": end, "customer": placed["customer"]}
        self.booked_at[data["appointment_id"]] = at
        if self.rng.random() < 0.1:
            data["source"] = "agenda"  # unknown fields are ignored
        return data

    def appointment_event_data(self, job_type, appointment_id=None, at=None):
        """A valid event of an appointment, at `at` (a datetime) or any time."""
        data = {"appointment_id": appointment_id if appointment_id is not None else self.appointment_id(),
                "at": self.at(at) if at is not None else self.timestamp()}
        if job_type == "appointment.rescheduled":
            data["start"], data["end"] = self.slot()
        if job_type == "appointment.cancelled":
            data["by"] = self.rng.choice(["shop", "customer", "platform"])
            reason = self.maybe(self.rng.choice([self.text(1, 60), self.long_text("", 500)]), 0.5)
            if reason is not DELETE:
                data["reason"] = reason
        return data

    def valid(self, job_type, order_id=None, at=None):
        if job_type == "appointment.booked":
            return self.envelope(job_type, self.booked_data())
        if job_type.startswith("appointment."):
            return self.envelope(job_type, self.appointment_event_data(job_type, order_id, at))
        if job_type.startswith("pickup."):
            return self.envelope(job_type, self.pickup_data(job_type, order_id))
        if job_type == "stock.levels":
            data = self.levels_data()
        elif job_type == "stock.adjust":
            data = self.adjust_data()
        elif job_type == "order.placed":
            data = self.placed_data()
        else:
            data = self.event_data(job_type, order_id)
        return self.envelope(job_type, data)

    def specials(self, job_type):
        """Boundary jobs that random draws would rarely hit."""
        if job_type == "stock.levels":
            big = self.envelope(job_type, self.levels_data(10_000, sku=lambda i: f"sku-{i:05d}"))
            one = self.envelope(job_type, self.levels_data(1, sku=lambda i: self.long_text("", 200)))
            one["id"] = self.padded(f"gen:{self.seed}:{job_type}:{self.next_serial()}:", 200)
            one["data"]["shop_id"] = self.padded(f"{self.shop_prefix}-{self.next_serial()} ", 200, WIDE_CHARS)
            return [pad_to(big, c.MAX_BYTES), one]
        if job_type == "order.placed":
            many = self.envelope(job_type, self.placed_data(items=500))
            return [pad_to(self.valid(job_type), c.MAX_BYTES), many]
        return [pad_to(self.valid(job_type), c.MAX_BYTES)]

    # Orders -------------------------------------------------------------------

    def order_id(self):
        """A unique order id: usually ASCII, sometimes any text, once in a while 200 code points."""
        return self.unique_text(f"{self.shop_prefix}-order-{self.next_serial()}", 0.25, 20)

    def maybe(self, value, p=0.5, null=0.1):
        """value with probability p, else null (None) or absent (DELETE)."""
        roll = self.rng.random()
        return value if roll < p else None if roll < p + null else DELETE

    def placed_data(self, items=None):
        shop = {"id": self.shop(), "name": self.rng.choice([self.text(1, 40), self.long_text("", 200)])
                if self.rng.random() < 0.1 else "Boutique " + self.text(1, 20)}
        for key, value in (("email", self.maybe(self.rng.choice(VALID_EMAILS))),
                           ("phone", self.maybe(self.rng.choice(VALID_PHONES), 0.3)),
                           ("webhook_url", self.maybe(self.rng.choice(VALID_URLS), 0.3)),
                           ("timezone", self.maybe(self.rng.choice(self.time_zones), 0.6))):
            if value is not DELETE:
                shop[key] = value
        customer = {"name": self.text(1, 40)}
        for key, value in (("email", self.maybe(self.rng.choice(VALID_EMAILS), 0.6)),
                           ("phone", self.maybe(self.rng.choice(VALID_PHONES), 0.5)),
                           ("locale", self.maybe(self.rng.choice(["fr", "en"]), 0.6))):
            if value is not DELETE:
                customer[key] = value
        if items is None:
            roll = self.rng.random()
            items = 1 if roll < 0.3 else self.rng.randint(2, 8) if roll < 0.9 else self.rng.randint(9, 60)
        lines = []
        for i in range(items):
            sku = self.sku(i) if self.rng.random() < 0.9 or not lines else lines[-1]["sku"]  # a SKU on two lines
            quantity = self.rng.choice([1, 1, 2, self.rng.randint(1, 12), 1_000_000])
            price = self.rng.choice([0, 130, self.rng.randint(1, 5000), 100_000_000])
            line = {"sku": sku, "name": self.text(1, 30), "quantity": quantity, "unit_price_cents": price}
            if self.rng.random() < 0.03:
                line["quantity"] = float(quantity)  # 2.0: an integer all the same
            if self.rng.random() < 0.05:
                line["vat_rate"] = 5.5
            lines.append(line)
        data = {"order_id": self.order_id(), "shop": shop, "customer": customer, "items": lines,
                "total_cents": self.rng.choice([0, 100_000_000_000, self.rng.randint(0, 10**6)]),
                "currency": "EUR", "placed_at": self.timestamp()}
        deadline = self.maybe(self.deadline(), 0.4)
        if deadline is not DELETE:
            data["pickup_deadline"] = deadline
        return data

    def event_data(self, job_type, order_id=None):
        data = {"order_id": order_id if order_id is not None else self.order_id(), "at": self.timestamp()}
        if job_type == "order.ready":
            deadline = self.maybe(self.deadline(), 0.5)
            if deadline is not DELETE:
                data["pickup_deadline"] = deadline
        if job_type == "order.cancelled":
            data["by"] = self.rng.choice(["shop", "customer", "platform"])
            reason = self.maybe(self.rng.choice([self.text(1, 60), self.long_text("", 500)]), 0.5)
            if reason is not DELETE:
                data["reason"] = reason
        if self.rng.random() < 0.1:
            data["source"] = "web"
        return data

    # Invalid jobs -------------------------------------------------------------

    def bad_timestamp(self):
        return self.rng.choice([
            "yesterday", "2026-11-28", "2026-11-28T10:00:00", "2026-13-01T10:00:00Z",
            "2026-11-28T10:00:00.1234567890Z", "2026-11-28T10:00:00+19:00", "28/11/2026 10:00",
            1795860000, True, [], {},
            # each one step outside the schema's pattern or a real calendar date (not "...Z\n":
            # Python's re, and so jsonschema, lets `$` match before a final newline)
            "2026-11-28t10:00:00Z", "2026-11-28T10:00:00z", "2026-11-28 10:00:00Z", "2026-02-30T10:00:00Z",
            "2026-11-31T10:00:00Z", "2025-02-29T10:00:00Z", "1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z",
            "2026-11-28T10:00:00+15:00", "2026-11-28T10:00:00-15:00", "2026-11-28T10:00:00+14:60",
            "2026-11-28T24:00:00Z", "2026-11-28T10:60:00Z", "2026-12-31T23:59:60Z", "2026-11-28T10:00:00.Z",
            "2026-11-28T10:00:00,5Z", "2026-11-28T10:00Z", "2026-11-28T10:00:00+0100", "2026-11-28T10:00:00+01",
            " 2026-11-28T10:00:00Z", "2026-11-28T10:00:00Z ", "+2026-11-28T10:00:00Z",
            "02026-11-28T10:00:00Z", "2026-1-28T10:00:00Z", "２０２６-11-28T10:00:00Z", "",
        ])

    def invalid(self, job_type, rule):
        """A valid job broken by `rule`: (job, field, code)."""
        job = self.valid(job_type)
        name, field, code, value = rule(self, job)
        if value is DELETE:
            c.delete(job, field)
        elif field is not None:
            c.put(job, field, value)
        return name, job, field, code


def pad_to(job, size):
    """`job` with an unknown top-level field that makes its compact UTF-8 JSON exactly `size` bytes."""
    job = dict(job, padding="")
    missing = size - len(encode(job, compact=True).encode())
    assert missing >= 0, "job already too large to pad"
    job["padding"] = "x" * missing
    return job


def encode(job, compact=False, rng=None):
    if compact or rng is None:
        return json.dumps(job, ensure_ascii=False, separators=(",", ":"))
    roll = rng.random()
    if roll < 0.2:
        return json.dumps(job)  # \u escapes for every non-ASCII character
    if roll < 0.3:
        return json.dumps(job, ensure_ascii=False, indent=2)
    return json.dumps(job, ensure_ascii=False, separators=(",", ":"))


def one_of(*values):
    return lambda g: g.rng.choice(values)


# Rules: functions (gen, job) -> (rule name, field, code, value or DELETE); value None with
# field None means the function changed the job itself.

UNKNOWN_TYPES = {
    "stock": ("stock.level", "Stock.Levels", "stock.levels ", "order.placed", "pickup.booked", "stock", "stock.levels.v2"),
    "orders": ("order.place", "Order.Placed", "order.placed ", "order.shipped", "order.canceled", "stock.adjust",
               "pickup.booked", "orders"),
    "pickups": ("pickup.book", "Pickup.Booked", "pickup.booked ", "pickup.moved", "pickup.canceled", "order.placed",
                "order.cancelled", "stock.levels", "pickups"),
    "appointments": ("appointment.book", "Appointment.Booked", "appointment.booked ", "appointment.moved",
                     "appointment.canceled", "pickup.booked", "order.placed", "appointments"),
}


def envelope_rules(queue="stock"):
    def r(name, field, code, values):
        return lambda g, job: (name, field, code, DELETE if values is DELETE else (values(g) if callable(values) else values))
    return [
        r("envelope.id.missing", "id", "missing_field", DELETE),
        r("envelope.id.null", "id", "invalid_field", None),
        r("envelope.id.empty", "id", "invalid_field", ""),
        lambda g, job: ("envelope.id.too_long", "id", "invalid_field", g.padded(job["id"] + ":", 201)),
        lambda g, job: ("envelope.id.charset", "id", "invalid_field",
                        job["id"][:3] + g.rng.choice([" ", "/", "+", "é", "#", "@", "\n", "🥖", "%"]) + job["id"][3:]),
        r("envelope.id.not_string", "id", "invalid_field", one_of(42, True, ["a"], {"id": "a"})),
        r("envelope.type.missing", "type", "missing_field", DELETE),
        r("envelope.type.null", "type", "invalid_field", None),
        r("envelope.type.empty", "type", "invalid_field", ""),
        r("envelope.type.too_long", "type", "invalid_field", lambda g: "stock." + "x" * 95),
        r("envelope.type.not_string", "type", "invalid_field", one_of(5, False, ["stock.levels"])),
        r("envelope.type.unknown", "type", "unknown_type", one_of(*UNKNOWN_TYPES[queue])),
        r("envelope.data.missing", "data", "missing_field", DELETE),
        r("envelope.data.null", "data", "invalid_field", None),
        r("envelope.data.not_object", "data", "invalid_field", one_of([], [{"sku": "a"}], "x", 5, True)),
        r("envelope.v.unsupported", "v", "unsupported_version", one_of(2, 3, 1000, 2147483647)),
        r("envelope.v.out_of_range", "v", "invalid_field", one_of(0, -1, 2147483648)),
        r("envelope.v.not_integer", "v", "invalid_field", one_of("1", 1.5, True, [1], {})),
        r("envelope.enqueued_at.invalid", "enqueued_at", "invalid_field", lambda g: g.bad_timestamp()),
    ]


def key_rules(prefix, field):
    """Rules for a required 1-200 character string at `field` of data."""
    path = f"data.{field}"
    return [
        (f"{prefix}.{field}.missing", path, "missing_field", DELETE),
        (f"{prefix}.{field}.null", path, "invalid_field", None),
        (f"{prefix}.{field}.empty", path, "invalid_field", ""),
        (f"{prefix}.{field}.too_long", path, "invalid_field", lambda g: g.long_text("", 201)),
        (f"{prefix}.{field}.not_string", path, "invalid_field", one_of(7, True, ["a"], {"id": "a"})),
        (f"{prefix}.{field}.nul", path, "invalid_field", lambda g: g.text(0, 10) + "\u0000" + g.text(0, 10)),
        (f"{prefix}.{field}.control", path, "invalid_field",
         lambda g: g.text(0, 10) + g.rng.choice(CONTROL_TEXTS) + g.text(0, 10)),
    ]


def timestamp_rules(prefix, field):
    path = f"data.{field}"
    return [
        (f"{prefix}.{field}.missing", path, "missing_field", DELETE),
        (f"{prefix}.{field}.null", path, "invalid_field", None),
        (f"{prefix}.{field}.invalid", path, "invalid_field", lambda g: g.bad_timestamp()),
    ]


def plain(rules):
    """Turns (name, path, code, value) tuples into rule functions."""
    def make(name, path, code, value):
        return lambda g, job: (name, path, code, drawn(g, value))
    return [make(*rule) for rule in rules]


def drawn(g, value):
    """A rule's bad value: DELETE, a function of the generator, or the value itself."""
    return DELETE if value is DELETE else (value(g) if callable(value) else value)


def entry_rule(array, name, key, code, value):
    """A rule for one entry of the array data.<array>, chosen at random; for its field `key`,
    or the entry itself when `key` is None."""
    def rule(g, job):
        i = g.rng.randrange(len(job["data"][array]))
        path = f"data.{array}[{i}]" + (f".{key}" if key else "")
        return name, path, code, drawn(g, value)
    return rule


def level_rule(name, key, code, value):
    """A rule for one entry of data.levels, chosen at random."""
    return entry_rule("levels", name, key, code, value)


def duplicate_sku(g, job):
    levels = job["data"]["levels"]
    if len(levels) < 2:
        levels.append({"sku": g.sku() + "-second", "on_hand": 1})
    i, j = sorted(g.rng.sample(range(len(levels)), 2))
    return "levels.sku.duplicate", f"data.levels[{j}].sku", "invalid_field", levels[i]["sku"]


def too_large(g, job):
    padded = pad_to(job, c.MAX_BYTES + 1)
    job.clear()
    job.update(padded)
    return "size.too_large", None, "too_large", None


def levels_rules():
    return envelope_rules() + plain(key_rules("levels", "shop_id") + timestamp_rules("levels", "observed_at") + [
        ("levels.levels.missing", "data.levels", "missing_field", DELETE),
        ("levels.levels.null", "data.levels", "invalid_field", None),
        ("levels.levels.not_array", "data.levels", "invalid_field", one_of({}, {"baguette": 40}, "baguette", 40)),
        ("levels.levels.empty", "data.levels", "invalid_field", []),
        ("levels.levels.too_many", "data.levels", "invalid_field",
         lambda g: [{"sku": f"s{i}", "on_hand": 1} for i in range(10_001)]),
        ("levels.complete.not_boolean", "data.complete", "invalid_field", one_of("yes", "true", 1, 0, [])),
    ]) + [
        level_rule("levels.level.not_object", None, "invalid_field", one_of(None, 40, "baguette", [], [{"sku": "a"}])),
        level_rule("levels.sku.missing", "sku", "missing_field", DELETE),
        level_rule("levels.sku.null", "sku", "invalid_field", None),
        level_rule("levels.sku.empty", "sku", "invalid_field", ""),
        level_rule("levels.sku.too_long", "sku", "invalid_field", lambda g: g.long_text("", 201)),
        level_rule("levels.sku.nul", "sku", "invalid_field", lambda g: "\u0000" + g.text(0, 10)),
        level_rule("levels.sku.control", "sku", "invalid_field", lambda g: g.text(1, 10) + g.rng.choice(CONTROL_TEXTS)),
        level_rule("levels.sku.not_string", "sku", "invalid_field", one_of(7, True, ["a"], {})),
        level_rule("levels.on_hand.missing", "on_hand", "missing_field", DELETE),
        level_rule("levels.on_hand.null", "on_hand", "invalid_field", None),
        level_rule("levels.on_hand.negative", "on_hand", "invalid_field", one_of(-1, -40, -1_000_000_000)),
        level_rule("levels.on_hand.too_big", "on_hand", "invalid_field", one_of(1_000_000_001, 10**12, 2**63, 1e30)),
        level_rule("levels.on_hand.fraction", "on_hand", "invalid_field", one_of(1.5, 0.1, 39.99)),
        level_rule("levels.on_hand.not_number", "on_hand", "invalid_field", one_of("40", True, [], {})),
        duplicate_sku,
        too_large,
    ]


def adjust_rules():
    return envelope_rules() + plain(key_rules("adjust", "shop_id") + key_rules("adjust", "sku") + timestamp_rules("adjust", "at") + [
        ("adjust.delta.missing", "data.delta", "missing_field", DELETE),
        ("adjust.delta.null", "data.delta", "invalid_field", None),
        ("adjust.delta.zero", "data.delta", "invalid_field", one_of(0, 0.0, -0.0)),
        ("adjust.delta.too_big", "data.delta", "invalid_field", one_of(1_000_000_001, 10**15, 1e30)),
        ("adjust.delta.too_small", "data.delta", "invalid_field", one_of(-1_000_000_001, -(10**15))),
        ("adjust.delta.fraction", "data.delta", "invalid_field", one_of(2.5, -0.5)),
        ("adjust.delta.not_number", "data.delta", "invalid_field", one_of("-3", True, [], {})),
        ("adjust.reason.empty", "data.reason", "invalid_field", ""),
        ("adjust.reason.too_long", "data.reason", "invalid_field", lambda g: g.long_text("", 501)),
        ("adjust.reason.nul", "data.reason", "invalid_field", lambda g: g.text(1, 20) + "\u0000"),
        ("adjust.reason.control", "data.reason", "invalid_field",
         lambda g: g.text(1, 20) + g.rng.choice(CONTROL_TEXTS) + g.text(1, 20)),
        ("adjust.reason.not_string", "data.reason", "invalid_field", one_of(5, True, ["vente"], {})),
    ]) + [too_large]


# Values for the order fields that OrderRules checks (see check_rules.py for many more).
VALID_EMAILS = ["camille.durand@example.org", "x@y.z", "chloé.bérénice@exemple.fr", "a+b@sub.example.co.uk",
                "x" * 248 + "@b.c.d", "a@\u0301b@c.d", "\"quoted\"@example.org", "面包@例子.中国", "a@b.c\u0600 d"]
INVALID_EMAILS = ["a@b", "a b@c.d", "a\u00a0b@c.d", "a@b.c\u3000", "a@b.c\n", "a@b.c.", "a@.b.c", "@b.c", "a@@b.c",
                  "a@b@c.d", "a@\u0301b.c", "a@b.\u0301c", "x" * 249 + "@b.c.d", "", "plainaddress", "a@b.c\t",
                  "a@b\u2028.c"]
VALID_PHONES = ["+33612345678", "+1234567", "+123456789012345", "+447700900123"]
INVALID_PHONES = ["0612345678", "+0612345678", "+123456", "+1234567890123456", "+33 612345678",
                  "+\uff13\uff13612345678", "+33-6-12-34-56-78", "", "33612345678", "+33612345678\n"]
VALID_URLS = ["https://boutique.example/relais/webhook", "HTTP://x", "https://x:8443/a?b#c", "http://[::1]/hook",
              "https://x" + "/" * 1991, "https://é.example/ü"]
INVALID_URLS = ["ftp://x.example", "https://", "https:///x", "https://?q", "https://#f", "https://:443/x",
                "https://a b", "https://x/\u2028", "https:/x", "x.example/hook", "https://x" + "/" * 1992, "",
                "https://\u0301x", "mailto:a@b.c", "https://user:pw@x.example/hook"]
INVALID_TIME_ZONES = ["UTC", "Etc/UTC", "europe/paris", "Europe/Pariss", "Europe/Paris ", "", "+01:00", "CEST",
                      "Europe/" + "x" * 58]


def string_rules(prefix, path, max_length, required=True):
    """Rules for a 1-max_length string at `path`."""
    rules = [
        (f"{prefix}.empty", path, "invalid_field", ""),
        (f"{prefix}.too_long", path, "invalid_field", lambda g: g.long_text("", max_length + 1)),
        (f"{prefix}.not_string", path, "invalid_field", one_of(7, True, ["a"], {"id": "a"})),
        (f"{prefix}.nul", path, "invalid_field", lambda g: g.text(0, 10) + "\u0000" + g.text(0, 10)),
        (f"{prefix}.control", path, "invalid_field", lambda g: g.text(0, 10) + g.rng.choice(CONTROL_TEXTS) + g.text(0, 10)),
    ]
    if required:
        rules += [(f"{prefix}.missing", path, "missing_field", DELETE), (f"{prefix}.null", path, "invalid_field", None)]
    return rules


def item_rule(name, key, code, value):
    """A rule for one line of data.items, chosen at random."""
    return entry_rule("items", name, key, code, value)


def placed_rules():
    pick = lambda values: (lambda g: g.rng.choice(values))  # noqa: E731
    return envelope_rules("orders") + plain(
        string_rules("placed.order_id", "data.order_id", 200)
        + [("placed.shop.missing", "data.shop", "missing_field", DELETE),
           ("placed.shop.not_object", "data.shop", "invalid_field", one_of(None, "shop-1", 5, [], [{"id": "a"}]))]
        + string_rules("placed.shop.id", "data.shop.id", 200)
        + string_rules("placed.shop.name", "data.shop.name", 200)
        + [("placed.shop.email.invalid", "data.shop.email", "invalid_field", pick(INVALID_EMAILS)),
           ("placed.shop.email.not_string", "data.shop.email", "invalid_field", one_of(5, True, ["a@b.c"])),
           ("placed.shop.phone.invalid", "data.shop.phone", "invalid_field", pick(INVALID_PHONES)),
           ("placed.shop.phone.number", "data.shop.phone", "invalid_field", one_of(33612345678, 1.5)),
           ("placed.shop.webhook_url.invalid", "data.shop.webhook_url", "invalid_field", pick(INVALID_URLS)),
           ("placed.shop.timezone.invalid", "data.shop.timezone", "invalid_field", pick(INVALID_TIME_ZONES)),
           ("placed.shop.timezone.not_string", "data.shop.timezone", "invalid_field", one_of(1, True, ["Europe/Paris"])),
           ("placed.customer.missing", "data.customer", "missing_field", DELETE),
           ("placed.customer.not_object", "data.customer", "invalid_field", one_of(None, "Camille", 5, []))]
        + string_rules("placed.customer.name", "data.customer.name", 200)
        + [("placed.customer.email.invalid", "data.customer.email", "invalid_field", pick(INVALID_EMAILS)),
           ("placed.customer.phone.invalid", "data.customer.phone", "invalid_field", pick(INVALID_PHONES)),
           ("placed.customer.locale.invalid", "data.customer.locale", "invalid_field",
            one_of("de", "FR", "fr-FR", "", "english", 1, True)),
           ("placed.items.missing", "data.items", "missing_field", DELETE),
           ("placed.items.null", "data.items", "invalid_field", None),
           ("placed.items.not_array", "data.items", "invalid_field", one_of({}, {"sku": "a"}, "baguette", 2)),
           ("placed.items.empty", "data.items", "invalid_field", []),
           ("placed.items.too_many", "data.items", "invalid_field",
            lambda g: [{"sku": f"s{i}", "name": "n", "quantity": 1, "unit_price_cents": 1} for i in range(501)]),
           ("placed.total_cents.missing", "data.total_cents", "missing_field", DELETE),
           ("placed.total_cents.null", "data.total_cents", "invalid_field", None),
           ("placed.total_cents.out_of_range", "data.total_cents", "invalid_field",
            one_of(-1, 100_000_000_001, 10**19, 1e30)),
           ("placed.total_cents.not_integer", "data.total_cents", "invalid_field", one_of(9.8, "980", True)),
           ("placed.currency.missing", "data.currency", "missing_field", DELETE),
           ("placed.currency.invalid", "data.currency", "invalid_field", one_of("eur", "USD", "EURO", "", "€", 978, None))]
        + timestamp_rules("placed", "placed_at")
        + [("placed.pickup_deadline.invalid", "data.pickup_deadline", "invalid_field", lambda g: g.bad_timestamp())]
    ) + [
        item_rule("placed.item.not_object", None, "invalid_field", one_of(None, 40, "baguette", [], [{"sku": "a"}])),
        item_rule("placed.item.sku.missing", "sku", "missing_field", DELETE),
        item_rule("placed.item.sku.invalid", "sku", "invalid_field", one_of("", None, 7, "a\u0000")),
        item_rule("placed.item.sku.too_long", "sku", "invalid_field", lambda g: g.long_text("", 201)),
        item_rule("placed.item.name.missing", "name", "missing_field", DELETE),
        item_rule("placed.item.name.invalid", "name", "invalid_field", one_of("", None, 7, ["x"])),
        item_rule("placed.item.quantity.missing", "quantity", "missing_field", DELETE),
        item_rule("placed.item.quantity.out_of_range", "quantity", "invalid_field", one_of(0, -1, 1_000_001, 10**12)),
        item_rule("placed.item.quantity.not_integer", "quantity", "invalid_field", one_of(1.5, "2", None, True)),
        item_rule("placed.item.unit_price_cents.missing", "unit_price_cents", "missing_field", DELETE),
        item_rule("placed.item.unit_price_cents.out_of_range", "unit_price_cents", "invalid_field",
                  one_of(-1, 100_000_001)),
        item_rule("placed.item.unit_price_cents.not_integer", "unit_price_cents", "invalid_field", one_of(1.3, "130", None)),
        too_large,
    ]


def event_rules(job_type):
    short = job_type.split(".")[1]
    rules = string_rules(f"{short}.order_id", "data.order_id", 200) + timestamp_rules(short, "at")
    if job_type == "order.ready":
        rules.append(("ready.pickup_deadline.invalid", "data.pickup_deadline", "invalid_field", lambda g: g.bad_timestamp()))
    if job_type == "order.cancelled":
        rules += [("cancelled.by.missing", "data.by", "missing_field", DELETE),
                  ("cancelled.by.null", "data.by", "invalid_field", None),
                  ("cancelled.by.invalid", "data.by", "invalid_field",
                   one_of("admin", "Shop", "client", "", "shop ", "x" * 21, 1, True, ["shop"]))]
        rules += string_rules("cancelled.reason", "data.reason", 500, required=False)
    return envelope_rules("orders") + plain(rules) + [too_large]


def slot_not_after(g, job):
    """slot_end not strictly after slot_start, in one of the ways JSON Schema cannot see."""
    data = job["data"]
    start = datetime.fromisoformat(data["slot_start"].replace("Z", "+00:00"))
    kind = g.rng.choice(["equal", "same_instant", "earlier", "same_microsecond", "earlier_instant_later_clock"])
    if kind == "equal":
        end = data["slot_start"]
    elif kind == "same_instant":  # the same instant written in another offset
        end = start.astimezone(timezone(timedelta(minutes=g.rng.choice([-300, 60, 330, 840])))).isoformat()
    elif kind == "earlier":
        end = g.at((start - timedelta(seconds=g.rng.choice([1, 60, 1800, 86400]))).astimezone(timezone.utc))
    elif kind == "same_microsecond":  # later by under a microsecond: both round to the same one
        base = start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        data["slot_start"] = f"{base}.0000006Z"
        end = f"{base}.0000014Z"
    else:  # a later wall-clock time in an offset further east: an earlier instant
        local = start.astimezone(timezone(timedelta(hours=14))) - timedelta(hours=1)
        end = local.isoformat()
    return "booked.slot_end.not_after", "data.slot_end", "invalid_field", end


def pickup_rules(job_type):
    short = job_type.split(".")[1]
    rules = string_rules(f"{short}.order_id", "data.order_id", 200)
    extra = []
    if job_type == "pickup.booked":
        rules += timestamp_rules(short, "slot_start") + timestamp_rules(short, "slot_end")
        extra = [slot_not_after]
    return envelope_rules("pickups") + plain(rules) + extra + [too_large]


def end_not_after(g, job):
    """An appointment's end not strictly after its start, as slot_not_after does it."""
    data = job["data"]
    renamed = {"data": {"slot_start": data["start"], "slot_end": data["end"]}}
    _, _, code, end = slot_not_after(g, renamed)
    data["start"] = renamed["data"]["slot_start"]
    return "appointment.end.not_after", "data.end", code, end


def appointment_rules(job_type):
    short = job_type.split(".")[1]
    pick = lambda values: (lambda g: g.rng.choice(values))  # noqa: E731
    rules = string_rules(f"{short}.appointment_id", "data.appointment_id", 200) + timestamp_rules(short, "at")
    extra = []
    if job_type == "appointment.booked":
        rules += ([("booked.shop.missing", "data.shop", "missing_field", DELETE),
                   ("booked.shop.not_object", "data.shop", "invalid_field", one_of(None, "salon-1", 5, []))]
                  + string_rules("booked.shop.id", "data.shop.id", 200)
                  + string_rules("booked.shop.name", "data.shop.name", 200)
                  + string_rules("booked.shop.address", "data.shop.address", 500, required=False)
                  + [("booked.shop.email.invalid", "data.shop.email", "invalid_field", pick(INVALID_EMAILS)),
                     ("booked.shop.phone.invalid", "data.shop.phone", "invalid_field", pick(INVALID_PHONES)),
                     ("booked.shop.webhook_url.invalid", "data.shop.webhook_url", "invalid_field", pick(INVALID_URLS)),
                     ("booked.shop.timezone.invalid", "data.shop.timezone", "invalid_field", pick(INVALID_TIME_ZONES)),
                     ("booked.service.missing", "data.service", "missing_field", DELETE),
                     ("booked.service.not_object", "data.service", "invalid_field", one_of(None, "Coupe", 5, []))]
                  + string_rules("booked.service.name", "data.service.name", 200)
                  + [("booked.service.duration_minutes.out_of_range", "data.service.duration_minutes", "invalid_field",
                      one_of(0, -1, 10081, 10**12)),
                     ("booked.service.duration_minutes.not_integer", "data.service.duration_minutes", "invalid_field",
                      one_of(1.5, "45", True, []))]
                  + timestamp_rules(short, "start") + timestamp_rules(short, "end")
                  + [("booked.customer.missing", "data.customer", "missing_field", DELETE),
                     ("booked.customer.not_object", "data.customer", "invalid_field", one_of(None, "Camille", 5, []))]
                  + string_rules("booked.customer.name", "data.customer.name", 200)
                  + [("booked.customer.email.invalid", "data.customer.email", "invalid_field", pick(INVALID_EMAILS)),
                     ("booked.customer.phone.invalid", "data.customer.phone", "invalid_field", pick(INVALID_PHONES)),
                     ("booked.customer.locale.invalid", "data.customer.locale", "invalid_field",
                      one_of("de", "FR", "fr-FR", "", 1, True))])
        extra = [end_not_after]
    if job_type == "appointment.rescheduled":
        rules += timestamp_rules(short, "start") + timestamp_rules(short, "end")
        extra = [end_not_after]
    if job_type == "appointment.cancelled":
        rules += [("cancelled.by.missing", "data.by", "missing_field", DELETE),
                  ("cancelled.by.null", "data.by", "invalid_field", None),
                  ("cancelled.by.invalid", "data.by", "invalid_field", one_of("admin", "Shop", "salon", "", 1, ["shop"]))]
        rules += string_rules("cancelled.reason", "data.reason", 500, required=False)
    return envelope_rules("appointments") + plain(rules) + extra + [too_large]


NOT_IN_SCHEMA = {"levels.sku.duplicate", "size.too_large", "booked.slot_end.not_after", "appointment.end.not_after"}


def schema_check(validator, job, field, valid, rule):
    """Whether the schema's verdict agrees with the case; returns an error text or None."""
    errors = list(validator.iter_errors(job))
    if valid or rule in NOT_IN_SCHEMA:
        return None if not errors else f"schema rejects it: {[e.message[:80] for e in errors]}"
    if not errors:
        return "schema accepts it"
    named = set(c.error_paths(errors))
    for error in errors:  # a missing field is reported at its parent: name the field itself
        if error.validator == "required" and isinstance(error.instance, dict):
            parent = c.error_paths([error])[0]
            named.update(f"{parent}.{k}" if parent else k for k in error.validator_value if k not in error.instance)
    if (field or "") not in named:
        return f"schema names {sorted(named)}, not {field}"
    return None


# The plan for the valid order events: valid order.placed i is followed by
#   phase 2: order.confirmed i (order.ready i when i % 5 == 4)
#   phase 3: order.ready i (order.confirmed i when i % 5 == 4: late, kept in history, no change)
#   phase 4: order.collected i when i % 3 == 0, order.cancelled i when i % 3 == 1; i % 3 == 2 stays ready
#   phase 5: late events after the end: order.cancelled of a collected order, order.collected of a
#            cancelled one, and a second order.collected / order.cancelled (another id) of an order
#            already collected / cancelled: all kept in history, none changes anything.
# Final status: collected (i % 3 == 0), cancelled (1), ready (2).
def event_plan(job_type, i, orders):
    """(index of the order, phase, whether it changes the order) of valid event i."""
    assert orders > 0
    i_order = i % orders
    if job_type == "order.confirmed":
        return i_order, (3 if i_order % 5 == 4 else 2), i_order % 5 != 4
    if job_type == "order.ready":
        return i_order, (2 if i_order % 5 == 4 else 3), True
    group = i_order % 3
    if job_type == "order.collected":
        if group == 0:
            return i_order, 4, True
        return (i_order, 5, False) if group == 1 else (i_order - 2, 5, False)
    if group == 1:  # order.cancelled
        return i_order, 4, True
    return (i_order, 5, False) if group == 0 else (i_order - 1, 5, False)


# The plan for the valid pickup jobs: each valid order k (its final status from event_plan:
# collected when k % 3 == 0, cancelled when 1, still ready when 2) gets at most one pickup
# job per phase, so that the jobs of one order take effect in phase order:
#   s = (k // 3) % 4   phase 2          phase 3
#   0                  booked           booked (moves it)
#   1                  booked           cancelled
#   2                  cancelled        booked
#   3                  booked           -
#   phase 5: booked when k is even, cancelled when odd: applied to the ready orders, kept in
#   the history without effect for the collected and cancelled ones.
# Phases 2 and 3 come before any order ends (phase 4), so those jobs all apply. Each type's
# list is cut at N jobs; the live checks work out every order's slot and reminders from the
# jobs that are in it.
PICKUP_SCRIPTS = [
    [("pickup.booked", 2), ("pickup.booked", 3)],
    [("pickup.booked", 2), ("pickup.cancelled", 3)],
    [("pickup.cancelled", 2), ("pickup.booked", 3)],
    [("pickup.booked", 2)],
]


def pickup_plan(orders, count):
    """{job type: [(index of the order, phase, whether it applies)]}, at most `count` per type."""
    plan = {"pickup.booked": [], "pickup.cancelled": []}
    for k in range(orders):
        script = PICKUP_SCRIPTS[(k // 3) % 4] + [("pickup.booked" if k % 2 == 0 else "pickup.cancelled", 5)]
        for job_type, phase in script:
            if len(plan[job_type]) < count:
                plan[job_type].append((k, phase, phase < 4 or k % 3 == 2))
    return plan


# The plan for the valid appointment events: valid appointment.booked k gets, by k % 4,
#   0: phase 2 rescheduled a day after the booking (applies); phase 3 rescheduled 12 h after
#      the booking: earlier than the one applied, kept in the history without effect
#   1: phase 2 cancelled (applies); phase 3 rescheduled (the appointment is over: no effect)
#   2: phase 2 attended (applies); phase 3 missed (no effect)
#   3: phase 2 missed (applies); phase 3 cancelled (no effect)
# Each type's list is cut at N events; whether an event applies is worked out from the events
# of its appointment that made it into the lists.
APPOINTMENT_SCRIPTS = [
    [("appointment.rescheduled", 2, 86400), ("appointment.rescheduled", 3, 43200)],
    [("appointment.cancelled", 2, 3600), ("appointment.rescheduled", 3, 7200)],
    [("appointment.attended", 2, 3600), ("appointment.missed", 3, 7200)],
    [("appointment.missed", 2, 3600), ("appointment.cancelled", 3, 7200)],
]


def appointment_plan(appointments, count):
    """{job type: [(index of the appointment, phase, whether it applies, seconds after the booking)]},
    at most `count` per type."""
    plan = {t: [] for t in ("appointment.rescheduled", "appointment.cancelled", "appointment.attended", "appointment.missed")}
    for k in range(appointments):
        open_, scheduled = True, 0
        for job_type, phase, after in APPOINTMENT_SCRIPTS[k % 4]:
            if len(plan[job_type]) >= count:
                continue
            applies = open_ and (job_type != "appointment.rescheduled" or after > scheduled)
            if applies:
                if job_type == "appointment.rescheduled":
                    scheduled = after
                else:
                    open_ = False
            plan[job_type].append((k, phase, applies, after))
    return plan


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("-n", "--count", type=int, default=100, help="valid and invalid jobs per job type (default 100)")
    parser.add_argument("--seed", type=int, default=6, help="random seed (default 6)")
    parser.add_argument("--shop-prefix", default=None, help="prefix of the generated shop ids (default gen-SEED)")
    args = parser.parse_args()

    gen = Gen(args.seed, args.shop_prefix or f"gen-{args.seed}")
    schemas = c.load_schemas()
    args.outdir.mkdir(parents=True, exist_ok=True)
    problems = 0
    ids = set()
    gen.time_zones = schemas["order.placed.schema.json"]["$defs"]["timezone"]["enum"]
    placed_orders = []  # the order ids of the valid order.placed jobs, in order
    kinds = [("stock.levels", levels_rules()), ("stock.adjust", adjust_rules()), ("order.placed", placed_rules())]
    kinds += [(t, event_rules(t)) for t in c.ORDER_TYPES[1:]]
    kinds += [(t, pickup_rules(t)) for t in c.PICKUP_TYPES]
    kinds += [(t, appointment_rules(t)) for t in c.APPOINTMENT_TYPES]
    booked_appointments = []  # the appointment ids of the valid appointment.booked jobs, in order
    for job_type, rules in kinds:
        validator = c.validator(schemas, c.schema_for(job_type))
        cases = []
        if job_type in c.APPOINTMENT_TYPES[1:]:
            # Valid events are about the valid appointments (appointment_plan above).
            for target, phase, applied, after in appointment_plan(len(booked_appointments), args.count)[job_type]:
                appointment = booked_appointments[target]
                job = gen.valid(job_type, appointment, gen.booked_at[appointment] + timedelta(seconds=after))
                cases.append((job, True, None, None, "valid", {"order": target, "phase": phase, "applied": applied}))
        elif job_type in c.ORDER_TYPES[1:]:
            # Valid events are about the valid orders (see the module docstring for the plan).
            for i in range(args.count):
                target, phase, applied = event_plan(job_type, i, len(placed_orders))
                job = gen.valid(job_type, placed_orders[target])
                cases.append((job, True, None, None, "valid", {"order": target, "phase": phase, "applied": applied}))
        elif job_type in c.PICKUP_TYPES:
            # Valid pickup jobs are about the valid orders too (pickup_plan above); the first
            # one is padded to exactly 1 MiB.
            for number, (target, phase, applied) in enumerate(pickup_plan(len(placed_orders), args.count)[job_type]):
                job = gen.valid(job_type, placed_orders[target])
                if number == 0 and args.count > 1:
                    job = pad_to(job, c.MAX_BYTES)
                cases.append((job, True, None, None, "valid", {"order": target, "phase": phase, "applied": applied}))
        else:
            specials = gen.specials(job_type)[: max(0, args.count - 1)]  # after at least one ordinary job
            for job in [gen.valid(job_type) for _ in range(args.count - len(specials))] + specials:
                cases.append((job, True, None, None, "valid", {"phase": 1}))
                if job_type == "order.placed":
                    placed_orders.append(job["data"]["order_id"])
                if job_type == "appointment.booked":
                    booked_appointments.append(job["data"]["appointment_id"])
        order = []
        while len(order) < args.count:  # every rule once before any twice
            batch = list(rules)
            gen.rng.shuffle(batch)
            order.extend(batch)
        for rule in order[: args.count]:
            name, job, field, code = gen.invalid(job_type, rule)
            cases.append((job, False, field, code, name, {"phase": 1}))

        path = args.outdir / f"{job_type}.jsonl"
        counts = {True: 0, False: 0}
        with path.open("w", encoding="utf-8") as out:
            for job, valid, field, code, rule, plan in cases:
                text = encode(job, compact=rule in ("size.too_large", "valid") and len(job.get("padding", "")) > 0, rng=gen.rng)
                size = len(text.encode())
                # The id the dead letter carries as job_id: none when the id is at fault or
                # when the daemon does not parse the job (too large).
                job_id = None if field == "id" or code == "too_large" else job["id"]
                problem = schema_check(validator, job, field, valid, rule)
                if valid and size > c.MAX_BYTES:
                    problem = f"valid job of {size} bytes"
                if rule == "size.too_large" and size != c.MAX_BYTES + 1:
                    problem = f"too_large job of {size} bytes"
                if job_id is not None and valid:
                    if job_id in ids:
                        problem = f"duplicate id {job_id}"
                    ids.add(job_id)
                if problem:
                    problems += 1
                    print(f"{path.name}: {rule}: {problem}", file=sys.stderr)
                counts[valid] += 1
                out.write(json.dumps({
                    "job": text, "type": job_type, "valid": valid, "field": field, "code": code, "rule": rule,
                    "schema_valid": valid or rule in NOT_IN_SCHEMA, "id": job_id, **plan,
                }) + "\n")
        print(f"{path}: {counts[True]} valid, {counts[False]} invalid")
    if problems:
        print(f"{problems} generated jobs disagree with the schemas", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
