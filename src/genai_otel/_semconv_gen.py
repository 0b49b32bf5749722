"""Generate ``semconv.py`` from the YAML registry in ``conventions/``.

Run ``genai-otel semconv generate`` after editing ``conventions/``; ``genai-otel semconv check``
(and the test suite) fails while the generated module is stale. Both work from an installed wheel: the
YAML files ship as package data (``genai_otel/_conventions``, a symlink to ``conventions/`` in a checkout).

``semconv.py`` carries names and shapes only; runtime data (prices, normalisation dialects) is read from
the package data by :mod:`genai_otel.conventions`.
"""

from __future__ import annotations

import pprint
import re
from pathlib import Path
from typing import Any

CONVENTIONS_DIR = Path(__file__).resolve().parent / "_conventions"
GENERATED_MODULE = Path(__file__).resolve().parent / "semconv.py"

HEADER = '''"""GenAI semantic convention names and shapes used by genai-otel.

GENERATED from conventions/*.yaml by `genai-otel semconv generate`. DO NOT EDIT BY HAND.
"""
# fmt: off
'''


def _load(name: str) -> Any:
    import yaml  # development-time dependency only: the generated module needs no YAML

    with open(CONVENTIONS_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _constant(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).upper()


def _literal(value: Any) -> str:
    return pprint.pformat(value, width=110, sort_dicts=True)


def render() -> str:
    """Return the source of ``semconv.py`` for the current YAML registry."""
    attributes = _load("attributes.yaml")
    spans = _load("spans.yaml")
    metrics = _load("metrics.yaml")
    events = _load("events.yaml")
    upstream = _load("UPSTREAM.yaml")

    prefix = attributes["project_prefix"]
    for name, spec in attributes["attributes"].items():
        own = spec["source"] == "genai_otel"
        if own != name.startswith(prefix):
            raise ValueError(f"{name}: our own attributes, and only they, use the prefix {prefix!r}")

    lines = [
        HEADER,
        f"PROJECT_PREFIX = {prefix!r}",
        "",
        "# The upstream conventions followed (conventions/UPSTREAM.yaml); SCHEMA_URL goes on tracers, meters",
        "# and loggers.",
        f"UPSTREAM_REPOSITORY = {upstream['repository']!r}",
        f"UPSTREAM_COMMIT = {upstream['commit']!r}",
        f"SCHEMA_URL = {upstream['schema_url']!r}",
        "",
        "# Attributes",
    ]
    lines += [f"{_constant(name)} = {name!r}" for name in attributes["attributes"]]
    lines += ["", "# Operation names (gen_ai.operation.name)"]
    operations = sorted(
        {op for shape in spans["spans"].values() if "key" not in shape for op in shape["operations"]}
    )
    lines += [f"OPERATION_{_constant(op)} = {op!r}" for op in operations]
    lines += ["", "# Metric names (all profiles)"]
    metric_names = sorted(
        {m["name"] for p in metrics["profiles"].values() for m in p["metrics"]}
        | {m["name"] for m in metrics.get("evaluation_metrics", ())}
    )
    lines += [f"METRIC_{_constant(name)} = {name!r}" for name in metric_names]
    lines += ["", "# Event names"]
    lines += [f"EVENT_{_constant(name)} = {name!r}" for name in events["events"]]
    lines += [""]
    content = sorted(n for n, s in attributes["attributes"].items() if s.get("content"))
    tables = {
        "ATTRIBUTES": attributes["attributes"],
        "CONTENT_ATTRIBUTES": content,
        "SPAN_SHAPES": spans["spans"],
        "COMMON_SPAN_ATTRIBUTES": spans["common_attributes"],
        "METRIC_BUCKETS": metrics["buckets"],
        "METRIC_POINT_ATTRIBUTES": metrics["point_attributes"],
        "DEFAULT_METRIC_PROFILE": metrics["default_profile"],
        "METRIC_PROFILES": metrics["profiles"],
        "DB_METRICS": metrics["db_metrics"],
        "DB_METRIC_POINT_ATTRIBUTES": metrics["db_point_attributes"],
        "EVALUATION_METRICS": metrics["evaluation_metrics"],
        "EVALUATION_METRIC_BUCKETS": metrics["evaluation_buckets"],
        "EVENTS": events["events"],
    }
    for name, value in tables.items():
        lines.append(f"{name} = {_literal(value)}")
        lines.append("")
    return "\n".join(lines)


def generate() -> Path:
    """Write ``semconv.py``; returns its path."""
    GENERATED_MODULE.write_text(render(), encoding="utf-8")
    return GENERATED_MODULE


def is_stale() -> bool:
    """Whether ``semconv.py`` differs from what :func:`render` gives now."""
    return GENERATED_MODULE.read_text(encoding="utf-8") != render()
