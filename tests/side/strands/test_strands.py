"""Strands Agents through its own tracer answered by genai-otel: Agent -> invoke_agent, model calls -> one
chat span each (Strands' view merged with the openai SDK call beneath), tools -> execute_tool, Swarm ->
handle_conversation_turn, Graph -> invoke_workflow; Strands' own spans never appear next to ours. Real
strands-agents, real HTTP to the local model server."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from strands import Agent, tool
from strands.models.openai import OpenAIModel
from strands.multiagent import GraphBuilder, Swarm
from strands.telemetry.tracer import Tracer

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, LoopGuardAction

from ...agent_frameworks import (
    AGENT_TREE,
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

STRANDS_SCOPE = "strands.telemetry.tracer"


@tool
def get_weather(city: str) -> str:
    """The weather for a city."""
    return f"Sunny in {city}"


@tool(name="get_weather")
def broken_weather(city: str) -> str:
    """Always fails."""
    raise ValueError("tool exploded")


def _agent(model_server, model: str = "gpt-4o-mini-tool", name: str = "weather_agent", tools=(get_weather,)):
    client_args = {"api_key": API_KEY, "base_url": model_server.openai_base_url, "max_retries": 0}
    return Agent(
        model=OpenAIModel(client_args=client_args, model_id=model),
        tools=list(tools),
        name=name,
        description="Answers weather questions.",
        system_prompt="Be brief.",
        callback_handler=None,
    )


def _genai(span) -> bool:
    return span.instrumentation_scope.name == "genai_otel"


def _attrs(span) -> dict:
    return dict(span.attributes)


# -- trace shape ------------------------------------------------------------------------------------


def test_three_step_run_is_one_trace_with_one_span_per_model_call(otel, model_server):
    result = _agent(model_server)("weather in Paris?")

    assert str(result).strip() == "Echo: weather in Paris?"
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans) == AGENT_TREE  # nothing else: no Strands span, no second chat span
    assert not [s for s in spans if s.instrumentation_scope.name == STRANDS_SCOPE]
    agent = named(spans, "invoke_agent")[0]
    assert agent.kind is SpanKind.INTERNAL
    assert (
        _attrs(agent).items()
        >= {
            sc.GEN_AI_OPERATION_NAME: "invoke_agent",
            sc.GEN_AI_AGENT_NAME: "weather_agent",
            sc.GEN_AI_AGENT_ID: "default",
            sc.GEN_AI_AGENT_DESCRIPTION: "Answers weather questions.",
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini-tool",
        }.items()
    )
    merged_chats(spans, parent=agent)  # the openai SDK call merged into Strands' model call
    tool_span = named(spans, "execute_tool")[0]
    assert tool_span.parent.span_id == agent.context.span_id
    assert (
        _attrs(tool_span).items()
        >= {
            sc.GEN_AI_TOOL_NAME: "get_weather",
            sc.GEN_AI_TOOL_CALL_ID: "call_0",
            sc.GEN_AI_TOOL_TYPE: "function",
            sc.GEN_AI_TOOL_DESCRIPTION: "The weather for a city.",
            sc.GEN_AI_AGENT_NAME: "weather_agent",
        }.items()
    )
    assert "gen_ai.tool.json_schema" not in tool_span.attributes  # Strands' own extra is dropped
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 3


@pytest.mark.instrument_only("strands")
def test_framework_only_chat_span_has_strands_view(otel, model_server):
    _agent(model_server)("weather?")

    first, second = named(otel.spans(), "chat")
    assert (
        dict(first.attributes).items()
        >= {
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini-tool",
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_calls",),
        }.items()
    )
    assert first.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert second.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_stream_async_keeps_the_callers_context(otel, model_server):
    async def main():
        with context_kept():
            events = [e async for e in _agent(model_server).stream_async("weather?")]
        return events

    events = asyncio.run(main())
    assert "result" in events[-1]
    assert render(otel.spans()) == AGENT_TREE


def test_stream_broken_off_early_restores_context_and_ends_spans(otel, model_server):
    async def main():
        with context_kept() as before:
            stream = _agent(model_server).stream_async("weather?")
            async for _ in stream:
                break
            assert otel_context.get_current() is before
            await stream.aclose()

    asyncio.run(main())
    (agent,) = named(otel.spans(), "invoke_agent")
    assert agent.end_time is not None


def test_three_concurrent_runs_do_not_cross(otel, model_server):
    async def main():
        agents = [_agent(model_server) for _ in range(3)]
        return await asyncio.gather(*(a.invoke_async(f"q{i}") for i, a in enumerate(agents)))

    results = asyncio.run(main())
    assert sorted(str(r).strip() for r in results) == ["Echo: q0", "Echo: q1", "Echo: q2"]
    for spans in separate_runs(otel.spans()):
        assert render(spans) == AGENT_TREE


def test_caller_span_is_the_parent_and_context_unchanged(otel, model_server):
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("request") as request, context_kept():
        _agent(model_server)("weather?")
    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.parent.span_id == request.get_span_context().span_id


def test_agent_used_as_a_tool_nests_under_the_tool_span(otel, model_server):
    inner = _agent(model_server, "gpt-4o-mini", name="inner_agent", tools=())

    @tool
    def ask_inner(question: str) -> str:
        """Ask the inner agent."""
        return str(inner(question))

    _agent(model_server, tools=(ask_inner,))("delegate this")

    assert render(otel.spans()) == [
        "invoke_agent weather_agent",
        "  chat gpt-4o-mini-tool",
        "  execute_tool ask_inner",
        "    invoke_agent inner_agent",
        "      chat gpt-4o-mini",
        "  chat gpt-4o-mini-tool",
    ]
    inner_span = named(otel.spans(), "invoke_agent inner_agent")[0]
    assert inner_span.attributes[sc.GENAI_OTEL_AGENT_PATH] == "weather_agent>inner_agent"


# -- multi-agent --------------------------------------------------------------------------------------


def test_swarm_is_a_conversation_turn_of_its_entry_agent(otel, model_server):
    swarm = Swarm([_agent(model_server)])
    result = swarm("weather in Paris?")

    assert result.status.value == "completed"
    assert render(otel.spans()) == [
        "handle_conversation_turn weather_agent",
        *("  " + line for line in AGENT_TREE),
    ]
    turn = named(otel.spans(), "handle_conversation_turn")[0]
    assert turn.attributes[sc.GEN_AI_OPERATION_NAME] == "handle_conversation_turn"
    assert turn.kind is SpanKind.INTERNAL


def test_graph_is_a_workflow_with_its_agents_beneath(otel, model_server):
    builder = GraphBuilder()
    builder.add_node(_agent(model_server, "gpt-4o-mini", name="researcher", tools=()), "researcher")
    builder.add_node(_agent(model_server, "gpt-4o-mini", name="writer", tools=()), "writer")
    builder.add_edge("researcher", "writer")
    builder.set_graph_id("report_graph")
    asyncio.run(builder.build().invoke_async("write a report"))

    assert render(otel.spans()) == [
        "invoke_workflow report_graph",
        "  invoke_agent researcher",
        "    chat gpt-4o-mini",
        "  invoke_agent writer",
        "    chat gpt-4o-mini",
    ]
    workflow = named(otel.spans(), "invoke_workflow")[0]
    assert workflow.attributes[sc.GEN_AI_WORKFLOW_NAME] == "report_graph"


# -- errors and the loop guard ------------------------------------------------------------------------


def test_model_error_propagates_and_marks_the_spans(otel, model_server):
    import openai

    agent = _agent(model_server, "gpt-4o-mini-error-500")
    with pytest.raises(openai.InternalServerError):  # what Strands raises uninstrumented too
        agent("weather?")
    spans = otel.spans()
    assert render(spans) == ["invoke_agent weather_agent", "  chat gpt-4o-mini-error-500"]
    assert_failed(spans, "InternalServerError")


def test_tool_exception_marks_the_tool_span_and_the_run_goes_on(otel, model_server):
    result = _agent(model_server, tools=(broken_weather,))("weather?")

    assert str(result).strip() == "Echo: weather?"
    tool_span = named(otel.spans(), "execute_tool")[0]
    assert tool_span.status.status_code is StatusCode.ERROR
    assert tool_span.attributes[sc.ERROR_TYPE] == "ValueError"
    assert "tool exploded" not in (tool_span.status.description or "")  # no content by default
    assert named(otel.spans(), "invoke_agent")[0].status.status_code is StatusCode.UNSET


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent_span(otel, model_server):
    _agent(model_server)("weather?")

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 3


@pytest.mark.genai_settings(max_agent_steps=2, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_run_before_the_extra_model_call(otel, model_server):
    with pytest.raises(Exception) as caught:
        _agent(model_server)("weather?")

    # Strands wraps what its event loop raises; the guard's error is the cause.
    assert isinstance(caught.value.__cause__ or caught.value, genai_otel.AgentLoopError)
    last_chat = named(otel.spans(), "chat")[-1]
    assert last_chat.attributes[sc.ERROR_TYPE] == "AgentLoopError"
    assert sc.GEN_AI_RESPONSE_ID not in last_chat.attributes  # stopped before the request
    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"


# -- content --------------------------------------------------------------------------------------------


def test_no_content_by_default(otel, model_server):
    _agent(model_server)("weather in Paris?")

    assert_no_content(otel.spans(), secret="Paris")


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_under_capture(otel, model_server):
    _agent(model_server)("weather in Paris?")

    spans = otel.spans()
    agent = named(spans, "invoke_agent")[0]
    first, second = named(spans, "chat")
    tool_span = named(spans, "execute_tool")[0]
    system = [{"type": "text", "content": "Be brief."}]
    assert json.loads(agent.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == system
    assert json.loads(first.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == system
    assert_weather_content(first, second, tool_span, "weather in Paris?")
    (answer,) = json.loads(agent.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert answer == {
        "role": "assistant",
        "parts": [{"type": "text", "content": "Echo: weather in Paris?"}],
        "finish_reason": "stop",
    }


# -- uninstrument -------------------------------------------------------------------------------------


def test_uninstrument_gives_strands_its_own_tracer_back(otel, model_server):
    genai_otel.uninstrument()
    assert not hasattr(Tracer.start_agent_span, "__wrapped__")
    assert not hasattr(Agent.stream_async, "__wrapped__")
    _agent(model_server)("weather?")

    spans = otel.spans()
    assert not [s for s in spans if _genai(s)]
    assert [s for s in spans if s.instrumentation_scope.name == STRANDS_SCOPE]  # Strands' own spans are back

    otel_spans_before = len(spans)
    genai_otel.instrument(only=["strands", "openai"])  # and back again
    _agent(model_server)("weather?")
    assert render(otel.spans()[otel_spans_before:]) == AGENT_TREE


# -- example --------------------------------------------------------------------------------------------


def test_example_prints_the_agent_tree():
    out = run_example("strands_example.py")
    for line in ("invoke_agent weather_agent", "execute_tool get_weather", "chat gpt-4o-mini-tool"):
        assert line in out, out
    assert out.count("chat gpt-4o-mini-tool") == 2, out
