"""OpenAI Responses API input items and responses -> GenAI record fields: shared by the openai client
integration and the frameworks that hand Responses objects around (the OpenAI Agents SDK)."""

from __future__ import annotations

from typing import Any

from genai_otel.instrumentation._messages import text_parts
from genai_otel.instrumentation._openai_compatible import openai_response_attributes
from genai_otel.instrumentation._util import get, parsed_response
from genai_otel.telemetry import InferenceInvocation


def responses_input(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    out = []
    for item in value:
        kind = get(item, "type")
        if kind == "function_call_output":
            out.append(
                {
                    "role": "tool",
                    "parts": [
                        {
                            "type": "tool_call_response",
                            "id": get(item, "call_id"),
                            "response": get(item, "output"),
                        }
                    ],
                }
            )
        elif kind == "function_call":
            out.append({"role": "assistant", "parts": [_responses_call_part(item)]})
        else:
            out.append({"role": get(item, "role", "user"), "parts": text_parts(get(item, "content"))})
    return out


def _responses_call_part(item: Any) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": get(item, "call_id"),
        "name": get(item, "name"),
        "arguments": get(item, "arguments"),
    }


def _responses_finish_reason(response: Any) -> str:
    status = get(response, "status")
    if status == "incomplete":
        reason = get(get(response, "incomplete_details"), "reason")
        return "length" if reason == "max_output_tokens" else (reason or "incomplete")
    if any(get(item, "type") == "function_call" for item in get(response, "output") or ()):
        return "tool_calls"
    return "stop" if status == "completed" else (status or "")


def response_result(inv: InferenceInvocation, result: Any) -> None:
    response = parsed_response(result)
    inv.response_id = get(response, "id")
    inv.response_model = get(response, "model")
    reason = _responses_finish_reason(response)
    inv.finish_reasons = [reason]
    usage = get(response, "usage")
    if usage is not None:
        inv.input_tokens = get(usage, "input_tokens")
        inv.output_tokens = get(usage, "output_tokens")
        inv.cache_read_input_tokens = get(get(usage, "input_tokens_details"), "cached_tokens")
        inv.reasoning_output_tokens = get(get(usage, "output_tokens_details"), "reasoning_tokens")
    openai_response_attributes(inv, response)
    if inv.input_messages is not None:
        parts = []
        for item in get(response, "output") or ():
            kind = get(item, "type")
            if kind == "message":
                parts += text_parts(get(item, "content"))
            elif kind == "function_call":
                parts.append(_responses_call_part(item))
            elif kind == "reasoning":
                summary = " ".join(get(s, "text") or "" for s in get(item, "summary") or ())
                parts.append({"type": "reasoning", "content": summary})
        inv.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]
