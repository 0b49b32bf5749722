"""CrewAI (event bus): a crew -> invoke_workflow (sequential) / handle_conversation_turn (hierarchical), a
Flow -> invoke_workflow, an agent's task -> invoke_agent, LLM calls -> one chat span each (CrewAI's and the
openai SDK's merged), tools -> execute_tool. Real crewai, real HTTP to the local model server."""

from __future__ import annotations

import asyncio
import json
import os

# CrewAI's anonymous telemetry and its tracing service: off (no network here). Not OTEL_SDK_DISABLED,
# which would turn our telemetry off too.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

import pytest
from crewai import LLM, Agent, Crew, Process, Task
from crewai.flow.flow import Flow, listen, start
from crewai.tools import tool
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, LoopGuardAction
from genai_otel.telemetry.agent_runs import AgentLoopError

from ...agent_frameworks import assert_no_content, context_kept, run_example

MODEL = "gpt-4o-mini-tool"


@tool("get_weather")
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny in {city}"


def _crew(
    model_server,
    model: str = MODEL,
    process: Process = Process.sequential,
    tools=(get_weather,),
    **llm: object,
) -> Crew:
    agent = Agent(
        role="Weather reporter",
        goal="Report the weather",
        backstory="You know the weather everywhere.",
        tools=list(tools),
        llm=LLM(model=f"openai/{model}", base_url=model_server.openai_base_url, api_key="x", **llm),
        max_iter=3,
    )
    task = Task(description="What is the weather in Paris?", expected_output="The weather", agent=agent)
    if process is Process.hierarchical:
        manager = LLM(model=f"openai/{model}", base_url=model_server.openai_base_url, api_key="x")
        return Crew(agents=[agent], tasks=[task], process=process, manager_llm=manager, name="weather crew")
    return Crew(agents=[agent], tasks=[task], process=process, name="weather crew")


def _by_name(spans, name):
    return [s for s in spans if s.name == name]


def _chats(spans):
    return [s for s in spans if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "chat"]


def _assert_crew_tree(spans):
    """invoke_workflow over invoke_agent over model call -> tool -> model call; one span per model call."""
    (workflow,) = _by_name(spans, "invoke_workflow weather crew")
    (agent,) = _by_name(spans, "invoke_agent Weather reporter")
    chats = sorted(_chats(spans), key=lambda s: s.start_time)
    (tool_span,) = _by_name(spans, "execute_tool get_weather")
    assert len(chats) == 2, [s.name for s in spans]
    assert agent.parent.span_id == workflow.context.span_id
    for child in (*chats, tool_span):
        assert child.parent.span_id == agent.context.span_id
        assert child.context.trace_id == workflow.context.trace_id
    assert chats[0].end_time < tool_span.start_time and tool_span.end_time < chats[1].start_time
    for chat in chats:
        assert chat.name == f"chat {MODEL}" and chat.kind is SpanKind.CLIENT
        assert chat.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
        # What only the openai SDK call knows, merged into CrewAI's span.
        assert chat.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"
        assert chat.attributes[sc.GEN_AI_RESPONSE_MODEL] == f"{MODEL}-2026-01-01"
        assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert sorted(c.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS][0] for c in chats) == ["stop", "tool_calls"]
    assert workflow.attributes[sc.GEN_AI_WORKFLOW_NAME] == "weather crew"
    assert workflow.attributes[sc.GEN_AI_OPERATION_NAME] == "invoke_workflow"
    assert agent.attributes[sc.GEN_AI_AGENT_NAME] == "Weather reporter"
    assert agent.attributes[sc.GEN_AI_AGENT_DESCRIPTION] == "Report the weather"
    assert agent.attributes[sc.GEN_AI_AGENT_ID]
    assert agent.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert agent.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert tool_span.attributes[sc.GEN_AI_TOOL_DESCRIPTION].endswith("Current weather for a city.")
    return workflow, agent, chats, tool_span


