"""One CLI session (a ``query()`` call or a ``ClaudeSDKClient`` connection) traced as GenAI runs.

The CLI makes the model calls and runs its built-in tools in its own process; what this process sees is
the stream it prints (one ``assistant`` message per content block of each model response, ``user``
messages with tool results, ``system`` task events, the turn's ``result``) and the hooks it calls back
(``PreToolUse``, ``PostToolUse``, ``PostToolUseFailure``, ``SubagentStop``). From those:

* a turn (a user prompt up to its ``result``) -> ``invoke_agent claude-code``, conversation id = the
  CLI's session id; a turn the CLI starts itself (a background sub-agent finished) too;
* each model call -> ``chat {model}``: opened when the agent loop is known to wait on the model (the
  prompt was sent, tool results went back, a sub-agent started), closed when the loop moves on after its
  response (a tool starts, results come back, the turn ends), with the response's model, id and usage.
  A sub-agent's responses are forwarded late or not at all: its calls' spans may lack them, and a block
  arriving after its call's span ended is dropped rather than counted as another call;
* each tool -> ``execute_tool {tool}`` from ``PreToolUse`` to ``PostToolUse``; an SDK MCP tool runs in
  this process under that span (see the package doc);
* a sub-agent (the ``Task``/``Agent`` tool, from its ``task_started`` event) -> ``invoke_agent {agent
  type}`` under that tool's span, its model calls (messages with ``parent_tool_use_id``) and tools
  (hooks with ``agent_id``) under it.

Everything here runs in the SDK's reader and control-request tasks, never in the caller's: runs are
opened with explicit parents and never attached (see :class:`RunTracker`).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context

from genai_otel import semconv
from genai_otel.config import LoopGuardAction
from genai_otel.instrumentation._framework import RunTracker
from genai_otel.instrumentation._messages import message, text_parts
from genai_otel.instrumentation.claude_agent_sdk import _mapping as m
from genai_otel.telemetry import AgentInvocation, InferenceInvocation, TelemetryHandler, ToolInvocation
from genai_otel.telemetry.agent_runs import AgentLoopError
from genai_otel.telemetry.invocation import error_type_of

#: The session whose SDK MCP servers run in this task (set where the SDK hands them a CLI request).
CURRENT_SESSION: ContextVar[ClaudeSession | None] = ContextVar("genai_otel_claude_session", default=None)

#: Hook events the session listens to; added to the user's hooks, never replacing them.
HOOK_EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStop")
# Statuses of a ``task_updated`` event that end a sub-agent (if its SubagentStop hook did not).
_TASK_ENDS = frozenset({"completed", "failed", "killed", "stopped"})
# error.type of a tool the CLI reports as failed without saying why in a low-cardinality way.
_TOOL_FAILED = "tool_error"


@dataclass(eq=False)
class _Loop:
    """One agent loop: the turn's main agent or a sub-agent."""

    run_id: Hashable
    #: The open model call, if any.
    chat_id: Hashable | None = None
    calls: int = 0
    #: The conversation as the model sees it (content capture only), for each call's input messages.
    history: list[dict[str, Any]] = field(default_factory=list)
    #: A background sub-agent: its Task call returned at once, it may outlive the turn.
    background: bool = False
    #: The turn's main agent (offered the session's tools, under the session's system prompt).
    is_main: bool = False


@dataclass(eq=False)
class SessionConfig:
    """What the session knows from the options the SDK was given."""

    model: str | None = None
    provider: str = "anthropic"
    system_prompt: Any = None
    max_turns: int | None = None
    #: Sub-agent definitions by name (``description`` used for ``gen_ai.agent.description``).
    agents: dict[str, Any] = field(default_factory=dict)


