"""Pydantic AI (``pydantic-ai-slim`` 2.68+) through its capability hooks: every agent run gets a
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
copies of one model call (or of its token metrics) would double count. Nor does Pydantic AI show its
"observability is off" banner. Uninstrumenting restores both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch, Wrapper
from genai_otel.telemetry.handler import TelemetryHandler


class PydanticAIInstrumentor(GenAIInstrumentor):
    """Instruments ``pydantic-ai`` agent runs with a capability of genai-otel's."""

    dependencies = ("pydantic-ai-slim >= 2.68",)

    def patches(self) -> Iterable[Patch]:
        return (
            Patch("pydantic_ai.agent", "Agent._resolve_run_capabilities", _add_capability),
            Patch("pydantic_ai.capabilities.instrumentation", "Instrumentation.for_run", _silence_own),
        )

    def _on_instrument(self) -> None:
        import pydantic_ai

        # Pydantic AI prints a first-run banner in a terminal "until observability is on": it is now.
        self._banner = getattr(pydantic_ai, "BANNER_ENABLED", None)
        if self._banner is not None:
            pydantic_ai.BANNER_ENABLED = False

    def _on_uninstrument(self) -> None:
        import pydantic_ai

        banner = getattr(self, "_banner", None)
        if banner is not None and pydantic_ai.BANNER_ENABLED is False:
            pydantic_ai.BANNER_ENABLED = banner


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
    from genai_otel.instrumentation.pydantic_ai._capability import Silenced

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        # What an ``Instrumentation`` contributes to a run: nothing.
        return Silenced()

    return wrapper
