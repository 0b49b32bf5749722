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

from collections.abc import Iterable

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch

_AGENTS = "autogen_agentchat.agents._base_chat_agent"
_ASSISTANT = "autogen_agentchat.agents._assistant_agent"
_TEAMS = "autogen_agentchat.teams._group_chat._base_group_chat"
_CONTAINER = "autogen_agentchat.teams._group_chat._chat_agent_container"
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
        from genai_otel.instrumentation.autogen_agentchat._hooks import AutoGenHooks, participant

        hooks = AutoGenHooks(self.handler)
        self._hooks = hooks
        agent_run = (hooks.agent_run, hooks.agent_result)
        for module in (_AGENTS, _TEAMS):
            owner = "BaseChatAgent" if module == _AGENTS else "BaseGroupChat"
            yield Patch(module, f"{owner}.run", lambda h: hooks.coroutine(*agent_run))
            yield Patch(module, f"{owner}.run_stream", lambda h: hooks.generator(*agent_run))
        messages = (hooks.agent_messages, hooks.agent_result)
        yield Patch(_ASSISTANT, "AssistantAgent.on_messages", lambda h: hooks.coroutine(*messages))
        yield Patch(_ASSISTANT, "AssistantAgent.on_messages_stream", lambda h: hooks.generator(*messages))
        yield Patch(
            _CONTAINER,
            "ChatAgentContainer.on_message_impl",
            lambda h: hooks.coroutine(hooks.participant_turn, None, participant),
        )
        yield Patch(
            _TOOLS, "BaseTool.run_json", lambda h: hooks.coroutine(hooks.tool_call, hooks.tool_result)
        )
        model = (hooks.model_call, hooks.model_result)
        yield Patch(_OPENAI, "BaseOpenAIChatCompletionClient.create", lambda h: hooks.coroutine(*model))
        yield Patch(
            _OPENAI, "BaseOpenAIChatCompletionClient.create_stream", lambda h: hooks.generator(*model)
        )
        for module, operations in _FRAMEWORK_SPANS:
            for operation in operations:
                yield Patch(
                    module, f"trace_{operation}_span", lambda h, op=operation: hooks.framework_span(op)
                )

    def _uninstrument(self, **kwargs: object) -> None:
        super()._uninstrument(**kwargs)
        hooks = getattr(self, "_hooks", None)
        if hooks is not None:
            hooks.runs.end_all()
