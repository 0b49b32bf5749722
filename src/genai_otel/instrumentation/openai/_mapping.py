"""OpenAI-only endpoints -> invocation records: the Responses API and legacy completions. Chat
completions and embeddings, which OpenAI-compatible SDKs share, are in
:mod:`genai_otel.instrumentation._openai_compatible`. No telemetry logic here.
"""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._openai_compatible import (
    OUTPUT_TYPES,
    ChatStreamAccumulator,
    choices_result,
    inference_record,
    service_tier,
    tool_definitions,
)
from genai_otel.instrumentation._openai_responses import response_result, responses_input
from genai_otel.instrumentation._util import arg, get, given
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
        inv.input_messages = responses_input(arg(kwargs, "input"))
        instructions = arg(kwargs, "instructions")
        if instructions:
            inv.system_instructions = [{"type": "text", "content": instructions}]
        inv.tool_definitions = tool_definitions(arg(kwargs, "tools"))
    return inv


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
