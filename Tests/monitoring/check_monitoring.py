#!/usr/bin/env python3
"""Checks the shipped monitoring against the metrics Relais exposes and the runbook.

- config/grafana/relais-dashboard.json parses, is a dashboard (schemaVersion, uid, title),
  its panel ids are unique, and every panel and query takes its data source from the
  `datasource` variable (so it imports into any Grafana with a Prometheus);
- every metric name in the dashboard's queries (panels and template variables) and in
  config/prometheus/relais-rules.yml's expressions is one Relais exposes (METRICS below,
  as docs/operations.md lists them), a histogram's _bucket/_sum/_count counting as the
  histogram; a misspelt metric would otherwise only show as an empty panel or an alert
  that never fires;
- every dashboard query is valid PromQL: with Grafana's variables replaced by values
  (`$__rate_interval` 5m, `$instance` .*), they are written as recording rules to a
  temporary file that `promtool check rules` must accept (skipped, saying so, without
  promtool);
- every alert has severity page or ticket, a summary, a description naming its queue or
  channel when it has one, and a runbook_url docs/runbook.md#<anchor> whose anchor is a
  section of docs/runbook.md; and every alert section of the runbook is an alert.

Usage: python3 Tests/monitoring/check_monitoring.py
Needs: python3 with PyYAML (Debian: python3-yaml). Prints one line per check, ends with
`N passed, M failed, K skipped`; exits 1 if anything failed.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config/grafana/relais-dashboard.json"
RULES = ROOT / "config/prometheus/relais-rules.yml"
RUNBOOK = ROOT / "docs/runbook.md"

# The metric families Relais exposes on /metrics, and Prometheus's own `up`.
COUNTERS = {"relais_jobs_total", "relais_dead_letters_total", "relais_notifications_total",
            "relais_delivery_rate_waits_total", "process_cpu_seconds_total"}
HISTOGRAMS = {"relais_job_duration_seconds", "relais_job_wait_seconds"}
GAUGES = {"relais_queue_length", "relais_queue_pending", "relais_queue_retrying", "relais_queue_paused",
          "relais_queue_lag_seconds", "relais_dead_letters_stored", "relais_outbox_messages",
          "relais_outbox_oldest_due_seconds", "relais_outbox_shops_waiting", "relais_ready", "relais_check_ok",
          "relais_consumers_live", "relais_build_info", "process_resident_memory_bytes", "process_open_fds",
          "process_max_fds", "process_start_time_seconds", "up"}
METRICS = COUNTERS | GAUGES | {h + suffix for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}

# PromQL words that look like identifiers but are not metrics.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "inf", "nan"}
SEVERITIES = {"page", "ticket"}

GRAFANA_VALUES = {"$__rate_interval": "5m", "${instance}": ".*", "$instance": ".*"}

passed = failed = skipped = 0


def report(ok, name, detail=""):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok or not detail else ': ' + detail}")


def skip(name, why):
    global skipped
    skipped += 1
    print(f"skip {name}: {why}")


def metric_names(expr):
    """The metric names an expression reads: identifiers outside strings, label matchers,
    grouping clauses and range brackets that are not function calls or keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)                       # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)                      # range and subquery brackets
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def label_values_metric(query):
    """The metric of a Grafana `label_values(metric, label)` query, if it names one."""
    match = re.match(r"\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,", query)
    return {match.group(1)} if match else set()


def anchors(markdown):
    """GitHub's anchors for the headings of a Markdown text."""
    found = set()
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            found.add(slug)
    return found


