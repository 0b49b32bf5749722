"""Pydantic AI (``pydantic-ai-slim`` 1.80+) through its capability hooks: every agent run gets a
genai-otel capability, outermost, that records

* ``Agent.run`` / ``run_sync`` / ``run_stream`` / ``iter`` -> ``invoke_agent {agent name}`` (the name
  omitted when the agent has none), with the run's conversation id and the agent's model;
* each model request -> ``chat {model}``, owning the client SDK call made for it (openai, anthropic,
  google-genai, ... when instrumented too), so one model call is one span, streamed or not;
  structured output (``output_type``) -> ``gen_ai.output.type`` ``json``;
* each tool call -> ``execute_tool {tool}``.

Pydantic AI can emit OpenTelemetry itself (``Agent.instrument_all()``, ``Agent(instrument=...)``, an
``InstrumentedModel`` or an ``Instrumentation`` capability). While genai-otel instruments, that
capability is silenced -- genai-otel's spans cover the same runs, requests and tool calls, and two
copies of one model call (or of its token metrics) would double count. Uninstrumenting restores it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch, Wrapper
from genai_otel.safety import safely
from genai_otel.telemetry.handler import TelemetryHandler


class PydanticAIInstrumentor(GenAIInstrumentor):
    """Instruments ``pydantic-ai`` agent runs with a capability of genai-otel's."""

    dependencies = ("pydantic-ai-slim >= 1.80",)

    def patches(self) -> Iterable[Patch]:
        return (
            Patch("pydantic_ai.agent", "Agent._resolve_run_capabilities", _add_capability),
            Patch("pydantic_ai.capabilities.instrumentation", "Instrumentation.for_run", _silence_own),
        )


def _add_capability(handler: TelemetryHandler) -> Wrapper:
    from genai_otel.instrumentation.pydantic_ai._capability import GenAIOtelCapability

    capability = GenAIOtelCapability(handler=handler)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        # Every caller (runs and realtime sessions) passes the run's extra capabilities by keyword.
        extras = kwargs.get("extra_capabilities")
        if isinstance(extras, list):
            kwargs = {**kwargs, "extra_capabilities": [capability, *extras]}
        return wrapped(*args, **kwargs)

    return wrapper


def _silence_own(handler: TelemetryHandler) -> Wrapper:
    from genai_otel.instrumentation.pydantic_ai._capability import silenced

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        own = await wrapped(*args, **kwargs)
        return safely("pydantic_ai instrumentation", silenced, own, default=own)

    return wrapper