class ClaudeSession:
    """Turns one CLI session's stream and hooks into spans. Created for each SDK ``Query``."""

    def __init__(self, handler: TelemetryHandler, config: SessionConfig) -> None:
        self._handler = handler
        self._config = config
        self._runs = RunTracker(handler)
        self._ids = itertools.count()
        self._main: _Loop | None = None
        #: Sub-agent loops by the CLI's task id (their ``agent_id`` in hooks), oldest first.
        self._subagents: dict[str, _Loop] = {}
        #: Task id -> the tool_use_id of the Task/Agent call that started it.
        self._tasks: dict[str, str] = {}
        #: Open tool calls' run ids (their loop's run id, "tool", tool_use_id), oldest first.
        self._open_tools: list[Hashable] = []
        self._stop_error: AgentLoopError | None = None
        #: Tool definitions as the model gets them (names from the CLI, SDK MCP tools' schemas).
        self._tool_names: list[str] = []
        self._mcp_tools: dict[str, dict[str, Any]] = {}
        #: The main agent's conversation (content capture only).
        self._history: list[dict[str, Any]] = []
        #: The context the last turn started in (a turn the CLI starts itself goes there too).
        self._turn_parent: otel_context.Context | None = None
        self.session_id: str | None = None
        self.closed = False

    @property
    def _capture(self) -> bool:
        return self._handler.capture_content

    # -- turns ----------------------------------------------------------------------------------

    def on_prompt(self, data: dict[str, Any]) -> None:
        """The SDK wrote a user message to the CLI (called in the writer's context: the caller's)."""
        if self.closed or data.get("parent_tool_use_id") is not None:
            return
        prompt = m.prompt_message(data) if self._capture else None
        if self._main is None:
            self._start_turn(prompt)
            return
        # Written while a turn runs (streamed input): the CLI hands it to the running turn; should it make
        # a turn of its own instead, that one starts with its ``init`` message (see :meth:`_on_init`).
        run = self._runs.get(self._main.run_id)
        if prompt and run is not None and run.inv is not None:
            self._main.history.append(prompt)
            run.inv.input_messages = [*(run.inv.input_messages or ()), prompt]

    def _start_turn(self, prompt: dict[str, Any] | None) -> None:
        inv = AgentInvocation(
            agent_name=m.DEFAULT_AGENT_NAME,
            provider=self._config.provider,
            request_model=self._config.model,
            conversation_id=self.session_id,
        )
        if self._capture:
            inv.system_instructions = m.system_instructions(self._config.system_prompt)
            inv.input_messages = [prompt] if prompt else None
        # The main agent's conversation goes on across the session's turns.
        loop = self._main = _Loop(("turn", next(self._ids)), history=self._history, is_main=True)
        if prompt:
            loop.history.append(prompt)
        self._stop_error = None
        self._turn_parent = otel_context.get_current()
        self._open(loop.run_id, None, inv)
        self._await_model(loop)

    def _end_turn(self, result: dict[str, Any] | None, error: BaseException | None = None) -> None:
        loop, self._main = self._main, None
        if loop is None:
            return
        for task_id, subagent in reversed(list(self._subagents.items())):
            if not subagent.background:
                self._end_subagent(task_id, None)
        self._close_chat(loop)
        for run_id in reversed(self._open_tools):  # e.g. denied: the CLI reports no end for them
            self._tool_end(run_id, {}, failed=False)
        run = self._runs.get(loop.run_id)
        if run is not None and isinstance(run.inv, AgentInvocation):
            if result is not None:
                m.add_result(run.inv, result, self._capture)
            if self._capture:
                run.inv.tool_definitions = self._tool_definitions()
        self._runs.end(loop.run_id, error or self._stop_error)

    def close(self, error: BaseException | None = None) -> None:
        """The stream ended (or we were uninstrumented): close every open span."""
        self._end_turn(None, error)
        for task_id in reversed(list(self._subagents)):
            self._end_subagent(task_id, None)
        self._runs.end_all()
        self.closed = True

    # -- the stream -------------------------------------------------------------------------------

    def on_message(self, data: dict[str, Any]) -> None:
        """One message the CLI printed (called in the SDK's reader task, as it arrives)."""
        if self.closed:
            return
        kind = data.get("type")
        if kind == "assistant":
            self._on_response_block(data)
        elif kind == "stream_event":
            self._on_stream_event(data)
        elif kind == "user":
            self._on_user(data)
        elif kind == "result":
            self._end_turn(data)
        elif kind == "system":
            self._on_system(data)

    def _on_system(self, data: dict[str, Any]) -> None:
        subtype = data.get("subtype")
        if subtype == "init":
            self._on_init(data)
        elif subtype == "task_started" and data.get("subagent_type") and data.get("tool_use_id"):
            self._subagent_start(data)
        elif subtype == "task_updated" and (data.get("patch") or {}).get("status") in _TASK_ENDS:
            self._end_subagent(str(data.get("task_id")), None)

    def _on_init(self, data: dict[str, Any]) -> None:
        self.session_id = data.get("session_id") or self.session_id
        if isinstance(data.get("tools"), list):
            self._tool_names = [str(name) for name in data["tools"]]
        if self._config.model is None and data.get("model"):
            self._config.model = data["model"]
        if self._main is None and self._turn_parent is not None:
            # A turn the CLI started itself (a background sub-agent finished): under the last turn's parent.
            token = otel_context.attach(self._turn_parent)
            try:
                self._start_turn(None)
            finally:
                otel_context.detach(token)
        if self._main is None:
            return
        run = self._runs.get(self._main.run_id)
        if run is not None and run.inv is not None and run.inv.conversation_id is None:
            self._handler.update_request(run.inv, conversation_id=self.session_id)  # writes the open span too

    def _loop_for_message(self, data: dict[str, Any]) -> _Loop | None:
        parent = data.get("parent_tool_use_id")
        if parent is None:
            return self._main
        # The sub-agent started by that tool call (the newest, should a model reuse tool call ids).
        for task_id in reversed(self._subagents):
            if self._tasks[task_id] == parent:
                return self._subagents[task_id]
        return None

    def _on_response_block(self, data: dict[str, Any]) -> None:
        loop = self._loop_for_message(data)
        if loop is None:
            return
        # No open call: a block arriving after the loop moved on (sub-agents' messages are forwarded late);
        # its call's span has ended, and opening another would count one call twice.
        run = self._runs.get(loop.chat_id) if loop.chat_id is not None else None
        if run is not None and isinstance(run.inv, InferenceInvocation):
            m.add_response_block(run.inv, data, self._capture)

    def _on_user(self, data: dict[str, Any]) -> None:
        loop = self._loop_for_message(data)
        results = m.tool_results(data)
        if loop is None or results is None:
            return
        self._close_chat(loop)
        if self._capture:
            loop.history.append(results)
        if self._stop_error is None and not self._out_of_turns(loop):
            self._await_model(loop)  # tool results go back to the model, unless the run is being stopped

    def _out_of_turns(self, loop: _Loop) -> bool:
        # The CLI ends the turn with ``error_max_turns`` instead of making another model call.
        limit = self._config.max_turns
        return loop.is_main and limit is not None and loop.calls >= limit

    def _on_stream_event(self, data: dict[str, Any]) -> None:
        """A raw streaming event (``include_partial_messages``): the call streams; chunk timing."""
        loop = self._loop_for_message(data)
        run = self._runs.get(loop.chat_id) if loop is not None and loop.chat_id is not None else None
        if run is None or not isinstance(run.inv, InferenceInvocation):
            return
        inv = run.inv
        if not inv.stream:
            self._handler.update_request(inv, stream=True)
        m.add_stream_event(inv, data.get("event") or {})

    # -- model calls ------------------------------------------------------------------------------

    def _await_model(self, loop: _Loop) -> None:
        """The loop now waits on a model call: open its span."""
        self._close_chat(loop)
        inv = InferenceInvocation(
            operation=semconv.OPERATION_CHAT,
            provider=self._config.provider,
            request_model=self._config.model,
        )
        if self._capture:
            inv.input_messages = list(loop.history) or None
            if loop.is_main:
                inv.system_instructions = m.system_instructions(self._config.system_prompt)
        loop.calls += 1
        loop.chat_id = (loop.run_id, "chat", loop.calls)
        self._open(loop.chat_id, loop.run_id, inv)

    def _close_chat(self, loop: _Loop) -> None:
        chat_id, loop.chat_id = loop.chat_id, None
        run = self._runs.get(chat_id) if chat_id is not None else None
        if run is None:
            return
        inv = run.inv
        if isinstance(inv, InferenceInvocation):
            m.finish_response(inv)
            if self._capture and inv.output_messages:
                loop.history.extend(inv.output_messages)
            if self._capture and loop.is_main:
                inv.tool_definitions = self._tool_definitions()
        self._runs.end(chat_id)

    # -- hooks -------------------------------------------------------------------------------------

    def _loop_for_hook(self, data: dict[str, Any]) -> _Loop | None:
        agent_id = data.get("agent_id")
        return self._main if agent_id is None else self._subagents.get(str(agent_id))

    def on_hook(self, data: dict[str, Any], tool_use_id: str | None) -> dict[str, Any]:
        """A hook the CLI called; returns the hook's output (empty: no say in what the CLI does)."""
        if self.closed:
            return {}
        event = data.get("hook_event_name")
        if event == "PreToolUse" and tool_use_id:
            return self._tool_start(data, tool_use_id)
        loop = self._loop_for_hook(data)
        if event in ("PostToolUse", "PostToolUseFailure") and tool_use_id and loop is not None:
            self._tool_end((loop.run_id, "tool", tool_use_id), data, failed=event == "PostToolUseFailure")
        elif event == "SubagentStop":
            self._end_subagent(str(data.get("agent_id")), data)
        return {}

    def _tool_start(self, data: dict[str, Any], tool_use_id: str) -> dict[str, Any]:
        loop = self._loop_for_hook(data)
        if loop is None:
            return {}
        self._close_chat(loop)  # the response that asked for this tool is complete
        inv = ToolInvocation(tool_name=data.get("tool_name"), tool_call_id=tool_use_id, tool_type="function")
        if self._capture:
            inv.arguments = data.get("tool_input")
        run_id = (loop.run_id, "tool", tool_use_id)
        self._open(run_id, loop.run_id, inv)
        self._open_tools.append(run_id)
        if self._stop_error is None:
            return {}
        # The loop guard's action is ``raise``: the CLI cannot get our exception, so stop the run instead.
        reason = str(self._stop_error)
        self._open_tools.remove(run_id)
        self._runs.end(run_id, self._stop_error)
        return {
            "continue": False,
            "stopReason": reason,
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            },
        }

    def _tool_end(self, run_id: Hashable, data: dict[str, Any], failed: bool) -> None:
        if run_id in self._open_tools:
            self._open_tools.remove(run_id)
        run = self._runs.get(run_id)
        if run is None or not isinstance(run.inv, ToolInvocation):
            return
        if failed and run.inv.error_type is None:
            run.inv.error_type = _TOOL_FAILED
        if self._capture:
            run.inv.result = data.get("error") if failed else data.get("tool_response")
        self._runs.end(run_id)

    def _subagent_start(self, data: dict[str, Any]) -> None:
        """A ``task_started`` event for a sub-agent (in stream order, before any of its messages)."""
        agent_id, tool_use_id = str(data.get("task_id")), str(data["tool_use_id"])
        parent_task = data.get("parent_task_id")
        parent = self._main if parent_task is None else self._subagents.get(str(parent_task))
        tool_run_id = (parent.run_id, "tool", tool_use_id) if parent is not None else None
        if tool_run_id is None or self._runs.get(tool_run_id) is None:
            return  # not started by a tool call we traced
        self._tasks[agent_id] = tool_use_id
        agent_type = str(data["subagent_type"])
        definition = self._config.agents.get(agent_type) or {}
        inv = AgentInvocation(
            agent_name=agent_type,
            agent_id=agent_id,
            agent_description=definition.get("description"),
            provider=self._config.provider,
            conversation_id=self.session_id,
        )
        loop = self._subagents[agent_id] = _Loop(
            ("agent", agent_id), background=bool(data.get("is_backgrounded"))
        )
        self._open(loop.run_id, tool_run_id, inv)
        self._await_model(loop)

    def _end_subagent(self, task_id: str, data: dict[str, Any] | None) -> None:
        loop = self._subagents.pop(task_id, None)
        if loop is None:
            return
        self._close_chat(loop)
        run = self._runs.get(loop.run_id)
        answer = (data or {}).get("last_assistant_message")
        if self._capture and run is not None and isinstance(run.inv, AgentInvocation) and answer:
            run.inv.output_messages = [message("assistant", text_parts(answer), "end_turn")]
        self._runs.end(loop.run_id)

    # -- SDK MCP tools ----------------------------------------------------------------------------

    def add_mcp_tools(self, server: str, tools: list[Any]) -> None:
        """An SDK MCP server listed its tools to the CLI (their definitions as the model gets them)."""
        for definition in tools:
            if isinstance(definition, dict) and definition.get("name"):
                name = f"mcp__{server}__{definition['name']}"
                self._mcp_tools[name] = m.tool_definition(name, definition)

    def _tool_definitions(self) -> list[dict[str, Any]] | None:
        names = self._tool_names or list(self._mcp_tools)
        return [self._mcp_tools.get(name) or m.tool_definition(name, {}) for name in names] or None

    def tool_call(self, tool_name: str) -> tuple[ToolInvocation, otel_context.Context] | None:
        """The open ``execute_tool`` record of ``tool_name`` and its context: the newest such call (the CLI
        asks an SDK MCP server for a tool right after that tool's ``PreToolUse`` hook)."""
        for run_id in reversed(self._open_tools):
            run = self._runs.get(run_id)
            if run is not None and isinstance(run.inv, ToolInvocation) and run.inv.tool_name == tool_name:
                return run.inv, run.context
        return None

    # -- runs ---------------------------------------------------------------------------------------

    def _open(self, run_id: Hashable, parent_id: Hashable | None, inv: Any) -> None:
        run = self._runs.start(run_id, parent_id, inv, attach=False)
        if run.loop_error is not None and self._handler.settings.loop_guard_action is LoopGuardAction.RAISE:
            self._stop_error = self._stop_error or run.loop_error


def tool_failed(inv: ToolInvocation | None, error: BaseException) -> None:
    """An SDK MCP tool raised: its span reports the exception's type (the CLI only sees an error text)."""
    if inv is not None and inv.error_type is None:
        inv.error_type = error_type_of(error)
