"""AutoGen AgentChat through the real framework, autogen-ext's OpenAI client, the real openai SDK and the
local model server: agent, team and Swarm trees, one span per model call, AutoGen's own GenAI spans taken
over, streaming, concurrency, errors, content capture, the loop guard and uninstrument."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json

import pytest

pytest.importorskip("autogen_agentchat")

import autogen_core
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.messages import TextMessage
from autogen_agentchat.teams import RoundRobinGroupChat, Swarm
from autogen_core import CancellationToken
from autogen_core.models import ModelFamily
from autogen_core.tools import FunctionTool
from autogen_ext.models.openai import OpenAIChatCompletionClient
from opentelemetry import context as otel_context
from opentelemetry.trace import StatusCode
from wrapt import ObjectProxy

import genai_otel
from genai_otel import semconv
from genai_otel.config import ContentCapture, LoopGuardAction

from ...agent_frameworks import (
    AGENT_TREE,
    agent_tree,
    assert_failed,
    assert_no_content,
    assert_weather_content,
    context_kept,
    merged_chats,
    run_example,
    separate_runs,
)
from ...conftest import API_KEY
from ...trees import named, render, traces

_MODEL_INFO = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "family": ModelFamily.UNKNOWN,
    "structured_output": False,
}


async def get_weather(city: str) -> str:
    """The weather for a city."""
    return f"Sunny in {city}"


def _client(model_server, model: str = "gpt-4o-mini-tool") -> OpenAIChatCompletionClient:
    return OpenAIChatCompletionClient(
        model=model,
        base_url=model_server.openai_base_url,
        api_key=API_KEY,
        model_info=_MODEL_INFO,
        max_retries=0,
    )


def _agent(model_server, model: str = "gpt-4o-mini-tool", name: str = "weather_agent", **kwargs):
    kwargs.setdefault("tools", [get_weather])
    return AssistantAgent(
        name,
        model_client=_client(model_server, model),
        description="Answers weather questions",
        system_message="You report the weather.",
        reflect_on_tool_use=True,
        **kwargs,
    )


def _ours(spans):
    return [s for s in spans if s.instrumentation_scope.name == "genai_otel"]


def _genai_tree(spans):
    """The tree of our spans (AutoGen's runtime messaging spans skipped, their children kept)."""
    return render(spans, keep=lambda s: s.instrumentation_scope.name == "genai_otel")


def _by_id(spans):
    return {s.context.span_id: s for s in spans}


# -- trace shape -------------------------------------------------------------------------------------


def test_agent_run_is_one_agent_span_over_two_model_calls_and_the_tool(otel, model_server):
    result = asyncio.run(_agent(model_server).run(task="weather in Paris?"))

    assert "Echo" in result.messages[-1].to_text()
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans) == AGENT_TREE
    agent = named(spans, "invoke_agent")[0]
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"
    assert agent.attributes[semconv.GEN_AI_AGENT_DESCRIPTION] == "Answers weather questions"
    assert agent.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert agent.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini-tool"


def test_round_robin_team_is_a_workflow_over_its_agents_turns(otel, model_server):
    first = _agent(model_server, name="first")
    second = _agent(model_server, "gpt-4o-mini", name="second", tools=[])
    team = RoundRobinGroupChat(
        [first, second], termination_condition=MaxMessageTermination(3), name="weather_team"
    )

    result = asyncio.run(team.run(task="weather in Paris?"))

    assert isinstance(result, TaskResult)
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert _genai_tree(spans) == [
        "invoke_workflow weather_team",
        "  invoke_agent first",
        "    chat gpt-4o-mini-tool",
        "    execute_tool get_weather",
        "    chat gpt-4o-mini-tool",
        "  invoke_agent second",
        "    chat gpt-4o-mini",
    ]
    workflow = named(spans, "invoke_workflow")[0]
    assert workflow.attributes[semconv.GEN_AI_WORKFLOW_NAME] == "weather_team"
    assert workflow.attributes[semconv.GEN_AI_CONVERSATION_ID] == team._team_id
    first_turn = next(s for s in spans if s.name == "invoke_agent first")
    assert first_turn.attributes[semconv.GEN_AI_AGENT_ID].startswith("first_")
    # AutoGen's own invoke_agent / create_agent / execute_tool spans are taken over: no second copy.
    assert not [
        s
        for s in spans
        if s.name.startswith(("invoke_agent", "create_agent", "execute_tool")) and s not in _ours(spans)
    ]


