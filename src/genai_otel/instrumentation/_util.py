"""Small helpers for reading SDK objects that may be dicts or pydantic models."""

from __future__ import annotations

import json
from typing import Any

_SENTINELS = frozenset({"Omit", "NotGiven", "NotGivenOr", "Unset"})


def given(value: Any) -> bool:
    """False for ``None`` and the SDKs' "not given" sentinels (``openai.Omit``, ``NOT_GIVEN``, cohere's
    ``...``, mistralai's ``Unset``)."""
    return value is not None and value is not ... and type(value).__name__ not in _SENTINELS


def arg(kwargs: dict, name: str) -> Any:
    """``kwargs[name]`` unless missing or a sentinel."""
    value = kwargs.get(name)
    return value if given(value) else None


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` otherwise."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


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
