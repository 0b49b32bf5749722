"""Gemini (google-genai) content, usage and finish reasons -> GenAI record fields: shared by the google-genai
client integration and the frameworks that hand Gemini objects around (Google ADK)."""

from __future__ import annotations

from typing import Any

from genai_otel.instrumentation._util import get, modality_tokens
from genai_otel.telemetry import InferenceInvocation

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter"}
CONFIG_FIELDS = (  # config field -> record field
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("max_output_tokens", "max_tokens"),
    ("stop_sequences", "stop_sequences"),
    ("seed", "seed"),
    ("candidate_count", "choice_count"),
    ("presence_penalty", "presence_penalty"),
    ("frequency_penalty", "frequency_penalty"),
)


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}  # Gemini call ids are often absent


def part(value: Any) -> dict[str, Any]:
    """One Gemini part (text, thought, function call or response, blob) as a GenAI message part."""
    if isinstance(value, str):
        return {"type": "text", "content": value}
    text = get(value, "text")
    if text is not None:
        return {"type": "reasoning" if get(value, "thought") else "text", "content": text}
    call = get(value, "function_call")
    if call is not None:
        return _present(
            type="tool_call", id=get(call, "id"), name=get(call, "name"), arguments=get(call, "args")
        )
    response = get(value, "function_response")
    if response is not None:
        return _present(type="tool_call_response", id=get(response, "id"), response=get(response, "response"))
    return {"type": "blob" if get(value, "inline_data") is not None else "unknown"}


def contents(contents: Any) -> list[dict[str, Any]]:
    """Gemini ``contents`` (a string, parts, Content objects or dicts) as GenAI input messages."""
    if contents is None:
        return []
    if isinstance(contents, (str, dict)) or get(contents, "parts") is not None:
        contents = [contents]
    messages: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []  # bare strings/parts form one user message
    for item in contents:
        parts = get(item, "parts") if not isinstance(item, str) else None
        if parts is None:
            loose.append(part(item))
            continue
        role = get(item, "role") or "user"
        mapped = [part(p) for p in parts]
        if any(p["type"] == "tool_call_response" for p in mapped):
            role = "tool"
        messages.append({"role": "assistant" if role == "model" else role, "parts": mapped})
    return ([{"role": "user", "parts": loose}] if loose else []) + messages


def usage(inv: InferenceInvocation, usage: Any) -> None:
    if usage is None:
        return
    inv.input_tokens = get(usage, "prompt_token_count")
    candidates, thoughts = get(usage, "candidates_token_count"), get(usage, "thoughts_token_count")
    if candidates is not None or thoughts is not None:
        inv.output_tokens = (candidates or 0) + (thoughts or 0)  # output includes reasoning
    inv.cache_read_input_tokens = get(usage, "cached_content_token_count")
    inv.reasoning_output_tokens = thoughts
    for direction, details in (("input", "prompt_tokens_details"), ("output", "candidates_tokens_details")):
        counts = [(get(d, "modality"), get(d, "token_count")) for d in get(usage, details) or ()]
        inv.response_attributes.update(modality_tokens(direction, counts))


def reason(value: Any) -> str:
    name = str(getattr(value, "name", value) or "")
    return _FINISH.get(name, name.lower())


def apply_config(inv: InferenceInvocation, config: Any) -> None:
    """A ``GenerateContentConfig``'s sampling settings onto the record (the SDK types ``top_k`` and
    ``candidate_count`` as floats; the conventions as ints)."""
    for key, field in CONFIG_FIELDS:
        value = get(config, key)
        if value is not None:
            setattr(inv, field, list(value) if field == "stop_sequences" else value)
    if inv.top_k is not None:
        inv.top_k = int(inv.top_k)
    if inv.choice_count is not None:
        inv.choice_count = int(inv.choice_count)
