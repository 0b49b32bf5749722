"""Record fields -> attributes: the tables derived from the field declarations in
:mod:`genai_otel.telemetry.invocation`, and reading a record through them with each value checked
against the type the conventions declare.

Each record class's tables are computed once, on first use, from its dataclass field metadata
(``request_attr`` / ``response_attr`` / ``content_attr``): a subclass has its parents' fields, so it
inherits their mappings, and a field it redeclares maps as it says.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, NamedTuple

from genai_otel import semconv
from genai_otel.telemetry.invocation import ATTRIBUTE, PHASE, Invocation, VectorDbInvocation

Fields = tuple[tuple[str, str], ...]
"""(record field, attribute) pairs, in declaration order (parents' fields first)."""


class FieldTables(NamedTuple):
    request: Fields
    response: Fields
    content: Fields


_TABLES: dict[type, FieldTables] = {}


def tables(cls: type) -> FieldTables:
    """The request/response/content tables of record class ``cls`` (computed once per class)."""
    cached = _TABLES.get(cls)
    if cached is None:
        by_phase: dict[str, list[tuple[str, str]]] = {"request": [], "response": [], "content": []}
        for record_field in dataclasses.fields(cls):
            attribute = record_field.metadata.get(ATTRIBUTE)
            if attribute is not None:
                by_phase[record_field.metadata[PHASE]].append((record_field.name, attribute))
        cached = _TABLES[cls] = FieldTables(*(tuple(by_phase[phase]) for phase in FieldTables._fields))
    return cached


OPERATION_FIELD: Fields = (("operation", semconv.GEN_AI_OPERATION_NAME),)
# Metric point attributes (metrics.yaml point_attributes), read straight off the record so they
# are right even when the span is not recording.
POINT_FIELDS: Fields = tuple(
    pair
    for pair in OPERATION_FIELD + tables(Invocation).request + tables(Invocation).response
    if pair[1] in semconv.METRIC_POINT_ATTRIBUTES
)
DB_POINT_FIELDS: Fields = tuple(
    pair
    for pair in (
        ("operation", semconv.DB_OPERATION_NAME),
        *tables(VectorDbInvocation).request,
        *tables(Invocation).response,
    )
    if pair[1] in semconv.DB_METRIC_POINT_ATTRIBUTES
)


def span_name(inv: Invocation) -> str:
    """``{operation} {target}`` (``chat gpt-4o``), or the operation alone when there is no target."""
    target = inv.span_target
    return f"{inv.operation} {target}" if target else inv.operation


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, int) else None


def _as_float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _as_strings(value: Any) -> list[str] | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


_COERCERS: dict[str, tuple[type, Any]] = {
    "int": (int, _as_int),
    "double": (float, _as_float),
    "string": (str, lambda v: v if isinstance(v, str) else None),
    "boolean": (bool, lambda v: v if isinstance(v, bool) else None),
    "string[]": (list, _as_strings),
}
# attribute -> (the Python type its declared type takes, the coercer): computed once from
# conventions/attributes.yaml (via semconv). Attributes of type ``any`` or unknown are not checked.
_ATTRIBUTE_TYPES: dict[str, tuple[type, Any]] = {
    name: _COERCERS[spec["type"]]
    for name, spec in semconv.ATTRIBUTES.items()
    if spec.get("type") in _COERCERS
}
_logger = logging.getLogger(__name__)


def coerce(attribute: str, value: Any) -> Any:
    """``value`` as the type the conventions declare for ``attribute`` (an int from ``"12"``, a float
    from ``3``), or ``None`` when it cannot be one (a garbage provider response): then it is skipped."""
    declared = _ATTRIBUTE_TYPES.get(attribute)
    if declared is None:
        return value
    kind, convert = declared
    if type(value) is kind and kind is not list:  # the common case: already right
        return value
    converted = convert(value)
    if converted is None:
        _logger.debug("genai-otel: %s=%r is not a valid %s; skipped", attribute, value, kind.__name__)
    return converted


def _strings(value: list) -> bool:
    # A plain loop: all() over a generator costs a frame per item on this per-call path.
    for item in value:  # noqa: SIM110
        if type(item) is not str:
            return False
    return True


def _checked(inv: Invocation, field_name: str, attribute: str, value: Any, out: dict[str, Any]) -> None:
    """A value not already of its declared type: coerced -- and written back, so metrics reading the
    record get the checked value -- or skipped."""
    fixed = coerce(attribute, value)
    if fixed is not value:
        setattr(inv, field_name, fixed)
    if fixed is not None:
        out[attribute] = fixed


def _reader_source(fields: Fields) -> str:
    """Python source of a reader for ``fields``: one unrolled test per field, as ``dataclasses`` builds
    ``__init__``. A loop over the table costs a tuple unpacking and three tests per field, set or not;
    this runs twice per call over every field of the record, most of them unset."""
    lines = ["def read(inv, out):"]
    for index, (field_name, attribute) in enumerate(fields):
        kind = _ATTRIBUTE_TYPES[attribute][0] if attribute in _ATTRIBUTE_TYPES else None
        name, key = repr(field_name), f"ATTRIBUTES[{index}]"
        lines.append(f"    v = inv.{field_name}")
        lines.append("    if v is not None:")
        if kind is None:
            lines.append(f"        out[{key}] = v")
            continue
        ok = f"type(v) is KINDS[{index}]" + (" and _strings(v)" if kind is list else "")
        lines.append(f"        if {ok}: out[{key}] = v")
        lines.append(f"        else: _checked(inv, {name}, {key}, v, out)")
    lines.append("    return out")
    return "\n".join(lines)


def _compile_reader(fields: Fields) -> Any:
    kinds = tuple(_ATTRIBUTE_TYPES[a][0] if a in _ATTRIBUTE_TYPES else None for _, a in fields)
    namespace: dict[str, Any] = {
        "ATTRIBUTES": tuple(attribute for _, attribute in fields),
        "KINDS": kinds,
        "_strings": _strings,
        "_checked": _checked,
    }
    exec(_reader_source(fields), namespace)  # the source is built from the field tables only
    return namespace["read"]


#: id(fields table) -> (the table, its compiled reader): tables are long-lived constants, compiled on
#: first use (the table is kept so a recycled id is never mistaken for it).
_READERS: dict[int, tuple[Fields, Any]] = {}


def read(inv: Invocation, fields: Fields, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """The attributes ``fields`` map from ``inv`` (unset fields left out), added to ``out`` (a new dict
    by default: one dict per call, no intermediate copy). A value of the wrong type is coerced -- and
    written back, so metrics reading the record get the checked value -- or skipped."""
    compiled = _READERS.get(id(fields))
    if compiled is None or compiled[0] is not fields:
        compiled = _READERS[id(fields)] = (fields, _compile_reader(fields))
    return compiled[1](inv, {} if out is None else out)


def coerce_extra(attributes: dict[str, Any]) -> dict[str, Any]:
    """Provider-specific attributes (``inv.attributes`` / ``response_attributes``) checked the same way."""
    for k, v in attributes.items():
        declared = _ATTRIBUTE_TYPES.get(k)
        if declared is not None and (type(v) is not declared[0] or isinstance(v, list)):
            break
    else:  # the common case: all already right
        return attributes
    checked = {k: coerce(k, v) for k, v in attributes.items()}
    return {k: v for k, v in checked.items() if v is not None}
