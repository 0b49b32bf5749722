"""AG2 1.x through the real framework, its OpenAI config (the real openai SDK) and the local model server:
turn / model call / tool trees, one span per model call, AG2's own telemetry middleware passed through,
streaming, concurrency, errors, content capture, the loop guard and uninstrument."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("ag2")

from ag2 import Agent
from ag2.config.openai import OpenAIConfig
from ag2.middleware.builtin.telemetry import TelemetryMiddleware, _TelemetryMiddlewareInstance
from opentelemetry import context as otel_context
from opentelemetry.trace import StatusCode
from wrapt import ObjectProxy

import genai_otel
from genai_otel import semconv
from genai_otel.config import ContentCapture, LoopGuardAction

from .agent_frameworks import (
    AGENT_TREE,
    agent_tree,
    assert_failed,
    assert_no_content,
    assert_weather_content,
    context_kept,
    get_weather,
    merged_chats,
    run_example,
    separate_runs,
)
from .conftest import API_KEY
from .trees import named, render, traces


def _agent(model_server, model: str = "gpt-4o-mini-tool", name: str = "weather_agent", **kwargs) -> Agent:
    streaming = kwargs.pop("streaming", False)
    config = OpenAIConfig(
        model=model,
        base_url=model_server.openai_base_url,
        api_key=API_KEY,
        max_retries=0,
        streaming=streaming,
    )
    kwargs.setdefault("tools", [get_weather])
    return Agent(name, "You report the weather.", config=config, **kwargs)


# -- trace shape -------------------------------------------------------------------------------------


def test_ask_is_one_agent_span_over_two_model_calls_and_the_tool(otel, model_server):
    reply = asyncio.run(_agent(model_server).ask("weather in Paris?"))

    assert reply.body == "Echo: weather in Paris?"
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans) == AGENT_TREE
    agent = named(spans, "invoke_agent")[0]
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"
    assert agent.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert agent.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini-tool"
    assert agent.attributes[semconv.GEN_AI_CONVERSATION_ID]
    tool = named(spans, "execute_tool")[0]
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID]
    assert tool.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"


def test_one_span_per_model_call_merged_with_the_openai_sdk_call(otel, model_server):
    asyncio.run(_agent(model_server).ask("weather in Paris?"))

    merged_chats(otel.spans())  # two model calls, not four: the openai SDK call is merged into ours


def test_ag2_telemetry_middleware_passes_through_no_second_copy(otel, model_server):
    agent = _agent(model_server, middleware=[TelemetryMiddleware(agent_name="weather_agent")])

    asyncio.run(agent.ask("weather in Paris?"))

    assert render(otel.spans()) == AGENT_TREE


def test_streaming_model_calls(otel, model_server):
    reply = asyncio.run(_agent(model_server, streaming=True).ask("weather in Paris?"))

    assert reply.body == "Echo: weather in Paris?"
    spans = otel.spans()
    assert render(spans) == AGENT_TREE
    chats = named(spans, "chat")
    assert all(c.attributes[semconv.GEN_AI_REQUEST_STREAM] for c in chats)
    assert all(c.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 for c in chats)


def test_run_handle_traces_the_turn(otel, model_server):
    async def run():
        async with _agent(model_server).run("weather in Paris?") as handle:
            return await handle.result()

    reply = asyncio.run(run())

    assert reply.body == "Echo: weather in Paris?"
    assert render(otel.spans()) == AGENT_TREE


def test_a_follow_up_ask_is_a_second_turn_of_the_same_conversation(otel, model_server):
    async def converse():
        reply = await _agent(model_server, "gpt-4o-mini", tools=[]).ask("hello")
        return await reply.ask("and again")

    asyncio.run(converse())

    turns = named(otel.spans(), "invoke_agent")
    assert len(turns) == 2
    ids = {t.attributes[semconv.GEN_AI_CONVERSATION_ID] for t in turns}
    assert len(ids) == 1


def test_three_concurrent_turns_do_not_cross(otel, model_server):
    async def three():
        agents = [_agent(model_server, name=f"agent_{i}") for i in range(3)]
        await asyncio.gather(*(a.ask(f"weather {i}?") for i, a in enumerate(agents)))

    asyncio.run(three())

    trees = sorted(render(run) for run in separate_runs(otel.spans()))
    assert trees == [agent_tree(f"agent_{i}") for i in range(3)]


def test_model_error_propagates_unchanged_and_marks_the_spans(otel, model_server):
    import openai

    with pytest.raises(openai.InternalServerError):
        asyncio.run(_agent(model_server, "gpt-4o-mini-error-500").ask("weather?"))

    spans = otel.spans()
    chat, agent = named(spans, "chat")[0], named(spans, "invoke_agent")[0]
    assert_failed((chat, agent), "InternalServerError")
    assert chat.parent.span_id == agent.context.span_id


def test_a_failed_tool_marks_its_span_and_the_turn_goes_on(otel, model_server):
    def get_weather(city: str) -> str:
        """Always fails."""
        raise ValueError("tool exploded")

    asyncio.run(_agent(model_server, tools=[get_weather]).ask("weather?"))

    spans = otel.spans()
    tool = named(spans, "execute_tool")[0]
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert named(spans, "invoke_agent")[0].status.status_code is StatusCode.UNSET


def test_no_content_by_default(otel, model_server):
    asyncio.run(_agent(model_server).ask("weather in Paris?"))

    assert_no_content(otel.spans())


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_capture_records_messages_instructions_tools(otel, model_server):
    asyncio.run(_agent(model_server).ask("weather in Paris?"))

    spans = otel.spans()
    agent = named(spans, "invoke_agent")[0]
    assert json.loads(agent.attributes[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "weather in Paris?"}]}
    ]
    assert "Echo: weather in Paris?" in agent.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]
    assert "You report the weather." in agent.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert json.loads(agent.attributes[semconv.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "get_weather"
    first, second = named(spans, "chat")
    assert "You report the weather." in first.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert_weather_content(first, second, named(spans, "execute_tool")[0], "weather in Paris?")


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent_span(otel, model_server):
    asyncio.run(_agent(model_server).ask("weather?"))

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[semconv.GENAI_OTEL_AGENT_STEPS] == 3


def test_caller_context_unchanged_after_turns(otel, model_server):
    async def run():
        import openai

        with context_kept() as before:
            await _agent(model_server).ask("weather?")
            assert otel_context.get_current() is before
            with pytest.raises(openai.InternalServerError):
                await _agent(model_server, "gpt-4o-mini-error-500").ask("weather?")

    asyncio.run(run())


def test_uninstrument_restores_ag2(otel, model_server):
    from ag2.agent import Agent as AgentClass

    genai_otel.uninstrument()

    assert not isinstance(vars(AgentClass)["_drive_scope"], ObjectProxy)
    assert not isinstance(vars(_TelemetryMiddlewareInstance)["on_turn"], ObjectProxy)
    asyncio.run(_agent(model_server).ask("weather?"))
    assert [s for s in otel.spans() if s.instrumentation_scope.name == "genai_otel"] == []


def test_example_prints_the_agent_tree():
    out = run_example("ag2_example.py")
    for line in ("invoke_agent weather_agent", "execute_tool get_weather", "chat gpt-4o-mini-tool"):
        assert line in out, out


def test_an_agent_used_as_a_tool_nests_its_turn_under_the_tool_span(otel, model_server):
    inner = _agent(model_server, name="inner")
    outer = _agent(model_server, name="outer", tools=[inner.as_tool(description="Knows the weather")])

    asyncio.run(outer.ask("weather in Paris?"))

    spans = otel.spans()
    assert len(traces(spans)) == 1
    tree = render(spans)
    assert tree[:3] == ["invoke_agent outer", "  chat gpt-4o-mini-tool", "  execute_tool task_inner"]
    assert tree[3:7] == ["    invoke_agent inner", *("    " + line for line in AGENT_TREE[1:])]


@pytest.mark.genai_settings(max_agent_steps=1, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_turn(otel, model_server):
    with pytest.raises(genai_otel.AgentLoopError):
        asyncio.run(_agent(model_server).ask("weather?"))

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.status.status_code is StatusCode.ERROR
    assert agent.attributes[semconv.ERROR_TYPE] == "AgentLoopError"
