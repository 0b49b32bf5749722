"""Ollama requests/responses (chat, generate, embed; streams) -> invocation records.
No telemetry logic here.
"""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._util import arg, as_list, get, server_of
from genai_otel.telemetry import EmbeddingsInvocation, InferenceInvocation, TelemetryHandler

PROVIDER = "ollama"
_OPTIONS = (  # options key -> record field
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("num_predict", "max_tokens"),
    ("seed", "seed"),
    ("frequency_penalty", "frequency_penalty"),
    ("presence_penalty", "presence_penalty"),
)


def _model(args: tuple, kwargs: dict) -> Any:
    return args[0] if args else arg(kwargs, "model")


def _request(client: Any, args: tuple, kwargs: dict, operation: str) -> InferenceInvocation:
    host, port = server_of(getattr(client, "_client", None))
    inv = InferenceInvocation(
        operation=operation,
        provider=PROVIDER,
        request_model=_model(args, kwargs),
        server_address=host,
        server_port=port,
        stream=True if arg(kwargs, "stream") else None,
    )
    options = arg(kwargs, "options") or {}
    for key, field in _OPTIONS:
        value = get(options, key)
        if value is not None:
            setattr(inv, field, value)
    inv.stop_sequences = as_list(get(options, "stop"))
    if arg(kwargs, "format"):
        inv.output_type = "json"
    return inv


def _message(message: Any) -> dict[str, Any]:
    role = get(message, "role")
    content = get(message, "content")
    if role == "tool":
        return {"role": "tool", "parts": [{"type": "tool_call_response", "response": content}]}
    parts = [{"type": "text", "content": content}] if content else []
    parts += [_tool_call(call) for call in get(message, "tool_calls") or ()]
    return {"role": role, "parts": parts}


def _tool_call(call: Any) -> dict[str, Any]:
    function = get(call, "function")
    return {"type": "tool_call", "name": get(function, "name"), "arguments": get(function, "arguments")}


def build_chat(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> InferenceInvocation:
    from genai_otel.instrumentation._openai_compatible import tool_definitions

    inv = _request(client, args, kwargs, semconv.OPERATION_CHAT)
    if handler.capture_content:
        messages = args[1] if len(args) > 1 else arg(kwargs, "messages")
        inv.input_messages = [_message(m) for m in messages or ()]
        tools = arg(kwargs, "tools")
        inv.tool_definitions = tool_definitions([t for t in tools or () if not callable(t)]) or None
    return inv


def build_generate(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> InferenceInvocation:
    inv = _request(client, args, kwargs, semconv.OPERATION_TEXT_COMPLETION)
    if handler.capture_content:
        prompt = args[1] if len(args) > 1 else arg(kwargs, "prompt")
        inv.input_messages = [{"role": "user", "parts": [{"type": "text", "content": prompt or ""}]}]
        system = arg(kwargs, "system")
        if system:
            inv.system_instructions = [{"type": "text", "content": system}]
    return inv


def _finish(inv: InferenceInvocation, response: Any, output: dict[str, Any] | None) -> None:
    inv.response_model = get(response, "model")
    reason = get(response, "done_reason") or ("stop" if get(response, "done") else "")
    has_tool_call = output is not None and any(p["type"] == "tool_call" for p in output["parts"])
    if get(get(response, "message"), "tool_calls"):
        has_tool_call = True
    inv.finish_reasons = ["tool_calls" if has_tool_call else reason]
    inv.input_tokens = get(response, "prompt_eval_count")
    inv.output_tokens = get(response, "eval_count")
    if output is not None and inv.input_messages is not None:
        inv.output_messages = [{**output, "finish_reason": inv.finish_reasons[0]}]


def chat_result(inv: InferenceInvocation, response: Any) -> None:
    _finish(inv, response, _message(get(response, "message")) if inv.input_messages is not None else None)


def generate_result(inv: InferenceInvocation, response: Any) -> None:
    text = get(response, "response")
    _finish(inv, response, {"role": "assistant", "parts": [{"type": "text", "content": text}]})


class StreamAccumulator:
    """Ollama streams partial messages (chat) or text (generate); the last line carries the counts."""

    def __init__(self, inv: InferenceInvocation) -> None:
        self.capture = inv.input_messages is not None
        self.text: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.last: Any = None

    def feed(self, chunk: Any) -> None:
        self.last = chunk
        message = get(chunk, "message")
        piece = get(message, "content") if message is not None else get(chunk, "response")
        if self.capture and piece:
            self.text.append(piece)
        for call in get(message, "tool_calls") or ():
            self.calls.append(_tool_call(call))

    def apply(self, inv: InferenceInvocation) -> None:
        if self.last is None:
            return
        parts = ([{"type": "text", "content": "".join(self.text)}] if self.text else []) + self.calls
        _finish(inv, self.last, {"role": "assistant", "parts": parts})


def build_embed(handler: TelemetryHandler, client: Any, args: tuple, kwargs: dict) -> EmbeddingsInvocation:
    host, port = server_of(getattr(client, "_client", None))
    return EmbeddingsInvocation(
        provider=PROVIDER,
        request_model=_model(args, kwargs),
        server_address=host,
        server_port=port,
        dimension_count=arg(kwargs, "dimensions"),
    )


def embed_result(inv: EmbeddingsInvocation, response: Any) -> None:
    inv.response_model = get(response, "model")
    inv.input_tokens = get(response, "prompt_eval_count")
    vectors = get(response, "embeddings") or (
        [get(response, "embedding")] if get(response, "embedding") else ()
    )
    if vectors and inv.dimension_count is None:
        inv.dimension_count = len(vectors[0])