def test_sequential_crew_is_a_workflow_over_the_agent_its_model_calls_and_tool(otel, model_server):
    result = _crew(model_server).kickoff()

    assert result.raw.startswith("Echo:")
    spans = otel.spans()
    workflow = _assert_crew_tree(spans)[0]
    assert workflow.parent is None
    assert len({s.context.trace_id for s in spans}) == 1


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_agent_kicked_off_alone_is_an_agent_span_over_its_model_calls_and_tool(otel, model_server):
    agent = _crew(model_server).agents[0]

    result = agent.kickoff("What is the weather in Paris?")

    assert str(result).startswith("Echo:")
    spans = otel.spans()
    (agent_span,) = _by_name(spans, "invoke_agent Weather reporter")
    assert agent_span.parent is None
    assert "What is the weather in Paris?" in agent_span.attributes[sc.GEN_AI_INPUT_MESSAGES]
    children = [s for s in spans if s is not agent_span]
    assert sorted(s.name for s in children) == [f"chat {MODEL}", f"chat {MODEL}", "execute_tool get_weather"]
    assert all(s.parent.span_id == agent_span.context.span_id for s in children)


def test_streamed_model_calls_are_one_span_each(otel, model_server):
    _crew(model_server, stream=True).kickoff()

    _workflow, _agent, chats, _tool = _assert_crew_tree(otel.spans())
    assert all(c.attributes[sc.GEN_AI_REQUEST_STREAM] for c in chats)


@pytest.mark.parametrize("method", ["akickoff", "kickoff_async"])
def test_async_kickoff(otel, model_server, method):
    result = asyncio.run(getattr(_crew(model_server), method)())

    assert result.raw.startswith("Echo:")
    _assert_crew_tree(otel.spans())


def test_three_concurrent_crews_do_not_cross(otel, model_server):
    async def main():
        return await asyncio.gather(*(_crew(model_server).akickoff() for _ in range(3)))

    asyncio.run(main())

    spans = otel.spans()
    workflows = _by_name(spans, "invoke_workflow weather crew")
    assert len(workflows) == 3 and len({w.context.trace_id for w in workflows}) == 3
    for workflow in workflows:
        _assert_crew_tree([s for s in spans if s.context.trace_id == workflow.context.trace_id])


def test_model_error_propagates_unchanged_and_marks_the_spans(otel, model_server):
    import openai

    with pytest.raises(openai.InternalServerError) as caught:
        _crew(model_server, "error-500", max_retries=0).kickoff()

    assert "simulated error 500" in str(caught.value)
    spans = otel.spans()
    chats = _chats(spans)
    assert chats and all(c.name == "chat error-500" for c in chats)
    for span in (
        *chats,
        *_by_name(spans, "invoke_agent Weather reporter"),
        *_by_name(spans, "invoke_workflow weather crew"),
    ):
        assert span.status.status_code is StatusCode.ERROR, span.name
        assert span.attributes[sc.ERROR_TYPE] == "InternalServerError", span.name


