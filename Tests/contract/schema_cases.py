"""Test jobs derived from a job type's JSON Schema, for the job types generate_cases.py has no
hand-written rules for: every family but stock, orders and pickups (deliveries, and any family
`relais validate --families` lists once its schemas are in docs/schemas), with no edit here.

Valid jobs: the type's example payload (examples/payloads/<type>.json) with every field the
schema describes drawn again within its schema: strings of random text up to their maxLength
(sometimes exactly at it, in multi-byte or multi-code-point characters), date-times in the
forms producers send, integers within their bounds, enum members, arrays of minItems to a few
entries, optional fields absent, null or present, fields in any order. A string whose pattern
this module does not know keeps the example's value.

Invalid jobs: each breaks exactly one rule of the schema, so the dead letter's code and field
are known: a required field missing (missing_field) or null; a value of a JSON type the schema
does not allow; an empty string; a string one code point over maxLength; a control character
or U+0000 in a line of text; a value outside an enum; an integer one below minimum, above
maximum, or with a fraction; a malformed date-time, e-mail, E.164 phone, URL or time zone (by
the $defs of envelope.schema.json and order.placed.schema.json the field refers to); an array
with fewer than minItems or more than maxItems entries; an entry that is not an object; and so
on for every field of nested objects and array entries (invalid_field).

Rules JSON Schema cannot state are read from the schemas' `$comment` and `description`, in
the words pickup.booked.schema.json uses: "<field> must be [strictly] after <other field>",
two date-times of the same object. Valid jobs keep them; invalid jobs break them (equal, the
same instant in another offset, earlier, later by under a microsecond), which the schema
accepts (schema_valid true) and Relais refuses at the later field (invalid_field).
"""

import copy
import re
from datetime import datetime, timedelta, timezone

import _contract as c

TEXT_PATTERN = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028-\\u2029]*$(?![\\s\\S])"
AFTER = re.compile(r"\b([a-z][a-z0-9_]*) must be (?:strictly )?after ([a-z][a-z0-9_]*)\b")
# One value of each JSON type, to put where the schema allows other types only.
SAMPLES = {"string": "7", "integer": 7, "number": 1.5, "boolean": True, "array": ["a"], "object": {"a": 1}}
# String fields whose values come from lists (the $defs of order.placed.schema.json), and date-times.
KINDS = ("timestamp", "email", "phone", "webhook_url", "timezone")
STEPS = re.compile(r"\[\*\]|[^.\[\]]+")


class Field:
    """One field a schema describes: its path (`data.relay.name`; `data.lines[*]` for the
    entries of an array, `data.lines[*].quantity` for their fields), whether its object
    requires it, its schema with $refs followed, and the names of the $defs it went through
    (such as `timestamp` or `email`)."""

    def __init__(self, path, required, schema, defs, entry=False):
        self.path, self.required, self.schema, self.defs, self.entry = path, required, schema, defs, entry

    @property
    def types(self):
        out = set()
        for node in [self.schema] + self.schema.get("anyOf", []):
            t = node.get("type")
            out |= {t} if isinstance(t, str) else set(t or [])
        if "enum" in self.schema:
            out |= {"null"} if None in self.schema["enum"] else set()
        return out

    @property
    def nullable(self):
        return "null" in self.types

    @property
    def value(self):
        """The schema of a non-null value: the other branch of an anyOf [X, null], or the schema."""
        options = [o for o in self.schema.get("anyOf", []) if o.get("type") != "null"]
        return {**self.schema, **options[0]} if len(options) == 1 else self.schema

    @property
    def name(self):
        return self.path.rsplit(".", 1)[-1]


