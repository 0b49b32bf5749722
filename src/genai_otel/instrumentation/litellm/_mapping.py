"""LiteLLM requests -> invocation records (responses through the OpenAI-compatible mapping).
No telemetry logic here.
"""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._providers import LITELLM_PROVIDERS
from genai_otel.instrumentation._util import arg, server_of_url
from genai_otel.telemetry import EmbeddingsInvocation, InferenceInvocation, TelemetryHandler


def _provider_and_model(kwargs: dict) -> tuple[str | None, str | None]:
    model = arg(kwargs, "model")
    try:
        import litellm

        name, provider, _key, _base = litellm.get_llm_provider(
            model=model,
            custom_llm_provider=arg(kwargs, "custom_llm_provider"),
            api_base=arg(kwargs, "api_base"),
        )
    except Exception:  # LiteLLM raises for models it cannot route; the call itself will say so
        prefix, _, rest = str(model or "").partition("/")
        return (prefix, rest) if rest else (None, model)
    return LITELLM_PROVIDERS.get(provider, provider), name


def _base(kwargs: dict) -> dict[str, Any]:
    provider, model = _provider_and_model(kwargs)
    host, port = server_of_url(arg(kwargs, "api_base") or arg(kwargs, "base_url"))
    return {
        "provider": provider or "litellm",
        "request_model": model,
        "server_address": host,
        "server_port": port,
        "owns_client_calls": True,
    }


def build_completion(
    handler: TelemetryHandler, module: Any, args: tuple, kwargs: dict
) -> InferenceInvocation:
    from genai_otel.instrumentation import _openai_compatible as m

    if args:  # completion(model, messages, ...)
        kwargs = {"model": args[0], **({"messages": args[1]} if len(args) > 1 else {}), **kwargs}
    facts = _base(kwargs)
    max_tokens = arg(kwargs, "max_completion_tokens") or arg(kwargs, "max_tokens")
    inv = m.compatible_request(
        kwargs,
        semconv.OPERATION_CHAT,
        facts["provider"],
        facts["server_address"],
        facts["server_port"],
        max_tokens,
    )
    inv.request_model, inv.owns_client_calls = facts["request_model"], True
    m.chat_request_details(handler, inv, kwargs)
    return inv


def build_embedding(
    handler: TelemetryHandler, module: Any, args: tuple, kwargs: dict
) -> EmbeddingsInvocation:
    if args:
        kwargs = {"model": args[0], **kwargs}
    fmt = arg(kwargs, "encoding_format")
    return EmbeddingsInvocation(
        **_base(kwargs), encoding_formats=[fmt] if fmt else None, dimension_count=arg(kwargs, "dimensions")
    )
