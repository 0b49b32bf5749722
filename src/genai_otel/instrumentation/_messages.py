"""GenAI message JSON (``{"role": ..., "parts": [...]}``) built from the shapes SDKs and frameworks use."""

from __future__ import annotations

from typing import Any

from genai_otel.instrumentation._util import get


def text_parts(content: Any) -> list[dict[str, Any]]:
    """Parts of an OpenAI-style ``content``: a string or a list of typed blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts = []
    for item in content:
        if isinstance(item, str):
            parts.append({"type": "text", "content": item})
            continue
        kind = get(item, "type")
        if kind in ("text", "input_text", "output_text"):
            parts.append({"type": "text", "content": get(item, "text")})
        elif kind == "image_url":
            parts.append({"type": "uri", "modality": "image", "uri": get(get(item, "image_url"), "url")})
        elif kind == "input_image":
            parts.append({"type": "uri", "modality": "image", "uri": get(item, "image_url")})
        elif kind == "refusal":
            parts.append({"type": "text", "content": get(item, "refusal")})
        elif kind in ("tool_use", "tool_call", "function_call"):
            continue  # carried by the message's tool calls
        else:
            parts.append({"type": kind or "unknown"})
    return parts


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response(call_id: Any, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def message(role: str, parts: list[dict[str, Any]], finish_reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": role, "parts": parts}
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    return out