class SchemaModel:
    """A job type's `data` schema as a list of fields, and its "must be after" rules."""

    def __init__(self, schemas, job_type):
        self.schemas = schemas
        self.job_type = job_type
        self.file = c.schema_for(job_type)
        data, file, _ = self.resolve(schemas[self.file]["properties"]["data"], self.file)
        self.data = data
        self.fields = []
        self.after = []  # (object path, later field, earlier field)
        self.walk(data, "data", file)
        self.by_path = {f.path: f for f in self.fields}

    def resolve(self, node, file):
        """`node` with its $ref chain followed (sibling keywords kept; anyOf branches too), the
        file it lies in, and the $defs names passed through."""
        defs = []
        while "$ref" in node:
            target_file, _, pointer = node["$ref"].partition("#")
            target_file = target_file or file
            target = self.schemas[target_file]
            for step in [p for p in pointer.split("/") if p]:
                target = target[step]
            if pointer.startswith("/$defs/"):
                defs.append(pointer.rsplit("/", 1)[1])
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            file = target_file
        if "anyOf" in node:
            options = []
            for option in node["anyOf"]:
                resolved, _, more = self.resolve(option, file)
                defs += [d for d in more if d not in defs]
                options.append(resolved)
            node = {**node, "anyOf": options}
        return node, file, defs

    def walk(self, node, path, file):
        for text in (node.get("$comment", ""), node.get("description", "")):
            for later, earlier in AFTER.findall(text):
                props = node.get("properties", {})
                # (inside array entries such a rule is left to the hand-written tests)
                if later in props and earlier in props and "[*]" not in path and (path, later, earlier) not in self.after:
                    self.after.append((path, later, earlier))
        required = set(node.get("required", []))
        for name, sub in node.get("properties", {}).items():
            resolved, sub_file, defs = self.resolve(sub, file)
            field = Field(f"{path}.{name}", name in required, resolved, defs)
            self.fields.append(field)
            value = field.value
            if "object" in field.types and "properties" in value:
                self.walk(value, field.path, sub_file)
            if "array" in field.types and isinstance(value.get("items"), dict):
                items, items_file, items_defs = self.resolve(value["items"], sub_file)
                entry = Field(f"{field.path}[*]", True, items, items_defs, entry=True)
                self.fields.append(entry)
                if "object" in entry.types and "properties" in items:
                    self.walk(items, entry.path, items_file)

    def children(self, path):
        """The fields of the object at `path`."""
        out = []
        for f in self.fields:
            rest = f.path[len(path) + 1:] if f.path.startswith(path + ".") else ""
            if rest and "." not in rest and "[" not in rest:
                out.append(f)
        return out

    def kind(self, field):
        """What a string field holds: one of KINDS, `text` (a line of text), or `opaque` (a
        pattern this module does not know)."""
        for name in reversed(field.defs):
            if name in KINDS:
                return name
        value = field.value
        if value.get("format") == "date-time":
            return "timestamp"
        return "text" if value.get("pattern") in (None, TEXT_PATTERN) else "opaque"

    def subject_key(self):
        """The first required `*_id` string of data: what the job is about (`order_id`, ...)."""
        for field in self.children("data"):
            if field.required and field.name.endswith("_id") and "string" in field.types:
                return field.name
        return None


