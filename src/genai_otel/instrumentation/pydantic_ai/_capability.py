"""The capability genai-otel adds to every Pydantic AI run, and the one that silences Pydantic AI's own
``Instrumentation`` while genai-otel instruments.

Pydantic AI runs ``wrap_run`` in a task of its own and hands the context variables it set to the task
that runs the body (restoring them after), so the agent span made current here is current for the
run's model requests and tool calls, and only for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from opentelemetry import context as otel_context
from pydantic_ai.capabilities.abstract import AbstractCapability, CapabilityOrdering

from genai_otel.instrumentation.pydantic_ai import _mapping
from genai_otel.safety import safely
from genai_otel.telemetry.agent_runs import finish_run, open_in_context
from genai_otel.telemetry.handler import TelemetryHandler
from genai_otel.telemetry.invocation import Invocation


@dataclass
class GenAIOtelCapability(AbstractCapability[Any]):
    """Records each agent run (``invoke_agent``), model request (``chat``, owning the client SDK call
    made for it) and tool call (``execute_tool``)."""

    _safe_at_runtime: ClassVar[bool] = True  # observes only: may join runs under durable execution
    handler: TelemetryHandler = field(repr=False, kw_only=True)

    def get_ordering(self) -> CapabilityOrdering:
        # Outermost, as Pydantic AI's own instrumentation is: the spans cover what other capabilities do.
        return CapabilityOrdering(position="outermost")

    async def wrap_run(self, ctx: Any, *, handler: Callable[[], Any]) -> Any:
        if getattr(ctx, "realtime", False):  # a realtime session is not a run of the agent graph
            return await handler()
        inv = safely("pydantic_ai run", _mapping.agent_record, ctx, self.handler.capture_content)
        return await self._record(inv, _mapping.agent_result, handler)

    async def wrap_model_request(self, ctx: Any, *, request_context: Any, handler: Callable[..., Any]) -> Any:
        inv = safely("pydantic_ai model", _mapping.chat_record, request_context, self.handler.capture_content)
        return await self._record(inv, _mapping.chat_response, handler, request_context)

    async def wrap_tool_execute(
        self, ctx: Any, *, call: Any, tool_def: Any, args: Any, handler: Callable[..., Any]
    ) -> Any:
        inv = safely("pydantic_ai tool", _mapping.tool_record, call, tool_def, self.handler.capture_content)
        return await self._record(inv, _mapping.tool_result, handler, args)

    async def _record(
        self,
        inv: Invocation | None,
        finish: Callable[[Any, Any, bool], None],
        handler: Callable[..., Any],
        *args: Any,
    ) -> Any:
        """Run ``handler`` with ``inv``'s span current; ``finish`` copies its result into ``inv``."""
        if inv is None:
            return await handler(*args)
        opened = safely("pydantic_ai", open_in_context, self.handler, inv, otel_context.get_current())
        if opened is None:
            return await handler(*args)
        context, loop_error = opened
        token = otel_context.attach(context)
        try:
            if loop_error is not None:
                raise loop_error
            result = await handler(*args)
        except BaseException as error:
            self._close(inv, context, None if _stopped_early(error) else error)
            raise
        finally:
            otel_context.detach(token)
        safely("pydantic_ai", finish, inv, result, self.handler.capture_content)
        self._close(inv, context, None)
        return result

    def _close(self, inv: Invocation, context: otel_context.Context, error: BaseException | None) -> None:
        finish_run(inv, context)
        if error is None:
            safely("pydantic_ai", self.handler.stop, inv)
        else:
            safely("pydantic_ai", self.handler.fail, inv, error)


def _stopped_early(error: BaseException) -> bool:
    """The caller stopped consuming the run (``break`` out of a stream or an ``iter()`` loop): Pydantic AI
    then cancels the task running the hook. Ended early by choice, not in error -- unlike a cancellation
    of the caller's own task, which reaches the hook as the run's error."""
    if isinstance(error, GeneratorExit):
        return True
    task = asyncio.current_task() if isinstance(error, asyncio.CancelledError) else None
    return task is not None and task.cancelling() > 0


@dataclass
class Silenced(AbstractCapability[Any]):
    """Stands in for Pydantic AI's ``Instrumentation`` in a run: records nothing, so the run is traced
    once, by genai-otel."""

    _safe_at_runtime: ClassVar[bool] = True
