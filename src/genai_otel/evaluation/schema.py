"""A checker for the JSON-schema subset tool definitions and structured outputs use: ``type`` (one or a
list), ``required``, ``properties``, ``additionalProperties: false``, ``enum``, ``const``, ``items``,
``anyOf`` / ``oneOf``. Other keywords are ignored (a schema it does not understand never fails a value).
No dependency; bounded depth, so hostile schemas or values cannot recurse without end."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32
#: Violations reported per value: the first few tell what is wrong.
MAX_VIOLATIONS = 10

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list, tuple),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _has_type(value: Any, name: str) -> bool:
    if name in ("number", "integer") and isinstance(value, bool):
        return False  # JSON has no boolean numbers; Python's bool is an int
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    kinds = _TYPES.get(name)
    return True if kinds is None else isinstance(value, kinds)


def violations(value: Any, schema: Any, path: str = "$", depth: int = 0) -> list[str]:
    """What in ``value`` breaks ``schema``, as ``path: problem`` lines (empty: it conforms)."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return []
    found: list[str] = []
    expected = schema.get("type")
    names = [expected] if isinstance(expected, str) else expected if isinstance(expected, list) else []
    if names and not any(_has_type(value, n) for n in names if isinstance(n, str)):
        return [f"{path}: expected {'/'.join(map(str, names))}, got {type(value).__name__}"]
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not one of {schema['enum']}"[:300])
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: expected {schema['const']!r}"[:300])
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if (
            isinstance(options, list)
            and options
            and all(violations(value, o, path, depth + 1) for o in options)
        ):
            found.append(f"{path}: matches none of {key}")
    if isinstance(value, dict):
        found += _object_violations(value, schema, path, depth)
    elif isinstance(value, (list, tuple)) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += violations(item, schema["items"], f"{path}[{index}]", depth + 1)
            if len(found) >= MAX_VIOLATIONS:
                break
    return found[:MAX_VIOLATIONS]


def _object_violations(value: dict[str, Any], schema: dict[str, Any], path: str, depth: int) -> list[str]:
    found = []
    required = schema.get("required")
    for key in required if isinstance(required, list) else ():
        if key not in value:
            found.append(f"{path}: missing required {key!r}"[:300])
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    for key, item in value.items():
        if key in properties:
            found += violations(item, properties[key], f"{path}.{key}", depth + 1)
        elif schema.get("additionalProperties") is False:
            found.append(f"{path}: unexpected property {str(key)[:100]!r}")
        if len(found) >= MAX_VIOLATIONS:
            break
    return found