def parse_time(text):
    """An RFC 3339 date-time of the schema's form as an aware datetime (microseconds cut)."""
    m = re.match(r"^(.{19})(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    frac = (m[2] or ".0")[1:7].ljust(6, "0")
    return datetime.fromisoformat(f"{m[1]}.{frac}{'+00:00' if m[3] == 'Z' else m[3]}")


class SchemaCases:
    """Valid jobs and rules for the job types of SchemaModels, drawn with generate_cases.Gen's
    random strings and date-times, its address lists (`lists`: kind -> (valid, invalid), and
    `control`: control-character strings) and its DELETE marker."""

    def __init__(self, gen, lists, delete):
        self.g = gen
        self.lists = lists
        self.DELETE = delete

    # Valid values ----------------------------------------------------------------

    def valid(self, model, field, example):
        """A valid value for `field`; `example` (the example payload's) when none can be drawn."""
        g, schema = self.g, field.value
        types = field.types - {"null"}
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return g.rng.choice([v for v in schema["enum"] if v is not None])
        if "string" in types:
            kind = model.kind(field)
            if kind == "timestamp":
                return g.timestamp()
            if kind in ("email", "phone", "webhook_url"):
                return g.rng.choice(self.lists[kind][0])
            if kind == "timezone":
                return g.rng.choice(g.time_zones)
            if kind == "text":
                lo, hi = max(1, schema.get("minLength", 0)), schema.get("maxLength", 200)
                if g.rng.random() < 0.05 and hi <= 10_000:
                    return g.long_text("", hi)
                return g.text(lo, max(lo, min(hi, 40)))[:hi]
            return example
        if "integer" in types:
            lo, hi = schema.get("minimum", -(10**9)), schema.get("maximum", 10**9)
            value = g.rng.choice([lo, hi, g.rng.randint(lo, hi), g.rng.randint(lo, min(hi, lo + 100))])
            return float(value) if g.rng.random() < 0.03 and abs(value) < 2**53 else value  # 40.0 is 40
        if "boolean" in types:
            return g.rng.choice([True, False])
        if "object" in types and "properties" in schema:
            return self.valid_object(model, field.path, example if isinstance(example, dict) else {})
        if "array" in types and field.path + "[*]" in model.by_path:
            lo, hi = schema.get("minItems", 0), schema.get("maxItems", 20)
            n = g.rng.randint(max(lo, 1), max(lo, 1, min(hi, 6)))
            samples = example if isinstance(example, list) and example else [None]
            entry = model.by_path[field.path + "[*]"]
            return [self.valid(model, entry, copy.deepcopy(g.rng.choice(samples))) for _ in range(n)]
        return example

    def valid_object(self, model, path, example):
        """The object at `path`: required fields always, optional ones present, null or absent;
        the fields the schema does not describe kept from `example`."""
        g = self.g
        fields = model.children(path)
        out = {k: v for k, v in example.items() if k not in {f.name for f in fields}}
        for field in fields:
            if not field.required:
                roll = g.rng.random()
                if roll < 0.2:
                    continue
                if roll < 0.3 and field.nullable:
                    out[field.name] = None
                    continue
            value = self.valid(model, field, example.get(field.name))
            if value is not None or field.name in example:
                out[field.name] = value
        if g.rng.random() < 0.3:  # producers put the fields in any order
            items = list(out.items())
            g.rng.shuffle(items)
            out = dict(items)
        return out

    def keep_order(self, model, job):
        """Makes each "<later> must be after <earlier>" of `model` hold in `job`: the later one
        1 s to 30 days after the earlier one, often in another offset."""
        g = self.g
        for path, later, earlier in model.after:
            obj = c.get(job, path)
            if not isinstance(obj, dict) or obj.get(earlier) is None:
                continue
            start = datetime(1950, 1, 1, tzinfo=timezone.utc) + timedelta(
                seconds=g.rng.randrange(900 * 365 * 86400), microseconds=g.rng.choice([0, g.rng.randrange(1_000_000)]))
            obj[earlier] = g.at(start)
            if obj.get(later) is not None:
                obj[later] = g.at(start + timedelta(seconds=g.rng.choice([1, 60, 3600, 86400, 10 * 86400, 30 * 86400])))

    def job(self, model, example):
        """A valid job of `model`'s type, drawn from the example payload `example`."""
        job = self.g.envelope(model.job_type, self.valid_object(model, "data", copy.deepcopy(example["data"])))
        self.keep_order(model, job)
        return job

    # Rules -----------------------------------------------------------------------

    def ensure(self, model, job, path):
        """The concrete path of `path` in `job` (each [*] an existing index, chosen at random),
        after giving `job` the parents it lacks (an optional object absent or null)."""
        g, node, spath, cpath = self.g, job, "", ""
        parts = STEPS.findall(path)
        for number, part in enumerate(parts):
            last = number == len(parts) - 1
            if part == "[*]":
                spath += "[*]"
                index = g.rng.randrange(len(node))
                cpath += f"[{index}]"
                if last:
                    return cpath
                if not isinstance(node[index], dict):
                    node[index] = self.valid(model, model.by_path[spath], None)
                node = node[index]
            else:
                spath = f"{spath}.{part}" if spath else part
                cpath = f"{cpath}.{part}" if cpath else part
                if last:
                    return cpath
                if spath != "data" and (not isinstance(node.get(part), (dict, list)) or node.get(part) == []):
                    node[part] = self.valid(model, model.by_path[spath], None)
                node = node[part]
        return cpath

    def breaks(self, model, field):
        """(rule suffix, code, value) for each way to break `field` alone: DELETE for absent, a
        function of nothing for a value drawn anew each time."""
        g, schema, types, out = self.g, field.value, field.types, []
        if field.required and not field.entry:
            out.append(("missing", "missing_field", self.DELETE))
        if not field.nullable:
            out.append(("null", "invalid_field", None))
        # A schema that names no type (say an allOf this module does not follow) gets no
        # wrong-type cases rather than cases it may well accept.
        wrong = [SAMPLES[t] for t in SAMPLES if types and t not in types
                 and not (t == "integer" and "number" in types) and not (t == "number" and "integer" in types)]
        if "integer" in types and "number" not in types:
            wrong.append(1.5)
        if "enum" in schema:
            allowed = schema["enum"]
            base = next((v for v in allowed if isinstance(v, str)), "x")
            outside = [base.upper(), base + " ", " " + base, base[:-1], base + "x", "", base.capitalize()]
            wrong = [v for v in wrong + outside if v not in allowed and (v != "7" or "string" not in types)]
            unique = {repr(v): v for v in wrong}.values()
            return out + [("not_allowed", "invalid_field", v) for v in unique]
        out += [("wrong_type", "invalid_field", v) for v in wrong]
        if "string" in types:
            kind = model.kind(field)
            lo, hi = schema.get("minLength", 0), schema.get("maxLength")
            if lo >= 1:
                out.append(("empty", "invalid_field", ""))
            if hi is not None and hi < 100_000:
                out.append(("too_long", "invalid_field", lambda: g.long_text("", hi + 1)))
            if kind == "text":
                out.append(("control", "invalid_field",
                            lambda: g.text(0, 5) + g.rng.choice(self.lists["control"]) + g.text(0, 5)))
                out.append(("nul", "invalid_field", lambda: g.text(0, 5) + "\u0000" + g.text(0, 5)))
            elif kind == "timestamp":
                out.append(("malformed", "invalid_field", g.bad_timestamp))
            elif kind in self.lists:
                bad = self.lists[kind][1]
                out.append(("malformed", "invalid_field", lambda: g.rng.choice(bad)))
        if "integer" in types or "number" in types:
            if "minimum" in schema:
                out.append(("below_minimum", "invalid_field", schema["minimum"] - 1))
            if "maximum" in schema:
                out.append(("above_maximum", "invalid_field", schema["maximum"] + 1))
                out.append(("far_above_maximum", "invalid_field", max(10**19, schema["maximum"] * 10)))
        if "array" in types:
            lo, hi = schema.get("minItems", 0), schema.get("maxItems")
            if lo >= 1:
                out.append(("empty", "invalid_field", []))
            if hi is not None and hi <= 20_000:
                out.append(("too_many", "invalid_field", ("too_many", hi + 1)))
        return out

    def rules(self, model, short):
        """Rule functions (gen, job) -> (rule name, field, code, value) for every field of `model`
        and every "must be after" rule; `short` names them (`at_relay` for delivery.at_relay)."""
        out = []
        for field in model.fields:
            for suffix, code, value in self.breaks(model, field):
                out.append(self.field_rule(model, field, f"{short}.{field.path[5:]}.{suffix}", code, value))
        for path, later, earlier in model.after:
            out.append(self.after_rule(model, path, later, earlier, f"{short}.{(path + '.')[5:]}{later}.not_after"))
        return out

    def field_rule(self, model, field, name, code, value):
        def rule(g, job):
            path = self.ensure(model, job, field.path)
            drawn = value() if callable(value) else copy.deepcopy(value) if isinstance(value, (list, dict)) else value
            if isinstance(drawn, tuple) and drawn[:1] == ("too_many",):
                present = c.get(job, path)
                entry = present[0] if present else self.valid(model, model.by_path[field.path + "[*]"], None)
                drawn = [copy.deepcopy(entry) for _ in range(drawn[1])]
            return name, path, code, drawn
        return rule

    def after_rule(self, model, path, later, earlier, name):
        def rule(g, job):
            obj = c.get(job, path)
            if obj.get(earlier) is None:
                obj[earlier] = g.timestamp()
            start = parse_time(obj[earlier])
            if start.year > 2990 or start.year < 1901:
                start = start.replace(year=2000)
                obj[earlier] = g.at(start.astimezone(timezone.utc))
            how = g.rng.choice(["equal", "same_instant", "earlier", "same_microsecond", "earlier_instant_later_clock"])
            if how == "equal":
                end = obj[earlier]
            elif how == "same_instant":
                end = start.astimezone(timezone(timedelta(minutes=g.rng.choice([-300, 60, 330, 840])))).isoformat()
            elif how == "earlier":
                end = g.at((start - timedelta(seconds=g.rng.choice([1, 60, 1800, 86400]))).astimezone(timezone.utc))
            elif how == "same_microsecond":  # later by under a microsecond: both round to the same one
                base = start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
                obj[earlier] = f"{base}.0000006Z"
                end = f"{base}.0000014Z"
            else:  # a later wall-clock time in an offset further east: an earlier instant
                end = (start.astimezone(timezone(timedelta(hours=14))) - timedelta(hours=1)).isoformat()
            return name, f"{path}.{later}", "invalid_field", end
        return rule
