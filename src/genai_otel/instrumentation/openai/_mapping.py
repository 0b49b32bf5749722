"""OpenAI-only endpoints -> invocation records: the Responses API and legacy completions. Chat
completions and embeddings, which OpenAI-compatible SDKs share, are in
:mod:`genai_otel.instrumentation._openai_compatible`. No telemetry logic here.
"""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._messages import text_parts
from genai_otel.instrumentation._openai_compatible import (
    OUTPUT_TYPES,
    ChatStreamAccumulator,
    choices_result,
    inference_record,
    openai_response_attributes,
    service_tier,
    tool_definitions,
)
from genai_otel.instrumentation._util import arg, get, given, parsed_response
from genai_otel.telemetry import InferenceInvocation, TelemetryHandler

# -- legacy completions ---------------------------------------------------------------------


def build_completion(
    handler: TelemetryHandler, resource: Any, args: tuple, kwargs: dict
) -> InferenceInvocation:
    inv = inference_record(resource, kwargs, semconv.OPERATION_TEXT_COMPLETION, arg(kwargs, "max_tokens"))
    if handler.capture_content:
        prompt = arg(kwargs, "prompt")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt or ())
        inv.input_messages = [
            {"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts if isinstance(p, str)
        ]
    return inv


def completion_result(inv: InferenceInvocation, result: Any) -> None:
    choices_result(
        inv,
        result,
        lambda c: {
            "role": "assistant",
            "parts": [{"type": "text", "content": get(c, "text")}],
            "finish_reason": get(c, "finish_reason") or "",
        },
    )


class CompletionStreamAccumulator(ChatStreamAccumulator):
    def _collect(self, choice: Any) -> None:  # legacy completion chunks carry text on the choice
        text = choice.text
        if text:
            texts = self.text.get(choice.index)  # not setdefault: that builds a list on every chunk
            if texts is None:
                self.text[choice.index] = [text]
            else:
                texts.append(text)


# -- responses API ------------------------------------------------------------------------------


def build_response(
    handler: TelemetryHandler, resource: Any, args: tuple, kwargs: dict
) -> InferenceInvocation:
    inv = inference_record(resource, kwargs, semconv.OPERATION_CHAT, arg(kwargs, "max_output_tokens"))
    text = arg(kwargs, "text")
    fmt = get(get(text, "format"), "type") if text else None
    inv.output_type = OUTPUT_TYPES.get(fmt) if fmt else ("json" if given(kwargs.get("text_format")) else None)
    conversation = arg(kwargs, "conversation")
    inv.conversation_id = conversation if isinstance(conversation, str) else get(conversation, "id")
    service_tier(inv, kwargs, "responses")
    if handler.capture_content:
        inv.input_messages = _responses_input(arg(kwargs, "input"))
        instructions = arg(kwargs, "instructions")
        if instructions:
            inv.system_instructions = [{"type": "text", "content": instructions}]
        inv.tool_definitions = tool_definitions(arg(kwargs, "tools"))
    return inv


def _responses_input(value: Any) -> list[dict[str, Any]]:
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


class ResponseStreamAccumulator:
    """Responses API streams carry the full response object on created/completed/failed events."""

    def __init__(self, inv: InferenceInvocation) -> None:
        self.response: Any = None
        self.error: str | None = None

    def feed(self, event: Any) -> None:
        response = get(event, "response")
        if response is not None:
            self.response = response
        if get(event, "type") in ("response.failed", "error"):
            self.error = get(get(response, "error"), "code") or get(event, "code") or "response.failed"

    def apply(self, inv: InferenceInvocation) -> None:
        if self.response is not None:
            response_result(inv, self.response)
        if self.error:
            inv.error_type = str(self.error)