def test_content_is_off_by_default(otel, model_server):
    _crew(model_server).kickoff()

    assert_no_content(otel.spans(), secret="Paris")


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_capture_records_messages_instructions_tools_and_results(otel, model_server):
    _crew(model_server).kickoff()

    spans = otel.spans()
    _workflow, agent, chats, tool_span = _assert_crew_tree(spans)
    assert json.loads(agent.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "You know the weather everywhere."}
    ]
    (definition,) = json.loads(agent.attributes[sc.GEN_AI_TOOL_DEFINITIONS])
    assert definition["name"] == "get_weather" and "city" in definition["parameters"]["properties"]
    assert "What is the weather in Paris?" in agent.attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert "Echo:" in agent.attributes[sc.GEN_AI_OUTPUT_MESSAGES]
    first, second = chats
    assert "You know the weather everywhere." in first.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert [d["name"] for d in json.loads(first.attributes[sc.GEN_AI_TOOL_DEFINITIONS])] == ["get_weather"]
    (call,) = json.loads(first.attributes[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert call["type"] == "tool_call" and call["name"] == "get_weather"
    assert json.loads(second.attributes[sc.GEN_AI_INPUT_MESSAGES])[-1]["role"] == "tool"
    assert json.loads(tool_span.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool_span.attributes[sc.GEN_AI_TOOL_CALL_RESULT] == "Sunny in Paris"


def test_caller_context_is_unchanged_after_runs_and_failures(otel, model_server):
    import openai

    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("app request") as app, context_kept() as before:
        _crew(model_server).kickoff()
        assert otel_context.get_current() is before
        asyncio.run(_crew(model_server).akickoff())
        assert otel_context.get_current() is before
        with pytest.raises(openai.InternalServerError):
            _crew(model_server, "error-500", max_retries=0).kickoff()
    workflows = _by_name(otel.spans(), "invoke_workflow weather crew")
    assert len(workflows) == 3 and all(w.parent.span_id == app.get_span_context().span_id for w in workflows)


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent_run(otel, model_server):
    _crew(model_server).kickoff()

    (agent,) = _by_name(otel.spans(), "invoke_agent Weather reporter")
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 3


def test_hierarchical_crew_is_a_conversation_turn_steered_by_its_manager(otel, model_server):
    _crew(model_server, process=Process.hierarchical).kickoff()

    spans = otel.spans()
    (turn,) = [s for s in spans if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "handle_conversation_turn"]
    assert turn.parent is None and turn.name == "handle_conversation_turn weather crew"
    # CrewAI makes its manager agent from manager_llm after the kickoff started: the turn names the crew.
    assert turn.attributes[sc.GEN_AI_WORKFLOW_NAME] == "weather crew"
    assert sc.GEN_AI_AGENT_NAME not in turn.attributes
    agents = [s for s in spans if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "invoke_agent"]
    assert {a.attributes[sc.GEN_AI_AGENT_NAME] for a in agents} >= {"Crew Manager"}
    assert all(s.context.trace_id == turn.context.trace_id for s in spans)


def test_flow_is_a_workflow_with_its_methods_and_the_crew_it_kicks_off(otel, model_server):
    class WeatherFlow(Flow):
        @start()
        def ask(self):
            return "Paris"

        @listen(ask)
        def report(self, city):
            return _crew(model_server).kickoff().raw

    result = WeatherFlow().kickoff()

    assert result.startswith("Echo:")
    spans = otel.spans()
    (flow,) = [s for s in spans if s.attributes.get(sc.GEN_AI_WORKFLOW_NAME) == "WeatherFlow"]
    (ask,) = _by_name(spans, "ask")
    (report,) = _by_name(spans, "report")
    assert flow.parent is None and ask.parent.span_id == flow.context.span_id
    assert report.parent.span_id == flow.context.span_id
    (crew,) = _by_name(spans, "invoke_workflow weather crew")
    assert crew.parent.span_id == report.context.span_id
    _assert_crew_tree([s for s in spans if s.context.trace_id == flow.context.trace_id])


def test_uninstrument_restores_the_event_bus(otel, model_server):
    from crewai.events.event_bus import CrewAIEventsBus

    assert hasattr(CrewAIEventsBus._prepare_event, "__wrapped__")
    genai_otel.uninstrument()
    assert not hasattr(CrewAIEventsBus._prepare_event, "__wrapped__")
    _crew(model_server).kickoff()
    assert not [s for s in otel.genai_spans() if s.attributes.get(sc.GEN_AI_OPERATION_NAME) != "chat"]
    genai_otel.instrument(only=["crewai", "openai"])
    _crew(model_server).kickoff()
    _assert_crew_tree([s for s in otel.spans() if s.context.trace_id == otel.spans()[-1].context.trace_id])


def test_example_prints_the_agent_trace():
    out = run_example("crewai_example.py")
    for line in (
        "invoke_workflow",
        "invoke_agent Weather reporter",
        "execute_tool get_weather",
        "chat gpt-4o-mini",
    ):
        assert line in out, out
    assert out.count("chat gpt-4o-mini-tool") == 2, out


def test_tool_error_is_the_agents_observation_and_marks_the_tool_span(otel, model_server):
    @tool("get_weather")
    def broken_weather(city: str) -> str:
        """Current weather for a city."""
        raise RuntimeError("weather service down")

    _crew(model_server, tools=[broken_weather]).kickoff()

    tools = _by_name(otel.spans(), "execute_tool get_weather")
    assert tools and all(t.status.status_code is StatusCode.ERROR for t in tools)
    assert {t.attributes[sc.ERROR_TYPE] for t in tools} == {"RuntimeError"}


@pytest.mark.genai_settings(max_agent_steps=1, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_run(otel, model_server):
    with pytest.raises(AgentLoopError):
        _crew(model_server).kickoff()

    spans = otel.spans()
    agents = _by_name(spans, "invoke_agent Weather reporter")  # CrewAI retries the task before giving up
    assert (
        agents and not _by_name(spans, "chat gpt-4o-mini-tool")[len(agents) :]
    )  # no model call after a tool
    for span in (*agents, *_by_name(spans, "execute_tool get_weather")):
        assert span.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
        assert span.attributes[sc.ERROR_TYPE] == "AgentLoopError"