def check_dashboard():
    try:
        dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        report(False, f"{DASHBOARD.relative_to(ROOT)} parses as JSON", str(error))
        return {}
    report(True, f"{DASHBOARD.relative_to(ROOT)} parses as JSON")
    report(isinstance(dashboard.get("schemaVersion"), int) and dashboard["schemaVersion"] >= 36
           and dashboard.get("uid") and dashboard.get("title"),
           "the dashboard has a schemaVersion (36 or later), a uid and a title")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    report(variables.get("datasource", {}).get("type") == "datasource"
           and variables["datasource"].get("query") == "prometheus",
           "the dashboard has a `datasource` variable of Prometheus data sources")

    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows hold theirs
    ids = [p.get("id") for p in panels]
    report(len(ids) == len(set(ids)) and None not in ids, "every panel has an id of its own", repr(ids))

    queries = {}  # expression -> where
    for panel in panels:
        if panel.get("type") == "row":
            continue
        where = f"panel {panel.get('title')!r}"
        targets = panel.get("targets", [])
        sources = [panel.get("datasource")] + [t.get("datasource") for t in targets]
        report(targets and all(isinstance(s, dict) and s.get("uid") == "${datasource}" for s in sources),
               f"{where}: has queries, each on the ${{datasource}} variable", repr(sources))
        for target in targets:
            queries[target.get("expr", "")] = where
    for name, variable in variables.items():
        if variable.get("type") == "query":
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            report(variable.get("datasource", {}).get("uid") == "${datasource}",
                   f"variable {name}: on the ${{datasource}} variable")
            unknown = label_values_metric(query) - METRICS
            report(not unknown, f"variable {name}: reads only metrics Relais exposes", ", ".join(sorted(unknown)))

    for expr, where in queries.items():
        names = metric_names(expr)
        unknown = names - METRICS
        report(expr and names and not unknown, f"{where}: {expr!r} reads only metrics Relais exposes",
               "unknown: " + ", ".join(sorted(unknown)) if unknown else "no metric found")
    used = set().union(*(metric_names(e) for e in queries)) if queries else set()
    missing = {m for m in METRICS if m not in used and not m.endswith(("_sum", "_count"))} - {"up"}
    report(not missing, "the dashboard shows every metric Relais exposes", "not shown: " + ", ".join(sorted(missing)))
    check_promql(queries)
    return dashboard


def check_promql(queries):
    """Every query parses as PromQL, as promtool parses a recording rule's expression."""
    if not shutil.which("promtool"):
        skip("the dashboard's queries are valid PromQL", "promtool not found (Debian package prometheus)")
        return
    rules = []
    for number, expr in enumerate(queries):
        for variable, value in GRAFANA_VALUES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as file:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, file)  # JSON is YAML
        file.flush()
        done = subprocess.run(["promtool", "check", "rules", file.name], capture_output=True, text=True)
    report(done.returncode == 0, f"the dashboard's {len(rules)} queries are valid PromQL (promtool check rules)",
           (done.stdout + done.stderr).strip()[-600:])


def check_rules(runbook_anchors):
    try:
        rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        report(False, f"{RULES.relative_to(ROOT)} parses as YAML", str(error))
        return set()
    groups = rules.get("groups", []) if isinstance(rules, dict) else []
    report([g.get("name") for g in groups] == ["relais"], "the rules are one group named relais")
    alerts = set()
    for group in groups:
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            alerts.add(name)
            expr = str(rule.get("expr", ""))
            unknown = metric_names(expr) - METRICS
            report(metric_names(expr) and not unknown, f"{name}: its expression reads only metrics Relais exposes",
                   ", ".join(sorted(unknown)))
            if not rule.get("alert"):
                continue
            labels, notes = rule.get("labels", {}), rule.get("annotations", {})
            report(labels.get("severity") in SEVERITIES, f"{name}: severity is page or ticket", repr(labels))
            report(all(notes.get(k) for k in ("summary", "description", "runbook_url")),
                   f"{name}: has a summary, a description and a runbook_url", repr(sorted(notes)))
            for label in ("queue", "channel"):
                if re.search(rf"\bby\s*\([^)]*\b{label}\b", expr):
                    report(f"$labels.{label}" in notes.get("description", ""),
                           f"{name}: its description names the {label}")
            url = notes.get("runbook_url", "")
            anchor = url.partition("#")[2]
            report(url.startswith("docs/runbook.md#") and anchor == name.lower() and anchor in runbook_anchors,
                   f"{name}: runbook_url is docs/runbook.md#{name.lower()}, a section of the runbook", url)
    return alerts


def main():
    runbook = RUNBOOK.read_text(encoding="utf-8") if RUNBOOK.exists() else ""
    report(runbook, "docs/runbook.md exists")
    runbook_anchors = anchors(runbook)
    check_dashboard()
    alerts = check_rules(runbook_anchors)
    sections = {a for a in runbook_anchors if a.startswith("relais") and re.fullmatch(r"relais[a-z]+", a)}
    report(sections == {a.lower() for a in alerts if a},
           "the runbook has one section per alert, and no section for an alert that does not exist",
           f"sections {sorted(sections)}, alerts {sorted(a.lower() for a in alerts if a)}")


if __name__ == "__main__":
    main()
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)
