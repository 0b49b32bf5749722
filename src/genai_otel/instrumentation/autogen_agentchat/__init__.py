"""AutoGen AgentChat (``autogen-agentchat`` 0.7+, with ``autogen-core`` and ``autogen-ext``):

* an agent's ``run`` / ``run_stream`` / ``on_messages`` / ``on_messages_stream``, and each turn a team
  gives a participant -> ``invoke_agent {agent}`` (description; provider and model of its model client;
  the runtime's agent id inside a team);
* ``RoundRobinGroupChat``, ``SelectorGroupChat``, ``GraphFlow`` runs -> ``invoke_workflow {team}``;
  ``Swarm`` and ``MagenticOneGroupChat`` runs, steered by hand-offs or an orchestrator ->
  ``handle_conversation_turn {entry agent}``; the team id is the conversation id;
* ``BaseTool.run_json`` (function tools, hand-offs) -> ``execute_tool {tool}``;
* ``OpenAIChatCompletionClient`` / ``AzureOpenAIChatCompletionClient`` ``create`` / ``create_stream`` ->
  ``chat {model}``, owning the openai SDK call made inside: one span per model call.

AutoGen emits GenAI spans itself (``trace_create_agent_span``, ``trace_invoke_agent_span``,
``trace_tool_span``, on the global tracer): those blocks are taken over, so there is one set. A block one
of our runs covers gets our span; one we do not cover (a tool streamed with ``run_json_stream``, an MCP
workbench call, an agent type we do not wrap) becomes a conformant record of ours; ``create_agent``,
which AutoGen emits for constructing an agent object in-process, is dropped. The runtime's messaging spans
(``autogen send`` / ``process``) are not GenAI spans and are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch, Wrapper
from genai_otel.telemetry import TelemetryHandler

if TYPE_CHECKING:
    from genai_otel.instrumentation.autogen_agentchat._hooks import AutoGenHooks

_AGENTS = "autogen_agentchat.agents._base_chat_agent"
_ASSISTANT = "autogen_agentchat.agents._assistant_agent"
_TEAMS = "autogen_agentchat.teams._group_chat._base_group_chat"
_CONTAINER = "autogen_agentchat.teams._group_chat._chat_agent_container"
# The base of team participants' containers (and managers): its message entry point is its own.
_SEQUENTIAL = "autogen_agentchat.teams._group_chat._sequential_routed_agent"
_TOOLS = "autogen_core.tools._base"
_OPENAI = "autogen_ext.models.openai._openai_client"
# Where AutoGen binds its span helpers by name (``from autogen_core import trace_tool_span``).
_FRAMEWORK_SPANS = (
    (_AGENTS, ("create_agent", "invoke_agent")),
    (_CONTAINER, ("invoke_agent",)),
    (_TOOLS, ("tool",)),
    ("autogen_ext.tools.mcp._workbench", ("tool",)),
)


class AutoGenInstrumentor(GenAIInstrumentor):
    """Instruments ``autogen-agentchat`` agents and teams, ``autogen-core`` tools and ``autogen-ext``'s
    OpenAI model clients."""

    dependencies = ("autogen-agentchat >= 0.7",)

    def patches(self) -> Iterable[Patch]:
        for module, owner in ((_AGENTS, "BaseChatAgent"), (_TEAMS, "BaseGroupChat")):
            yield Patch(module, f"{owner}.run", self._wrapper("coroutine", "agent_run", "agent_result"))
            yield Patch(
                module, f"{owner}.run_stream", self._wrapper("generator", "agent_run", "agent_result")
            )
        for method, kind in (("on_messages", "coroutine"), ("on_messages_stream", "generator")):
            yield Patch(
                _ASSISTANT, f"AssistantAgent.{method}", self._wrapper(kind, "agent_messages", "agent_result")
            )
        yield Patch(
            _SEQUENTIAL,
            "SequentialRoutedAgent.on_message_impl",
            self._wrapper("participant", "participant_turn"),
        )
        yield Patch(_TOOLS, "BaseTool.run_json", self._wrapper("coroutine", "tool_call", "tool_result"))
        client = "BaseOpenAIChatCompletionClient"
        yield Patch(_OPENAI, f"{client}.create", self._wrapper("coroutine", "model_call", "model_result"))
        yield Patch(
            _OPENAI, f"{client}.create_stream", self._wrapper("generator", "model_stream", "model_result")
        )
        for module, operations in _FRAMEWORK_SPANS:
            for operation in operations:
                yield Patch(module, f"trace_{operation}_span", self._framework_span(operation))

    def _hooks_for(self, handler: TelemetryHandler) -> AutoGenHooks:
        """One set of hooks (and open runs) per instrument()."""
        from genai_otel.instrumentation.autogen_agentchat._hooks import AutoGenHooks

        hooks = getattr(self, "_hooks", None)
        if hooks is None or hooks.handler is not handler:
            hooks = self._hooks = AutoGenHooks(handler)
        return hooks

    def _wrapper(
        self, kind: str, build: str, finish: str | None = None
    ) -> Callable[[TelemetryHandler], Wrapper]:
        """The factory of a wrapper: ``kind`` of method, the hooks' ``build`` and ``finish`` methods."""

        def factory(handler: TelemetryHandler) -> Wrapper:
            hooks = self._hooks_for(handler)
            record, result = getattr(hooks, build), getattr(hooks, finish) if finish else None
            if kind == "participant":
                from genai_otel.instrumentation.autogen_agentchat._hooks import participant

                return hooks.coroutine(record, result, participant)
            return getattr(hooks, kind)(record, result)

        return factory

    def _framework_span(self, operation: str) -> Callable[[TelemetryHandler], Wrapper]:
        return lambda handler: self._hooks_for(handler).framework_span(operation)

    def _uninstrument(self, **kwargs: object) -> None:
        super()._uninstrument(**kwargs)
        hooks = getattr(self, "_hooks", None)
        if hooks is not None:
            hooks.runs.end_all()
