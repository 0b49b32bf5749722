"""The Grafana dashboard (collector-config/grafana/genai-dashboard.json): valid, laid out without overlap, and
its evaluation panels query only metrics and labels registered in conventions/metrics.yaml (as the
collector's Prometheus exporter names them). That the collector really produces every metric the dashboard
queries is tests/test_processor_e2e.py::test_tempo_and_metrics_config_feeds_the_grafana_dashboard."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import yaml

from genai_otel import conventions

from .servers import REPO

DASHBOARD = REPO / "collector-config" / "grafana" / "genai-dashboard.json"
# The collector's Prometheus exporter: dots become underscores, and these suffixes are added.
SERIES_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("_total",)}
SELECTOR = re.compile(r"\b(genai_otel_[a-z_]+)\{([^}]*)\}")
LABEL_MATCHER = re.compile(r'([a-z_]+)\s*(?:=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\bby \(([^)]*)\)")


def _prometheus(name: str) -> str:
    return name.replace(".", "_")


def _registered_metrics(node: Any = None) -> dict[str, dict[str, Any]]:
    """Every metric conventions/metrics.yaml defines (profiles, database, evaluation), by Prometheus name."""
    node = conventions.load("metrics.yaml") if node is None else node
    found: dict[str, dict[str, Any]] = {}
    if isinstance(node, dict):
        if isinstance(node.get("name"), str) and "instrument" in node:
            found[_prometheus(node["name"])] = node
        for value in node.values():
            found.update(_registered_metrics(value))
    elif isinstance(node, list):
        for value in node:
            found.update(_registered_metrics(value))
    return found


def _series(registered: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Prometheus series name -> the registered metric's Prometheus name."""
    return {
        base + suffix: base
        for base, spec in registered.items()
        for suffix in SERIES_SUFFIXES.get(spec["instrument"], ("",))
    }


def _queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    return exprs + [variable["definition"] for variable in dashboard["templating"]["list"]]


def _evaluator_labels() -> set[str]:
    """Every string literal of the evaluators' code and every rubric label: the verdicts they can give."""
    sources = [*(REPO / "src" / "genai_otel" / "evaluation").glob("*.py")]
    sources.append(REPO / "src" / "genai_otel" / "processor" / "evaluation.py")
    literals = {
        node.value
        for path in sources
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    for rubric in (REPO / "src" / "genai_otel" / "evaluation" / "rubrics").glob("*.yaml"):
        literals.update(yaml.safe_load(rubric.read_text())["labels"])
    return literals


def test_dashboard_is_valid_keeps_its_panels_and_lays_them_out_without_overlap():
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    titles = {panel["title"] for panel in panels}
    assert {
        "Calls per second by model",
        "Latency p95 by model",
        "Errors per second by provider and error type",
        "Tokens per second (input / output) by model",
        "Cost per hour (USD) by model",
        "Agent invocations per second by agent",
    } <= titles
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        place = panel["gridPos"]
        assert place["x"] + place["w"] <= 24, panel["title"]
        for row in range(place["y"], place["y"] + place["h"]):
            for column in range(place["x"], place["x"] + place["w"]):
                assert (row, column) not in cells, f"{panel['title']} overlaps {cells[(row, column)]}"
                cells[(row, column)] = panel["title"]
    datasources = yaml.safe_load((DASHBOARD.parent / "datasources.yaml").read_text())["datasources"]
    uids = {source["uid"] for source in datasources}
    for panel in panels:
        if "datasource" in panel:
            assert panel["datasource"]["uid"] in uids, panel["title"]
    repeated = [panel for panel in panels if "repeat" in panel]
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert all(panel["repeat"] in variables for panel in repeated)


def test_evaluation_panels_query_registered_metrics_and_labels():
    dashboard = json.loads(DASHBOARD.read_text())
    registered = _registered_metrics()
    series = _series(registered)
    labels_of = {
        base: {_prometheus(name) for name in spec.get("attributes") or ()} | {"le"}
        for base, spec in registered.items()
    }
    every_label = set().union(*labels_of.values())
    queried = set()
    for expr in _queries(dashboard):
        names = set(re.findall(r"\bgenai_otel_[a-z_]+\b", expr)) - every_label
        unknown = names - set(series)
        assert not unknown, f"not a registered metric (conventions/metrics.yaml): {unknown} in {expr}"
        metrics = {series[name] for name in names}
        queried |= metrics
        allowed = set().union(*(labels_of[metric] for metric in metrics)) if metrics else set()
        for name, selector in SELECTOR.findall(expr):
            used = {label for label, _value in LABEL_MATCHER.findall(selector)}
            assert used <= labels_of[series[name]], f"{name} has no label {used - labels_of[series[name]]}"
        for grouping in GROUPING.findall(expr):
            if metrics:
                used = {label.strip() for label in grouping.split(",")}
                assert used <= allowed, f"grouped by labels {used - allowed} that {metrics} lack: {expr}"
    evaluation = {base for base in registered if base.startswith("genai_otel_evaluation_")}
    assert evaluation, "conventions/metrics.yaml registers no evaluation metric"
    assert evaluation <= queried, f"evaluation metrics with no panel: {evaluation - queried}"


def test_failing_verdicts_are_labels_the_evaluators_give():
    dashboard = json.loads(DASHBOARD.read_text())
    (failing,) = {
        value
        for expr in _queries(dashboard)
        for label, value in LABEL_MATCHER.findall(expr)
        if label == "gen_ai_evaluation_score_label"
    }
    verdicts = set(failing.split("|"))
    assert {"ungrounded", "irrelevant", "unfaithful", "invalid"} <= verdicts
    assert verdicts <= _evaluator_labels(), verdicts - _evaluator_labels()
