"""Runtime knowledge of the conventions: span shapes and the data files shipped with the package.

``semconv`` holds the names and shapes generated from ``conventions/*.yaml``; this module holds what the
runtime *does* with them -- which shape a span has and what its name should be (used by the processor
rules and by the conformance checker alike) -- and loads the runtime data that is not names (the price
table, the foreign-convention dialects) from the YAML files shipped as package data, once.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from genai_otel import semconv

#: ``conventions/`` as shipped in the package (a symlink to the repository's ``conventions/`` in a checkout).
CONVENTIONS_DIR = Path(__file__).resolve().parent / "_conventions"


@cache
def load(name: str) -> Any:
    """The parsed ``conventions/<name>`` file (read once per process; PyYAML is imported only here)."""
    import yaml

    with open(CONVENTIONS_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _keys_sorted(value: Any) -> Any:
    # Mappings in key order at every level: the order dialects and their renames apply in (and the OTTL
    # the collector config is generated with) stays what it was when these tables were generated code.
    if isinstance(value, dict):
        return {key: _keys_sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_keys_sorted(item) for item in value]
    return value


@cache
def prices() -> dict[str, Any]:
    """The bundled price table (``conventions/prices.yaml``), keys sorted."""
    return _keys_sorted(load("prices.yaml"))  # type: ignore[no-any-return]


@cache
def normalization() -> dict[str, Any]:
    """The bundled foreign-convention dialects (``conventions/normalization.yaml``), keys sorted."""
    return _keys_sorted(load("normalization.yaml"))  # type: ignore[no-any-return]


# Shapes are selected by a key attribute: gen_ai.operation.name unless the shape names another.
SHAPE_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(shape.get("key", semconv.GEN_AI_OPERATION_NAME) for shape in semconv.SPAN_SHAPES.values())
)
SHAPE_BY_OPERATION: dict[tuple[str, Any], dict[str, Any]] = {
    (shape.get("key", semconv.GEN_AI_OPERATION_NAME), op): shape
    for shape in semconv.SPAN_SHAPES.values()
    for op in shape["operations"]
}


def shape_key(attributes: dict[str, Any]) -> str | None:
    """The key attribute (``gen_ai.operation.name``, ``db.system.name``, ...) ``attributes`` carry, if any."""
    return next((k for k in SHAPE_KEYS if k in attributes), None)


def shape_of(attributes: dict[str, Any]) -> dict[str, Any] | None:
    """The span shape (conventions/spans.yaml) ``attributes`` select, if any."""
    key = shape_key(attributes)
    return SHAPE_BY_OPERATION.get((key, attributes[key])) if key is not None else None


@lru_cache(maxsize=64)
def template_keys(template: str) -> tuple[str, ...]:
    """The attribute names a span-name template uses: ``{gen_ai.operation.name} {gen_ai.request.model}``."""
    return tuple(part.split("}")[0] for part in template.split("{")[1:])


def expected_name(shape: dict[str, Any], attributes: dict[str, Any]) -> str:
    """The span name the shape's template gives for ``attributes`` (e.g. ``chat gpt-4o``)."""
    keys = template_keys(shape["name"])
    operation = attributes.get(keys[0], "")
    # ``{a|b}``: the first of the alternatives that is set (a workflow's name, else the agent's).
    alternatives = keys[1].split("|") if len(keys) > 1 else ()
    target = next((attributes[k] for k in alternatives if attributes.get(k)), None)
    return f"{operation} {target}" if target else str(operation)


def otlp_value(value: Any) -> Any:
    """The Python value of an OTLP ``AnyValue`` (arrays as tuples, key-value lists as dicts)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(otlp_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: otlp_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None
