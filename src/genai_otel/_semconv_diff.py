"""``genai-otel semconv diff UPSTREAM_CHECKOUT``: what differs between conventions/ and upstream.

Reads the model files of a checkout of open-telemetry/semantic-conventions-genai (``model/**/*.yaml``:
the attribute registry, ``spans:``, ``span_refinements:``, ``metrics:``, ``events:`` and
``attribute_groups:``) and compares them with conventions/ (``attributes.yaml``, the ``upstream`` span
types of ``spans.yaml``, the default metric profile of ``metrics.yaml``, ``events.yaml``). Every
difference is one :class:`Drift`; those matching an exception in ``conventions/UPSTREAM.yaml`` are
reported but do not fail the command. Advised buckets are not compared: the model files carry none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from genai_otel import semconv

LEVELS = ("required", "conditionally_required", "recommended", "opt_in")


@dataclass(frozen=True)
class Drift:
    """One difference: ``kind`` and ``subject`` form the id exceptions match (``missing-metric gen_ai.x``)."""

    kind: str
    subject: str
    detail: str
    excepted: str | None = None  # the exception's reason when the drift is deliberate

    @property
    def id(self) -> str:
        return f"{self.kind} {self.subject}"

    def __str__(self) -> str:
        mark = f"  (exception: {self.excepted})" if self.excepted else ""
        return f"{self.id}: {self.detail}{mark}"


@dataclass
class Upstream:
    """The parts of an upstream model the diff reads."""

    attributes: dict[str, str]  # key -> type ("string", "int", ..., enums as "string")
    renamed: dict[str, str]  # deprecated key -> the key it was renamed to
    spans: dict[str, dict[str, Any]]  # span type -> {"kind": ..., "attributes": {key: level}}
    metrics: dict[str, dict[str, Any]]  # name -> {"instrument", "unit", "attributes": {key: level}}
    events: dict[str, dict[str, str]]  # name -> {key: level}


def _yaml_files(root: Path) -> list[Any]:
    import yaml

    return [yaml.safe_load(path.read_text(encoding="utf-8")) or {} for path in sorted(root.rglob("*.yaml"))]


def _type_name(spec: Any) -> str:
    if isinstance(spec, dict):  # an enum: {members: [...]}
        values = [m.get("value") for m in spec.get("members", ())]
        return "int" if values and all(isinstance(v, int) for v in values) else "string"
    return str(spec)


def _level(raw: Any) -> str:
    if isinstance(raw, dict):
        return next(iter(raw))
    return str(raw) if raw else "recommended"


def load_upstream(checkout: Path) -> Upstream:
    """Parse ``checkout/model`` (or ``checkout`` itself when it has no ``model/`` directory)."""
    root = checkout / "model" if (checkout / "model").is_dir() else checkout
    documents = _yaml_files(root)
    attributes: dict[str, str] = {}
    renamed: dict[str, str] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in documents:
        for attr in doc.get("attributes", ()) or ():
            if "key" not in attr:
                continue
            deprecated = attr.get("deprecated")
            if isinstance(deprecated, dict) and deprecated.get("renamed_to"):
                renamed[attr["key"]] = deprecated["renamed_to"]
            elif deprecated is None:
                attributes[attr["key"]] = _type_name(attr.get("type"))
        for group in doc.get("attribute_groups", ()) or ():
            groups[group["id"]] = list(group.get("attributes", ()))

    def resolve(entries: Iterable[dict[str, Any]], seen: frozenset[str] = frozenset()) -> dict[str, str]:
        # Later entries override earlier ones (a ref after a ref_group refines its level).
        out: dict[str, str] = {}
        for entry in entries:
            if str(entry.get("ref_group", "")).startswith("span.") and span_entries.get(
                entry["ref_group"][5:]
            ):
                # An event may take a whole span's attributes (``ref_group: span.<type>``).
                out.update(resolve(span_entries[entry["ref_group"][5:]], seen | {entry["ref_group"]}))
            elif "ref_group" in entry and entry["ref_group"] not in seen:
                resolved = resolve(groups.get(entry["ref_group"], ()), seen | {entry["ref_group"]})
                out.update(resolved)
            elif "ref" in entry and ("requirement_level" in entry or entry["ref"] not in out):
                out[entry["ref"]] = _level(entry.get("requirement_level"))
        return out

    span_entries = {
        span["type"]: list(span.get("attributes", ()))
        for doc in documents
        for span in doc.get("spans", ()) or ()
        if "type" in span
    }
    spans = {
        span["type"]: {
            "kind": str(span.get("kind", "")).upper(),
            "attributes": resolve(span.get("attributes", ())),
            "refinements": {},
        }
        for doc in documents
        for span in doc.get("spans", ()) or ()
        if "type" in span
    }
    # Provider refinements (span_refinements): attributes a provider's spans may add, with their levels.
    for doc in documents:
        for refinement in doc.get("span_refinements", ()) or ():
            span = spans.get(refinement.get("ref"))
            if span is not None:
                for entry in refinement.get("attributes", ()):
                    if (
                        "ref" in entry
                        and "requirement_level" in entry
                        and entry["ref"] not in span["attributes"]
                    ):
                        span["refinements"][entry["ref"]] = _level(entry["requirement_level"])
    metrics = {
        metric["name"]: {
            "instrument": metric.get("instrument"),
            "unit": metric.get("unit"),
            "attributes": resolve(metric.get("attributes", ())),
        }
        for doc in documents
        for metric in doc.get("metrics", ()) or ()
        if "name" in metric
    }
    events = {
        event["name"]: resolve(event.get("attributes", ()))
        for doc in documents
        for event in doc.get("events", ()) or ()
        if "name" in event
    }
    return Upstream(attributes, renamed, spans, metrics, events)


def compare(conventions: dict[str, Any], upstream: Upstream) -> list[Drift]:
    """Every drift between ``conventions`` (the parsed conventions/ files, keyed by file name) and
    ``upstream``, exceptions marked."""
    found: list[Drift] = []
    registry = conventions["attributes.yaml"]["attributes"]
    pin = conventions["UPSTREAM.yaml"]
    namespaces = tuple(pin.get("namespaces", ("gen_ai.",)))
    ours = {
        name: spec
        for name, spec in registry.items()
        if spec.get("source") == "upstream" and name.startswith(namespaces) and not spec.get("deprecated")
    }
    for name, spec in ours.items():
        if name in upstream.renamed:
            found.append(Drift("renamed-attribute", name, f"renamed upstream to {upstream.renamed[name]}"))
        elif name not in upstream.attributes:
            found.append(Drift("removed-attribute", name, "not in upstream's registry"))
        elif spec["type"] != upstream.attributes[name]:
            found.append(
                Drift("retyped-attribute", name, f"{spec['type']} here, {upstream.attributes[name]} upstream")
            )
    for name in sorted(set(upstream.attributes) - set(registry)):
        found.append(
            Drift("missing-attribute", name, f"upstream {upstream.attributes[name]} attribute not modelled")
        )

    found += _compare_spans(conventions["spans.yaml"]["spans"], upstream)
    found += _compare_metrics(conventions["metrics.yaml"], upstream)
    found += _compare_events(conventions["events.yaml"]["events"], upstream)
    return _mark(found, pin.get("exceptions", ()))


def _compare_spans(shapes: dict[str, Any], upstream: Upstream) -> list[Drift]:
    found: list[Drift] = []
    modelled: set[str] = set()
    for shape_name, shape in shapes.items():
        types = shape.get("upstream") or ()
        modelled.update(types)
        merged: dict[str, tuple[str, str]] = {}  # attribute -> (level, span type it came from)
        optional: dict[str, tuple[str, str]] = {}  # provider refinements: compared only when modelled
        for span_type in types:
            span = upstream.spans.get(span_type)
            if span is None:
                found.append(
                    Drift("removed-span", span_type, f"shape {shape_name!r} models a span upstream lacks")
                )
                continue
            if span["kind"] and span["kind"] not in shape["kinds"]:
                found.append(
                    Drift("span-kind", span_type, f"upstream {span['kind']}, shape allows {shape['kinds']}")
                )
            for attr, level in span["attributes"].items():
                merged.setdefault(attr, (level, span_type))
            optional.update({a: (lv, span_type) for a, lv in span["refinements"].items()})
        if not types:
            continue
        levels: dict[str, str] = shape["attributes"]
        for attr, (level, span_type) in sorted(merged.items()):
            if attr not in levels:
                found.append(Drift("span-attribute-missing", f"{span_type} {attr}", f"upstream {level}"))
            elif levels[attr] != level:
                found.append(
                    Drift("requirement-level", f"{span_type} {attr} {levels[attr]}", f"upstream {level}")
                )
        for attr, (level, span_type) in sorted(optional.items()):
            if attr in levels and attr not in merged and levels[attr] != level:
                found.append(
                    Drift(
                        "requirement-level",
                        f"{span_type} {attr} {levels[attr]}",
                        f"upstream {level} (refinement)",
                    )
                )
        for attr in sorted(set(levels) - set(merged) - set(optional)):
            found.append(Drift("span-attribute-extra", f"{types[0]} {attr}", "not on the upstream span"))
    for span_type in sorted(set(upstream.spans) - modelled):
        found.append(Drift("missing-span", span_type, "upstream span type no shape models"))
    return found


def _compare_metrics(metrics: dict[str, Any], upstream: Upstream) -> list[Drift]:
    found: list[Drift] = []
    profile = metrics["profiles"][metrics["default_profile"]]
    default_requires = [semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_PROVIDER_NAME]
    ours = {m["name"]: m for m in profile["metrics"]}
    for name, spec in ours.items():
        theirs = upstream.metrics.get(name)
        if theirs is None:
            found.append(Drift("removed-metric", name, "the default profile emits a metric upstream lacks"))
            continue
        if spec["instrument"] != theirs["instrument"]:
            found.append(
                Drift("instrument", name, f"{spec['instrument']} here, {theirs['instrument']} upstream")
            )
        if spec["unit"] != theirs["unit"]:
            found.append(Drift("unit", name, f"{spec['unit']!r} here, {theirs['unit']!r} upstream"))
        required = {a for a, level in theirs["attributes"].items() if level == "required"}
        requires = set(spec.get("requires", default_requires))
        for attr in sorted(required - requires):
            found.append(Drift("metric-attribute-missing", f"{name} {attr}", "required upstream"))
        for attr in sorted(requires - required):
            found.append(Drift("metric-attribute-extra", f"{name} {attr}", "required here, not upstream"))
    for name in sorted(set(upstream.metrics) - set(ours)):
        found.append(Drift("missing-metric", name, "upstream metric the default profile does not emit"))
    return found


def _compare_events(events: dict[str, Any], upstream: Upstream) -> list[Drift]:
    found: list[Drift] = []
    for name, spec in events.items():
        theirs = upstream.events.get(name)
        if theirs is None:
            found.append(Drift("removed-event", name, "an event upstream lacks"))
            continue
        ours = set(spec["attributes"]) | set(spec.get("content_attributes", ()))
        for attr in sorted(a for a, level in theirs.items() if level == "required" and a not in ours):
            found.append(Drift("event-attribute-missing", f"{name} {attr}", "required upstream"))
    for name in sorted(set(upstream.events) - set(events)):
        found.append(Drift("missing-event", name, "upstream event genai-otel does not emit"))
    return found


def _mark(found: list[Drift], exceptions: Iterable[dict[str, Any]]) -> list[Drift]:
    rules = [(e["drift"], e["reason"].strip()) for e in exceptions]
    return [
        Drift(
            d.kind,
            d.subject,
            d.detail,
            next((why for pattern, why in rules if fnmatchcase(d.id, pattern)), None),
        )
        for d in found
    ]


def load_conventions(directory: Path) -> dict[str, Any]:
    """The conventions/ files ``compare`` reads, parsed."""
    import yaml

    names = ("attributes.yaml", "spans.yaml", "metrics.yaml", "events.yaml", "UPSTREAM.yaml")
    return {name: yaml.safe_load((directory / name).read_text(encoding="utf-8")) for name in names}


def diff(checkout: Path, conventions_dir: Path | None = None) -> list[Drift]:
    """Compare ``conventions_dir`` (default: the packaged conventions/) with an upstream checkout."""
    if conventions_dir is None:
        from genai_otel.conventions import CONVENTIONS_DIR

        conventions_dir = CONVENTIONS_DIR
    return compare(load_conventions(conventions_dir), load_upstream(checkout))