def test_swarm_run_is_a_conversation_turn_of_its_entry_agent(otel, model_server):
    triage = _agent(model_server, "gpt-4o-mini-handoff", name="triage", tools=[], handoffs=["weather"])
    weather = _agent(model_server, name="weather")
    team = Swarm([triage, weather], termination_condition=MaxMessageTermination(6))

    asyncio.run(team.run(task="weather in Paris?"))

    spans = otel.spans()
    assert len(traces(spans)) == 1
    tree = _genai_tree(spans)
    assert tree[:4] == [
        "handle_conversation_turn triage",
        "  invoke_agent triage",
        "    chat gpt-4o-mini-handoff",
        "    execute_tool transfer_to_weather",
    ]
    assert "  invoke_agent weather" in tree
    turn = named(spans, "handle_conversation_turn")[0]
    assert turn.attributes[semconv.GEN_AI_AGENT_NAME] == "triage"


def test_run_stream_traces_the_run_and_keeps_the_callers_context(otel, model_server):
    async def consume():
        with context_kept():
            items = [
                item
                async for item in _agent(model_server, model_client_stream=True).run_stream(task="weather?")
            ]
        return items

    items = asyncio.run(consume())

    assert isinstance(items[-1], TaskResult)
    spans = otel.spans()
    assert render(spans) == AGENT_TREE
    chats = named(spans, "chat")
    assert all(c.attributes[semconv.GEN_AI_REQUEST_STREAM] for c in chats)
    assert all(c.attributes[semconv.GEN_AI_RESPONSE_ID] for c in chats)
    # AutoGen asks for no usage on a stream (its CreateResult says 0 tokens): not recorded as 0.
    assert not [c for c in chats if c.attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS) == 0]


def test_a_stream_broken_off_early_ends_the_span_and_restores_the_context(otel, model_server):
    async def consume():
        with context_kept():
            stream = _agent(model_server).run_stream(task="weather?")
            async for _item in stream:
                break
            await stream.aclose()

    asyncio.run(consume())

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.end_time is not None


def test_one_span_per_model_call_merged_with_the_openai_sdk_call(otel, model_server):
    asyncio.run(_agent(model_server).run(task="weather in Paris?"))

    merged_chats(otel.spans())  # two model calls, not four: the openai SDK call is merged into ours


def test_direct_on_messages_is_an_agent_span(otel, model_server):
    agent = _agent(model_server)
    message = TextMessage(content="weather?", source="user")

    asyncio.run(agent.on_messages([message], CancellationToken()))

    assert render(otel.spans()) == AGENT_TREE


def test_three_concurrent_runs_do_not_cross(otel, model_server):
    async def three():
        agents = [_agent(model_server, name=f"agent_{i}") for i in range(3)]
        await asyncio.gather(*(a.run(task=f"weather {i}?") for i, a in enumerate(agents)))

    asyncio.run(three())

    trees = sorted(render(run) for run in separate_runs(otel.spans()))
    assert trees == [agent_tree(f"agent_{i}") for i in range(3)]


def test_model_error_propagates_unchanged_and_marks_the_spans(otel, model_server):
    import openai

    with pytest.raises(openai.InternalServerError):
        asyncio.run(_agent(model_server, "gpt-4o-mini-error-500").run(task="weather?"))

    spans = otel.spans()
    chat = named(spans, "chat")[0]
    agent = named(spans, "invoke_agent")[0]
    assert_failed((chat, agent), "InternalServerError")
    assert chat.parent.span_id == agent.context.span_id


def test_tool_error_marks_the_tool_span(otel, model_server):
    async def get_weather(city: str) -> str:
        """Always fails."""
        raise ValueError("tool exploded")

    asyncio.run(_agent(model_server, tools=[FunctionTool(get_weather, description="fails")]).run(task="w?"))

    tool = named(otel.spans(), "execute_tool")[0]
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[semconv.ERROR_TYPE] == "ValueError"


