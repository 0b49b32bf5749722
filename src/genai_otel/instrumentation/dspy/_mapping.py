"""DSPy calls -> invocation records: LM requests and replies, agent inputs/outputs, tools. No telemetry
logic here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import (
    function_definition,
    message,
    split_system,
    text_parts,
    tool_call,
)
from genai_otel.instrumentation._openai_compatible import chat_input_messages, tool_definitions
from genai_otel.instrumentation._providers import LITELLM_PROVIDERS as PROVIDERS
from genai_otel.instrumentation._util import get, number, server_of_url
from genai_otel.telemetry import InferenceInvocation

# DSPy routes a model name without a provider prefix to OpenAI, as LiteLLM does.
_DEFAULT_PROVIDER = "openai"
# The Prediction field ReAct adds beside the signature's outputs: the agent's scratchpad, not its answer.
_TRAJECTORY = "trajectory"


def provider_and_model(model: Any) -> tuple[str, str | None, bool]:
    """``openai/gpt-4o-mini`` -> (``openai``, ``gpt-4o-mini``, exact); no prefix: the default, guessed."""
    prefix, _, name = str(model or "").partition("/")
    if not name:
        return _DEFAULT_PROVIDER, prefix or None, False
    return PROVIDERS.get(prefix, prefix), name, True


def lm_request(lm: Any, inputs: dict[str, Any], streamed: bool) -> InferenceInvocation:
    """The record of one ``dspy.LM`` call: model, provider, server and sampling parameters."""
    params = {**(getattr(lm, "kwargs", None) or {}), **(inputs.get("kwargs") or {})}
    provider, model, exact = provider_and_model(getattr(lm, "model", None))
    text = getattr(lm, "model_type", "chat") == "text"
    host, port = server_of_url(params.get("api_base") or params.get("base_url"))
    stop = params.get("stop")
    return InferenceInvocation(
        operation=semconv.OPERATION_TEXT_COMPLETION if text else semconv.OPERATION_CHAT,
        provider=provider,
        request_model=model,
        server_address=host,
        server_port=port,
        temperature=number(params.get("temperature")),
        top_p=number(params.get("top_p")),
        max_tokens=params.get("max_tokens") or params.get("max_completion_tokens"),
        stop_sequences=[stop] if isinstance(stop, str) else (list(stop) if stop else None),
        seed=params.get("seed"),
        choice_count=params.get("n"),
        stream=True if streamed or params.get("stream") else None,
        owns_client_calls=True,
        guessed=frozenset() if exact else frozenset({"provider"}),
    )


def lm_input(inv: InferenceInvocation, inputs: dict[str, Any]) -> None:
    """Messages (system ones as system instructions) and tool definitions of an LM call (content)."""
    messages = inputs.get("messages")
    if messages:
        split_system(inv, messages, lambda m: get(m, "role"), lambda m: get(m, "content"), _message)
    elif inputs.get("prompt"):
        inv.input_messages = [message("user", text_parts(inputs["prompt"]))]
    inv.tool_definitions = tool_definitions((inputs.get("kwargs") or {}).get("tools"))


def _message(msg: Any) -> dict[str, Any]:
    return chat_input_messages([msg])[0]


def lm_output(outputs: Any) -> list[dict[str, Any]] | None:
    """DSPy's LM outputs (a text, or ``{"text": ..., "tool_calls": [...]}`` per choice) as messages."""
    if not isinstance(outputs, list):
        return None
    out = []
    for output in outputs:
        if isinstance(output, str):
            out.append(message("assistant", text_parts(output)))
        elif isinstance(output, dict):
            parts = text_parts(output.get("text"))
            for call in output.get("tool_calls") or ():
                function = get(call, "function") or {}
                parts.append(tool_call(get(call, "id"), get(function, "name"), get(function, "arguments")))
            out.append(message("assistant", parts))
    return out or None


def lm_result(inv: InferenceInvocation, result: Any) -> None:
    """Usage and response model from DSPy's call result (a client call merged beneath knows better)."""
    usage = getattr(result, "usage", None) or {}
    fill(
        inv,
        input_tokens=get(usage, "prompt_tokens"),
        output_tokens=get(usage, "completion_tokens"),
        response_model=getattr(result, "response_model", None),
    )


def agent_model(agent: Any) -> tuple[str | None, str | None]:
    """The (provider, model) every predictor of ``agent`` uses, when they share one LM; else nothing."""
    import dspy

    models = {getattr(p.lm or dspy.settings.lm, "model", None) for p in agent.predictors()}
    if len(models) != 1 or None in models:
        return None, None
    provider, model, _exact = provider_and_model(models.pop())
    return provider, model


def input_messages(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """A module's call arguments as the user message."""
    arguments = {**(inputs.get("kwargs") or {})}
    if inputs.get("args"):
        arguments["args"] = list(inputs["args"])
    return [message("user", text_parts(_text(arguments)))]


def output_messages(prediction: Any) -> list[dict[str, Any]] | None:
    """A module's ``Prediction`` (its output fields, less ReAct's trajectory) as the assistant message."""
    try:
        fields = {k: v for k, v in dict(prediction.items()).items() if k != _TRAJECTORY}
    except (AttributeError, TypeError, ValueError):
        return None
    return [message("assistant", text_parts(_text(fields)))]


def tool_definitions_of(tools: Iterable[Any]) -> list[dict[str, Any]] | None:
    """``dspy.Tool``s as GenAI tool definitions."""
    out = [
        function_definition(
            getattr(tool, "name", None),
            getattr(tool, "desc", None),
            {"type": "object", "properties": getattr(tool, "args", None) or {}},
        )
        for tool in tools
    ]
    return out or None


def _text(fields: dict[str, Any]) -> str:
    """One value as its text; several as a JSON object."""
    if len(fields) == 1:
        value = next(iter(fields.values()))
        if isinstance(value, str):
            return value
    return json.dumps(fields, default=str, ensure_ascii=False)
