"""GenAI message JSON (``{"role": ..., "parts": [...]}``) built from the shapes SDKs and frameworks use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def function_definition(
    name: Any, description: Any, parameters: Any, tool_type: Any = "function"
) -> dict[str, Any]:
    """One entry of ``gen_ai.tool.definitions``."""
    return {"type": tool_type, "name": name, "description": description, "parameters": parameters}


def openai_tool_definition(tool: Any) -> dict[str, Any]:
    """An OpenAI-style tool (``{"type": "function", "function": {...}}``, or the function itself) as a tool
    definition; Anthropic-style tools name their schema ``input_schema``."""
    function = get(tool, "function") or tool
    parameters = get(function, "parameters") or get(function, "input_schema")
    return function_definition(
        get(function, "name"), get(function, "description"), parameters, get(tool, "type", "function")
    )


def message(role: str, parts: list[dict[str, Any]], finish_reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": role, "parts": parts}
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    return out


def role_of(msg: Any) -> str:
    """A message's role, given as a string or an enum (LlamaIndex's ``MessageRole``, Haystack's
    ``ChatRole``); ``user`` when absent."""
    role = get(msg, "role")
    return str(getattr(role, "value", role) or "user")


def split_system(
    inv: Any,
    messages: Sequence[Any],
    role: Callable[[Any], Any],
    text: Callable[[Any], Any],
    convert: Callable[[Any], dict[str, Any]],
) -> None:
    """A framework's chat input on the record: system messages become ``gen_ai.system_instructions``
    (their text parts), the others -- converted -- the input messages."""
    system = [part for m in messages if role(m) == "system" for part in text_parts(text(m))]
    inv.system_instructions = system or None
    inv.input_messages = [convert(m) for m in messages if role(m) != "system"]