def test_no_content_by_default(otel, model_server):
    asyncio.run(_agent(model_server).run(task="weather in Paris?"))

    assert_no_content(otel.spans())


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_capture_records_messages_instructions_tools(otel, model_server):
    asyncio.run(_agent(model_server).run(task="weather in Paris?"))

    spans = otel.spans()
    agent = named(spans, "invoke_agent")[0]
    assert json.loads(agent.attributes[semconv.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == (
        "weather in Paris?"
    )
    assert "Echo" in agent.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]
    assert "You report the weather." in agent.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert json.loads(agent.attributes[semconv.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "get_weather"
    first, second = named(spans, "chat")
    assert "You report the weather." in first.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert_weather_content(first, second, named(spans, "execute_tool")[0], "weather in Paris?")


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent_span(otel, model_server):
    asyncio.run(_agent(model_server).run(task="weather?"))

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[semconv.GENAI_OTEL_AGENT_STEPS] == 3


def test_caller_context_unchanged_after_runs(otel, model_server):
    async def run():
        import openai

        with context_kept() as before:
            await _agent(model_server).run(task="weather?")
            assert otel_context.get_current() is before
            with pytest.raises(openai.InternalServerError):
                await _agent(model_server, "gpt-4o-mini-error-500").run(task="weather?")

    asyncio.run(run())


def test_uninstrument_restores_autogen(otel, model_server):
    from autogen_agentchat.agents import BaseChatAgent, _base_chat_agent
    from autogen_core.tools import BaseTool
    from autogen_ext.models.openai._openai_client import BaseOpenAIChatCompletionClient

    genai_otel.uninstrument()

    assert _base_chat_agent.trace_invoke_agent_span is autogen_core.trace_invoke_agent_span
    assert not isinstance(vars(BaseTool)["run_json"], ObjectProxy)
    assert not isinstance(vars(BaseChatAgent)["run"], ObjectProxy)
    assert not isinstance(vars(AssistantAgent)["on_messages"], ObjectProxy)
    assert not isinstance(vars(BaseOpenAIChatCompletionClient)["create"], ObjectProxy)
    asyncio.run(_agent(model_server).run(task="weather?"))
    assert _ours(otel.spans()) == []
    # AutoGen's own spans are back.
    assert named(otel.spans(), "invoke_agent weather_agent")


def test_uninstrument_restores_every_patched_attribute(otel):
    """Each patch target's own ``__dict__`` entry and its static lookup are back (an unwrap that left a
    copy in a subclass would shadow the base class)."""
    from genai_otel.instrumentation.autogen_agentchat import AutoGenInstrumentor

    def snapshot():
        out = {}
        for patch in AutoGenInstrumentor().patches():
            owner_path, _, attribute = patch.attribute.rpartition(".")
            try:
                owner = importlib.import_module(patch.module)
            except ImportError:
                continue  # an optional part not installed here (the MCP workbench needs mcp)
            for part in filter(None, owner_path.split(".")):
                owner = getattr(owner, part)
            out[f"{patch.module}:{patch.attribute}"] = (
                vars(owner).get(attribute),
                inspect.getattr_static(owner, attribute),
            )
        return out

    def changed(before, now):  # by identity: a wrapt proxy compares equal to what it wraps
        return [k for k in before if before[k][0] is not now[k][0] or before[k][1] is not now[k][1]]

    genai_otel.uninstrument()
    before = snapshot()
    genai_otel.instrument()
    assert len(changed(before, snapshot())) == len(before)
    genai_otel.uninstrument()
    assert changed(before, snapshot()) == []


def test_example_prints_the_agent_tree():
    out = run_example("autogen_agentchat_example.py")
    for line in ("invoke_agent weather_agent", "execute_tool get_weather", "chat gpt-4o-mini-tool"):
        assert line in out, out


def test_an_agent_used_as_a_tool_nests_its_run_under_the_tool_span(otel, model_server):
    from autogen_agentchat.tools import AgentTool

    inner = _agent(model_server, name="inner")
    outer = _agent(model_server, name="outer", tools=[AgentTool(inner)])

    async def run():
        with context_kept():
            await outer.run(task="weather in Paris?")

    asyncio.run(run())

    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert _genai_tree(spans) == [
        "invoke_agent outer",
        "  chat gpt-4o-mini-tool",
        "  execute_tool inner",
        "    invoke_agent inner",
        "      chat gpt-4o-mini-tool",
        "      execute_tool get_weather",
        "      chat gpt-4o-mini-tool",
        "  chat gpt-4o-mini-tool",
    ]


def test_a_failing_participant_fails_its_turn_and_the_workflow(otel, model_server):
    broken = _agent(model_server, "gpt-4o-mini-error-500", name="broken")
    team = RoundRobinGroupChat([broken], termination_condition=MaxMessageTermination(2), name="team")

    with pytest.raises(RuntimeError):  # AgentChat re-raises a participant's error as a RuntimeError
        asyncio.run(team.run(task="weather?"))

    spans = otel.spans()
    assert _genai_tree(spans) == [
        "invoke_workflow team",
        "  invoke_agent broken",
        "    chat gpt-4o-mini-error-500",
    ]
    turn, chat = named(spans, "invoke_agent")[0], named(spans, "chat")[0]
    assert turn.attributes[semconv.ERROR_TYPE] == chat.attributes[semconv.ERROR_TYPE] == "InternalServerError"
    workflow = named(spans, "invoke_workflow")[0]
    assert workflow.status.status_code is StatusCode.ERROR
    assert workflow.attributes[semconv.ERROR_TYPE] == "RuntimeError"


@pytest.mark.genai_settings(max_agent_steps=1, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_run(otel, model_server):
    with pytest.raises(genai_otel.AgentLoopError):
        asyncio.run(_agent(model_server).run(task="weather?"))

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.status.status_code is StatusCode.ERROR
    assert agent.attributes[semconv.ERROR_TYPE] == "AgentLoopError"
