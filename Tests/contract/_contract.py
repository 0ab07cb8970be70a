"""Shared helpers of the contract checks: the schemas, validators and field paths.

Field paths are written the way the daemon names fields in its dead letters:
`data.levels[3].sku`.
"""

import json
import os
import re
import subprocess
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
PAYLOADS = ROOT / "examples" / "payloads"


def _families():
    """The queues and their job types as the daemon's one list of job families has them
    (`relais validate --families`), so that a new family is checked here without an edit."""
    binary = os.environ.get("RELAIS_BIN")
    if not binary:
        raise SystemExit("RELAIS_BIN must name the relais binary (scripts/contract-tests sets it)")
    out = subprocess.run([binary, "validate", "--families"], check=True, capture_output=True, text=True).stdout
    return {f["queue"]: tuple(f["types"]) for f in map(json.loads, out.splitlines())}


FAMILIES = _families()
QUEUES = tuple(FAMILIES)
JOB_TYPES = tuple(t for types in FAMILIES.values() for t in types)
STOCK_TYPES = FAMILIES["stock"]
ORDER_TYPES = FAMILIES["orders"]
PICKUP_TYPES = FAMILIES["pickups"]
APPOINTMENT_TYPES = FAMILIES["appointments"]
MAX_BYTES = 1 << 20  # the daemon's payload limit (EnvelopeRules.maxBytes)


def load_schemas():
    """Every schema file, by file name."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMAS.glob("*.schema.json"))}


def registry(schemas):
    """A registry that resolves the schemas' $ids (and so their relative $refs) offline."""
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())


def validator(schemas, name):
    """A draft 2020-12 validator for `name` that also asserts `format` (date-time)."""
    return Draft202012Validator(
        schemas[name], registry=registry(schemas), format_checker=Draft202012Validator.FORMAT_CHECKER)


def queue_of(job_type):
    """The queue a job type belongs to, as `relais validate --families` says (`stock.levels` ->
    `stock`, `order.placed` -> `orders`, `delivery.shipped` -> `deliveries`); `stock` for a type
    no queue has."""
    return next((queue for queue, types in FAMILIES.items() if job_type in types), "stock")


def payloads():
    """The example payloads, by file stem (`order.placed`, `order.placed.2`, ...)."""
    return {p.name[:-len(".json")]: json.loads(p.read_text(encoding="utf-8")) for p in sorted(PAYLOADS.glob("*.json"))}


def schema_for(job_type):
    return f"{job_type}.schema.json"


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path):
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def get(obj, path):
    for step in _steps(path):
        obj = obj[step]
    return obj


def put(obj, path, value):
    """Sets the value at `path`, creating nothing: the parent must exist."""
    *parents, last = _steps(path)
    for step in parents:
        obj = obj[step]
    obj[last] = value


def delete(obj, path):
    *parents, last = _steps(path)
    for step in parents:
        obj = obj[step]
    del obj[last]


def error_paths(errors):
    """The field paths of jsonschema errors, in the daemon's notation."""
    out = []
    for error in errors:
        path = ""
        for step in error.absolute_path:
            path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else step)
        out.append(path)
    return out


MAX_DEPTH = 128  # objects and arrays nest at most this deep, the job itself counting


def read_job(raw):
    """The job in `raw` (bytes) as Relais reads it; ValueError (or RecursionError) for what
    Relais refuses as malformed_json before any schema applies. docs/producers.md shows the
    same function to producers.

    Beyond json.loads: the bytes must be UTF-8 (no overlong forms, no encoded surrogates);
    NaN and Infinity are refused; no escaped lone surrogate in any string, no U+0000 in a
    key, no key twice in the top-level object, nesting at most 128 deep. json.loads already
    refuses raw control characters in strings and a decimal point without digits."""
    def constant(name):
        raise ValueError(f"{name} is not JSON")

    last = []

    def pairs(items):
        if any("\0" in key for key, _ in items):
            raise ValueError("U+0000 in a key")
        last[:] = [key for key, _ in items]
        return dict(items)

    job = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)
    if isinstance(job, dict) and len(set(last)) != len(last):  # the top-level object is the hook's last call
        raise ValueError("a key repeated in the top-level object")

    def check(value, depth):
        if isinstance(value, str):
            value.encode("utf-8")  # fails on a lone surrogate from a \ud800 escape
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise ValueError(f"nesting deeper than {MAX_DEPTH}")
            for item in (value.items() if isinstance(value, dict) else value):
                for part in (item if isinstance(value, dict) else (item,)):
                    check(part, depth + 1)

    check(job, 1)
    return job
