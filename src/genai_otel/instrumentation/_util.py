"""Small helpers for reading SDK objects that may be dicts or pydantic models."""

from __future__ import annotations

import json
from collections.abc import Callable
from operator import attrgetter, itemgetter
from typing import Any

_SENTINELS = frozenset({"Omit", "NotGiven", "NotGivenOr", "Unset"})
#: Types of the values callers pass most (a model name, a temperature): given without a name check.
_PLAIN_TYPES = frozenset({str, int, float, bool, list, dict, tuple})


def given(value: Any) -> bool:
    """False for ``None`` and the SDKs' "not given" sentinels (``openai.Omit``, ``NOT_GIVEN``, cohere's
    ``...``, mistralai's ``Unset``)."""
    if type(value) in _PLAIN_TYPES:
        return True
    return value is not None and value is not ... and type(value).__name__ not in _SENTINELS


def arg(kwargs: dict, name: str) -> Any:
    """``kwargs[name]`` unless missing or a sentinel."""
    value = kwargs.get(name)
    # Most arguments asked for were not given: no sentinel check for them.
    return None if value is None or not given(value) else value


#: type -> whether it is a dict (subclass). ``isinstance(model, dict)`` on a pydantic model costs more
#: than reading a field (it asks the instance for ``__class__`` through pydantic's attribute hook).
_DICT_TYPES: dict[type, bool] = {dict: True}


def _is_dict(kind: type) -> bool:
    """Whether ``kind`` is a dict (subclass), remembered (callers look in ``_DICT_TYPES`` first)."""
    if len(_DICT_TYPES) >= 1024:  # classes made at run time: never grow without end
        _DICT_TYPES.clear()
        _DICT_TYPES[dict] = True
    known = _DICT_TYPES[kind] = issubclass(kind, dict)
    return known


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` otherwise."""
    if obj is None:
        return default
    is_dict = _DICT_TYPES.get(type(obj))
    if is_dict is None:
        is_dict = _is_dict(type(obj))
    return obj.get(key, default) if is_dict else getattr(obj, key, default)


def fields_reader(*names: str) -> Callable[[Any], tuple[Any, ...]]:
    """A function reading ``names`` off an SDK object at once: ``(get(obj, n) for n in names)``.

    Why: responses are read on every call, and ``get`` per field is a Python call each (~1.3k
    instructions); the operator module's getters read them all in one C call. A field the object lacks
    (an SDK version without it) falls back to ``get`` one by one -- the same result, only slower.
    """
    if len(names) < 2:
        raise ValueError("fields_reader needs two names or more (use get for one)")
    by_attribute, by_key = attrgetter(*names), itemgetter(*names)
    missing = (None,) * len(names)

    def read(obj: Any) -> tuple[Any, ...]:
        if obj is None:
            return missing
        is_dict = _DICT_TYPES.get(type(obj))
        if is_dict is None:
            is_dict = _is_dict(type(obj))
        try:
            return by_key(obj) if is_dict else by_attribute(obj)
        except (AttributeError, KeyError):
            return tuple(get(obj, name) for name in names)

    return read


def server_of(client: Any) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` from an SDK client's ``base_url``."""
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    if not host:
        return None, None
    port = getattr(url, "port", None)
    if port is None:
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return host, port


def server_of_url(url: Any) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` from a URL string."""
    if not url:
        return None, None
    from urllib.parse import urlsplit

    parts = urlsplit(str(url))
    if not parts.hostname:
        return None, None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def number(value: Any) -> float | None:
    """A numeric setting as a float; anything else (a bool, a string, a sentinel) is ``None``."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def json_or_text(value: Any) -> Any:
    """Tool-call arguments as the model sent them: JSON text parsed, anything else kept as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def jsonable(value: Any) -> Any:
    """A value as a span may carry it: JSON values as they are, others as their text."""
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return str(value)


def parsed_response(result: Any) -> Any:
    """The model object behind a ``with_raw_response`` result (the SDKs' ``LegacyAPIResponse``)."""
    parse = getattr(result, "parse", None)
    if callable(parse) and hasattr(result, "http_response"):
        return parse()
    return result


def modality_tokens(direction: str, counts: Any) -> dict[str, int]:
    """Per-modality token attributes (``gen_ai.usage.{text,image,audio}.{input,output}_tokens``) from
    ``[(modality, count), ...]``; modalities the conventions do not register are left out."""
    from genai_otel import semconv

    out: dict[str, int] = {}
    for modality, count in counts:
        name = f"gen_ai.usage.{str(getattr(modality, 'name', modality)).lower()}.{direction}_tokens"
        if count is not None and name in semconv.ATTRIBUTES:
            out[name] = out.get(name, 0) + int(count)
    return out
