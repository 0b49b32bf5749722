"""The wrappers the AutoGen instrumentor installs: each opens a run of :class:`RunTracker` for the call.

A run's context carries the object it covers (``_COVER``), so the framework's own calls nested in it --
``run`` -> ``on_messages`` -> ``on_messages_stream``, a team's ``run`` -> ``run_stream``, and AutoGen's
own ``trace_*_span`` blocks -- add no second span for the same work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from genai_otel.instrumentation._framework import Run, RunTracker
from genai_otel.instrumentation.autogen_agentchat import _mapping as m
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, TelemetryHandler, ToolInvocation
from genai_otel.telemetry.invocation import Invocation
from genai_otel.telemetry.scoped import drive_async

# (covered object, the run's span, its record): set in the context of each run we open.
_COVER = otel_context.create_key("genai_otel.autogen.cover")
# AgentChat's request to a team participant (ChatAgentContainer.handle_request).
_PARTICIPANT_REQUEST = "GroupChatRequestPublish"

Build = Callable[[Any, tuple, dict], Invocation]
Finish = Callable[[Any, Invocation, Any], None]
Subject = Callable[[Any], Any]


def _itself(instance: Any) -> Any:
    return instance


def _covered(instance: Any) -> bool:
    """A run of ours for ``instance`` is the innermost span here: this call is part of it."""
    cover = otel_context.get_value(_COVER)
    return (
        instance is not None
        and cover is not None
        and cover[0] is instance
        and cover[1] is trace.get_current_span()
    )


class AutoGenHooks:
    """Builds records from AutoGen calls and runs the calls inside them."""

    def __init__(self, handler: TelemetryHandler) -> None:
        self.handler = handler
        self.runs = RunTracker(handler)

    # -- run lifecycle ----------------------------------------------------------------------------

    def _open(self, instance: Any, inv: Invocation) -> tuple[object, Run | None]:
        """Open the run, not yet current; ``None`` when our code failed (the call then runs bare)."""
        key = object()
        try:
            run = self.runs.start(key, None, inv, attach=False)
        except Exception:
            report_internal_error("autogen.start")
            return key, None
        if run.loop_error is not None:
            self.runs.end(key, run.loop_error)
            raise run.loop_error
        span = inv.span if inv.owner is None else trace.get_current_span(run.context)
        run.context = otel_context.set_value(_COVER, (instance, span, inv), run.context)
        return key, run

    def _close(
        self,
        key: object,
        inv: Invocation,
        error: Any,
        finish: Finish | None = None,
        instance: Any = None,
        result: Any = None,
    ) -> None:
        try:
            if error is None and finish is not None and inv.owner is None:
                finish(instance, inv, result)
        except Exception:
            report_internal_error("autogen.result")
        try:
            self.runs.end(key, error)
        except Exception:
            report_internal_error("autogen.end")

    def coroutine(
        self, build: Build, finish: Finish | None, subject: Subject = _itself
    ) -> Callable[..., Any]:
        """A wrapper for ``async def`` methods: the run is current while the call runs. ``subject``: the
        object the run covers (a team participant's container runs its agent)."""

        async def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            inv = self._build(build, subject(instance), instance, args, kwargs)
            if inv is None:
                return await wrapped(*args, **kwargs)
            key, run = self._open(subject(instance), inv)
            if run is None:
                return await wrapped(*args, **kwargs)
            run.token = otel_context.attach(run.context)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as error:
                self._close(key, inv, error)
                raise
            self._close(key, inv, None, finish, instance, result)
            return result

        return wrapper

    def generator(self, build: Build, finish: Finish | None) -> Callable[..., Any]:
        """A wrapper for async generator methods: the run is current during each step only."""

        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            inv = self._build(build, instance, instance, args, kwargs)
            if inv is None:
                return wrapped(*args, **kwargs)
            key, run = self._open(instance, inv)
            if run is None:
                return wrapped(*args, **kwargs)
            last: list[Any] = [None]

            def observe(item: Any) -> None:
                last[0] = item

            def done(error: BaseException | None) -> None:
                self._close(key, inv, error, finish, instance, last[0])

            try:
                stream = wrapped(*args, **kwargs)
            except BaseException as error:
                done(error)
                raise
            return drive_async(stream, run.context, done, observe)

        return wrapper

    def _build(
        self, build: Build, subject: Any, instance: Any, args: tuple, kwargs: dict
    ) -> Invocation | None:
        if _covered(subject):
            return None
        try:
            return build(instance, args, kwargs)
        except Exception:
            report_internal_error("autogen.record")
            return None

    # -- records ----------------------------------------------------------------------------------

    @property
    def capture(self) -> bool:
        return self.handler.capture_content

    def agent_run(self, agent: Any, args: tuple, kwargs: dict) -> AgentInvocation:
        """``run``/``run_stream`` of an agent, or of a team (``invoke_workflow`` / turn)."""
        inv = m.team_record(agent) if _is_team(agent) else m.agent_record(agent, self.capture)
        if self.capture:
            inv.input_messages = m.task_messages(kwargs.get("task"))
        return inv

    def agent_messages(self, agent: Any, args: tuple, kwargs: dict) -> AgentInvocation:
        """``on_messages``/``on_messages_stream`` called by the application itself."""
        inv = m.agent_record(agent, self.capture)
        if self.capture:
            messages = args[0] if args else kwargs.get("messages")
            inv.input_messages = [m.chat_message(msg, "user") for msg in messages or ()]
        return inv

    def participant_turn(self, container: Any, args: tuple, kwargs: dict) -> AgentInvocation | None:
        """A team asks one participant (agent, not nested team) to speak: its ``invoke_agent``."""
        request = args[0] if args else kwargs.get("message")
        agent = participant(container)
        if type(request).__name__ != _PARTICIPANT_REQUEST or agent is None or _is_team(agent):
            return None
        inv = m.agent_record(agent, self.capture, agent_id=str(getattr(container, "id", "")) or None)
        if self.capture:
            inv.input_messages = [m.chat_message(msg, "user") for msg in container._message_buffer]
        return inv

    def model_call(self, client: Any, args: tuple, kwargs: dict) -> InferenceInvocation:
        messages = args[0] if args else kwargs.get("messages")
        return m.chat_record(client, messages, kwargs.get("tools"), self.capture)

    def model_stream(self, client: Any, args: tuple, kwargs: dict) -> InferenceInvocation:
        inv = self.model_call(client, args, kwargs)
        inv.stream = True
        return inv

    def tool_call(self, tool: Any, args: tuple, kwargs: dict) -> ToolInvocation:
        arguments = args[0] if args else kwargs.get("args")
        call_id = args[2] if len(args) > 2 else kwargs.get("call_id")
        return m.tool_record(tool, arguments, call_id, self.capture)

    def agent_result(self, agent: Any, inv: Invocation, result: Any) -> None:
        if self.capture and isinstance(inv, AgentInvocation):
            inv.output_messages = m.result_messages(result)

    def model_result(self, client: Any, inv: Invocation, result: Any) -> None:
        if isinstance(inv, InferenceInvocation) and not isinstance(result, str):  # str: a streamed chunk
            m.on_create_result(inv, result, self.capture)

    def tool_result(self, tool: Any, inv: Invocation, result: Any) -> None:
        if self.capture and isinstance(inv, ToolInvocation):
            inv.result = m.tool_result(tool, result)

    # -- AutoGen's own telemetry ------------------------------------------------------------------

    def framework_span(self, operation: str) -> Callable[..., Any]:
        """Replaces AutoGen's ``trace_{operation}_span`` (see the package doc): a block our run already
        covers gets that run's span; any other becomes our record; ``create_agent`` (building a Python
        object, not an agent service call) none."""

        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            return self._framework_block(operation, args, kwargs)

        return wrapper

    @contextlib.contextmanager
    def _framework_block(self, operation: str, args: tuple, kwargs: dict) -> Iterator[Any]:
        current = trace.get_current_span()
        cover = otel_context.get_value(_COVER)
        kind = ToolInvocation if operation == "tool" else AgentInvocation
        if operation == "create_agent" or (
            cover is not None and cover[1] is current and isinstance(cover[2], kind)
        ):
            yield current
            return
        try:
            inv = m.framework_record(operation, args, kwargs)
        except Exception:
            report_internal_error("autogen.framework_span")
            yield current
            return
        key, run = self._open(None, inv)
        if run is None:
            yield current
            return
        run.token = otel_context.attach(run.context)
        try:
            yield inv.span
        except GeneratorExit:  # a streamed tool closed early: not a failure
            self._close(key, inv, None)
            raise
        except BaseException as error:
            self._close(key, inv, error)
            raise
        self._close(key, inv, None)


def participant(container: Any) -> Any:
    """The agent (or nested team) a team's ``ChatAgentContainer`` runs; ``None`` for other routed agents
    (the team's manager)."""
    if not any(cls.__name__ == "ChatAgentContainer" for cls in type(container).__mro__):
        return None
    return getattr(container, "_agent", None)


def _is_team(obj: Any) -> bool:
    return hasattr(obj, "_participants") and hasattr(obj, "_team_id")
