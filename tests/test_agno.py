"""Agno through the real framework, the real OpenAI SDK and the local model server: Agent.run / arun
(streamed too) -> invoke_agent, each model call -> one chat span (Agno's view merged with the openai SDK
call beneath), each tool call -> execute_tool, a Team -> invoke_agent with its members beneath the
delegation tool; failures Agno keeps in its results still mark the spans."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

# Agno reports runs to its own API unless told not to: no network here.
os.environ.setdefault("AGNO_TELEMETRY", "false")
pytest.importorskip("agno")

import agno.agent._run
from agno.agent import Agent
from agno.models.openai import OpenAIChat
from agno.run.base import RunStatus
from agno.team import Team
from agno.team.mode import TeamMode
from agno.tools.function import FunctionCall
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, LoopGuardAction

from .agent_frameworks import (
    AGENT_TREE,
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


def _model(model_server, model: str = "gpt-4o-mini-tool") -> OpenAIChat:
    return OpenAIChat(id=model, base_url=model_server.openai_base_url, api_key=API_KEY, max_retries=0)


def _agent(model_server, model: str = "gpt-4o-mini-tool", tools=(get_weather,), **kwargs) -> Agent:
    return Agent(
        model=_model(model_server, model),
        tools=list(tools),
        name="weather_agent",
        description="Answers weather questions.",
        instructions="Be brief.",
        **kwargs,
    )


# -- trace shape ------------------------------------------------------------------------------------


def test_three_step_run_is_one_trace_with_one_span_per_model_call(otel, model_server):
    result = _agent(model_server).run("weather in Paris?", session_id="session-1")

    assert result.content == "Echo: weather in Paris?"
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans) == AGENT_TREE  # nothing else: no second chat span for one call
    agent = named(spans, "invoke_agent")[0]
    assert agent.kind is SpanKind.INTERNAL
    assert (
        dict(agent.attributes).items()
        >= {
            sc.GEN_AI_OPERATION_NAME: "invoke_agent",
            sc.GEN_AI_AGENT_NAME: "weather_agent",
            sc.GEN_AI_AGENT_ID: "weather-agent",
            sc.GEN_AI_AGENT_DESCRIPTION: "Answers weather questions.",
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini-tool",
            sc.GEN_AI_CONVERSATION_ID: "session-1",
            sc.GENAI_OTEL_AGENT_STEPS: 3,
        }.items()
    )
    for chat in merged_chats(spans, parent=agent):  # the openai SDK call merged into Agno's model call
        assert chat.attributes[sc.GEN_AI_CONVERSATION_ID] == "session-1"  # from the agent's baggage
    tool_span = named(spans, "execute_tool")[0]
    assert (
        dict(tool_span.attributes).items()
        >= {
            sc.GEN_AI_TOOL_NAME: "get_weather",
            sc.GEN_AI_TOOL_CALL_ID: "call_0",
            sc.GEN_AI_TOOL_TYPE: "function",
            sc.GEN_AI_AGENT_NAME: "weather_agent",
        }.items()
    )
    assert tool_span.attributes[sc.GEN_AI_TOOL_DESCRIPTION].startswith("The weather for a city.")


@pytest.mark.instrument_only("agno")
def test_framework_only_chat_span_has_agnos_view(otel, model_server):
    model = _model(model_server, "gpt-4o-mini")
    model.temperature = 0.2
    Agent(model=model, name="weather_agent").run("hi")

    (chat,) = named(otel.spans(), "chat")
    assert chat.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert chat.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert chat.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0


def test_streamed_run_keeps_the_callers_context(otel, model_server):
    with context_kept():
        events = list(_agent(model_server).run("weather?", stream=True))

    assert "".join(e.content for e in events if getattr(e, "content", None)) == "Echo: weather?"
    assert render(otel.spans()) == AGENT_TREE
    assert all(c.attributes[sc.GEN_AI_REQUEST_STREAM] for c in named(otel.spans(), "chat"))


def test_stream_broken_off_early_restores_context_and_ends_spans(otel, model_server):
    with context_kept() as before:
        stream = _agent(model_server).run("weather?", stream=True)
        for _ in stream:
            assert otel_context.get_current() is before
            break
        stream.close()

    (agent,) = named(otel.spans(), "invoke_agent")
    assert agent.end_time is not None


def test_async_and_async_stream(otel, model_server):
    async def main():
        with context_kept():
            result = await _agent(model_server).arun("weather?")
            events = [e async for e in _agent(model_server).arun("weather?", stream=True)]
        return result, events

    result, events = asyncio.run(main())
    assert result.content == "Echo: weather?"
    assert events
    groups = traces(otel.spans())
    assert len(groups) == 2
    for spans in groups.values():
        assert render(spans) == AGENT_TREE


def test_three_concurrent_runs_do_not_cross(otel, model_server):
    async def main():
        agents = [_agent(model_server) for _ in range(3)]
        return await asyncio.gather(*(a.arun(f"q{i}") for i, a in enumerate(agents)))

    results = asyncio.run(main())
    assert sorted(r.content for r in results) == ["Echo: q0", "Echo: q1", "Echo: q2"]
    for spans in separate_runs(otel.spans()):
        assert render(spans) == AGENT_TREE


def test_caller_span_is_the_parent(otel, model_server):
    with trace.get_tracer("app").start_as_current_span("request") as request:
        _agent(model_server).run("weather?")
    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.parent.span_id == request.get_span_context().span_id


def test_team_members_run_beneath_the_delegation_tool(otel, model_server):
    team = Team(
        members=[_agent(model_server)],
        model=_model(model_server),
        name="weather_team",
        mode=TeamMode.broadcast,
    )
    result = team.run("weather in Paris?")

    assert result.content
    assert render(otel.spans()) == [
        "invoke_agent weather_team",
        "  chat gpt-4o-mini-tool",
        "  execute_tool delegate_task_to_members",
        *("    " + line for line in AGENT_TREE),
        "  chat gpt-4o-mini-tool",
    ]
    member = named(otel.spans(), "invoke_agent weather_agent")[0]
    assert member.attributes[sc.GENAI_OTEL_AGENT_PATH] == "weather_team>weather_agent"


# -- failures and the loop guard -----------------------------------------------------------------------


def test_model_error_keeps_agnos_result_and_marks_the_spans(otel, model_server):
    result = _agent(model_server, "gpt-4o-mini-error-500").run("weather?")

    assert result.status is RunStatus.error  # Agno returns the failure, as it does uninstrumented
    spans = otel.spans()
    assert render(spans) == ["invoke_agent weather_agent", "  chat gpt-4o-mini-error-500"]
    assert_failed(spans, "ModelProviderError")
    assert not [s for s in spans if "simulated" in (s.status.description or "")]  # no content by default


def test_model_error_raised_through_a_stream_marks_the_spans(otel, model_server):
    events = list(_agent(model_server, "gpt-4o-mini-error-500").run("weather?", stream=True))

    assert type(events[-1]).__name__ == "RunErrorEvent"
    for span in otel.spans():
        assert span.status.status_code is StatusCode.ERROR


def test_failing_tool_marks_its_span_and_the_run_goes_on(otel, model_server):
    def broken_weather(city: str) -> str:
        """Always fails."""
        raise ValueError("tool exploded")

    result = _agent(model_server, tools=(broken_weather,)).run("weather?")

    assert result.content == "Echo: weather?"
    tool_span = named(otel.spans(), "execute_tool")[0]
    assert tool_span.status.status_code is StatusCode.ERROR
    assert tool_span.attributes[sc.ERROR_TYPE] == "ToolFailed"
    assert named(otel.spans(), "invoke_agent")[0].status.status_code is StatusCode.UNSET


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent_span(otel, model_server):
    _agent(model_server).run("weather?")

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 3


@pytest.mark.genai_settings(max_agent_steps=2, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_run_before_the_extra_model_call(otel, model_server):
    result = _agent(model_server).run("weather?")

    assert result.status is RunStatus.error  # Agno turns what its run raises into an error result
    last_chat = named(otel.spans(), "chat")[-1]
    assert last_chat.attributes[sc.ERROR_TYPE] == "AgentLoopError"
    assert sc.GEN_AI_RESPONSE_ID not in last_chat.attributes  # stopped before the request
    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[sc.ERROR_TYPE] == "AgentLoopError"
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"


# -- content --------------------------------------------------------------------------------------------


def test_no_content_by_default(otel, model_server):
    _agent(model_server).run("weather in Paris?")

    assert_no_content(otel.spans())


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_under_capture(otel, model_server):
    _agent(model_server).run("weather in Paris?")

    spans = otel.spans()
    agent = named(spans, "invoke_agent")[0]
    first, second = named(spans, "chat")
    tool_span = named(spans, "execute_tool")[0]
    assert json.loads(agent.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Be brief."}
    ]
    assert json.loads(agent.attributes[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "weather in Paris?"}]}
    ]
    assert json.loads(agent.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Echo: weather in Paris?"}]}
    ]
    assert "Be brief." in json.loads(first.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS])[0]["content"]
    assert_weather_content(first, second, tool_span, "weather in Paris?")


# -- uninstrument -------------------------------------------------------------------------------------


def test_uninstrument_restores_agno(otel, model_server):
    genai_otel.uninstrument()
    assert not hasattr(agno.agent._run._run, "__wrapped__")
    assert not hasattr(FunctionCall.execute, "__wrapped__")
    _agent(model_server).run("weather?")
    assert otel.spans() == []

    genai_otel.instrument(only=["agno", "openai"])  # and back again
    _agent(model_server).run("weather?")
    assert render(otel.spans()) == AGENT_TREE


# -- example --------------------------------------------------------------------------------------------


def test_example_prints_the_agent_tree():
    out = run_example("agno_example.py")
    for line in ("invoke_agent weather_agent", "execute_tool get_weather", "chat gpt-4o-mini-tool"):
        assert line in out, out
    assert out.count("chat gpt-4o-mini-tool") == 2, out
