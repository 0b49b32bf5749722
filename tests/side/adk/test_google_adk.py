"""Google ADK through its telemetry scopes answered by genai-otel: Runner -> handle_conversation_turn,
LlmAgent -> invoke_agent, workflow agents -> invoke_workflow, model calls -> one chat span each (ADK's view
merged with the google-genai call beneath), tools -> execute_tool; ADK's own spans, GenAI events and
duplicated metrics never appear next to ours. Real google-adk, real HTTP to the local model server
(Gemini protocol)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import wrapt
from google.adk import version as adk_version
from google.adk.agents import LlmAgent, LoopAgent, ParallelAgent, SequentialAgent
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.models.google_llm import Gemini
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import InMemoryRunner
from google.adk.telemetry import _instrumentation, _metrics, tracing
from google.adk.tools.agent_tool import AgentTool
from google.adk.tools.function_tool import FunctionTool
from google.adk.workflow import START, Workflow
from google.genai import errors, types
from opentelemetry import _logs, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.trace import SpanKind, StatusCode

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, LoopGuardAction

from ...agent_frameworks import (
    assert_failed,
    assert_no_content,
    context_kept,
    get_weather,
    run_example,
    separate_runs,
)
from ...conftest import API_KEY
from ...trees import named, render

ADK_SCOPE = "gcp.vertex.agent"
MODEL = "gemini-2.0-flash-tool"
QUESTION = "What is the weather in Paris?"
TREE = [
    "handle_conversation_turn weather_agent",
    "  invoke_agent weather_agent",
    "    chat gemini-2.0-flash-tool",
    "    execute_tool get_weather",
    "    chat gemini-2.0-flash-tool",
]

# ADK's GenAI events go to the global logger provider: one that keeps them, to show they are silenced.
ADK_LOGS = InMemoryLogRecordExporter()
_ADK_LOGGER_PROVIDER = LoggerProvider()
_ADK_LOGGER_PROVIDER.add_log_record_processor(SimpleLogRecordProcessor(ADK_LOGS))
_logs.set_logger_provider(_ADK_LOGGER_PROVIDER)


@pytest.fixture(autouse=True)
def _gemini_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", API_KEY)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)


def _model(model_server: Any, name: str = MODEL) -> Gemini:
    return Gemini(model=name, base_url=model_server.url)


def _agent(model_server: Any, model: str = MODEL, tools: list[Any] | None = None, **kwargs: Any) -> LlmAgent:
    return LlmAgent(
        name=kwargs.pop("name", "weather_agent"),
        model=_model(model_server, model),
        description="Answers weather questions.",
        instruction="Use the weather tool.",
        tools=[get_weather] if tools is None else tools,
        **kwargs,
    )


def _message(text: str = QUESTION) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def _run(agent: Any, run_config: RunConfig | None = None) -> tuple[list[Any], str]:
    """Runs one turn; returns its events and the session id."""
    runner = InMemoryRunner(agent=agent, app_name="weather")
    session = await runner.session_service.create_session(app_name="weather", user_id="u1")
    events = [
        event
        async for event in runner.run_async(
            user_id="u1", session_id=session.id, new_message=_message(), run_config=run_config
        )
    ]
    return events, session.id


def _by_name(spans: list[Any], name: str) -> Any:
    matches = [s for s in spans if s.name == name]
    assert len(matches) == 1, [s.name for s in spans]
    return matches[0]


def _assert_ours_only(spans: list[Any]) -> None:
    assert [s.name for s in spans if s.instrumentation_scope.name == ADK_SCOPE] == []
    assert named(spans, "generate_content") == []  # the google-genai call merged into the chat span


async def test_turn_agent_model_tool_model(otel, model_server):
    with context_kept():
        events, session_id = await _run(_agent(model_server))
    assert events[-1].is_final_response() and events[-1].content.parts[0].text
    spans = otel.spans()
    assert render(spans) == TREE
    _assert_ours_only(spans)
    turn = _by_name(spans, "handle_conversation_turn weather_agent")
    agent = _by_name(spans, "invoke_agent weather_agent")
    tool = _by_name(spans, "execute_tool get_weather")
    chats = named(spans, "chat ")
    assert turn.kind is SpanKind.INTERNAL and turn.attributes[sc.GEN_AI_CONVERSATION_ID] == session_id
    assert agent.attributes[sc.GEN_AI_CONVERSATION_ID] == session_id
    assert agent.attributes[sc.GEN_AI_AGENT_DESCRIPTION] == "Answers weather questions."
    assert agent.attributes[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert agent.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 3
    for chat in chats:
        assert chat.kind is SpanKind.CLIENT and chat.parent.span_id == agent.context.span_id
        # What only the google-genai client knows, merged into ADK's model-call span.
        assert chat.attributes[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
        assert chat.attributes[sc.GEN_AI_RESPONSE_ID] == "gemini-local123"
        assert chat.attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
        assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
        assert chat.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    # The model call ends with its response: the tool it asked for runs after it, beside it.
    assert chats[0].end_time <= tool.start_time and tool.end_time <= chats[1].start_time
    call = next(p.function_call for e in events for p in e.content.parts or () if p.function_call)
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_ID] == call.id
    assert tool.attributes[sc.GEN_AI_TOOL_TYPE] == "function"
    assert tool.attributes[sc.GEN_AI_TOOL_DESCRIPTION] == "The weather for a city."
    assert tool.parent.span_id == agent.context.span_id
    assert_no_content(spans)  # content is off by default
    # One duration point per model call: the google-genai call merged, no generate_content point.
    points = otel.metrics()[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION].data.data_points
    assert [(p.attributes[sc.GEN_AI_OPERATION_NAME], p.count) for p in points] == [("chat", 2)]


@pytest.mark.instrument_only("google.adk")
async def test_model_calls_without_the_client_instrumented(otel, model_server):
    await _run(_agent(model_server))
    spans = otel.spans()
    assert render(spans) == TREE
    for chat in named(spans, "chat "):  # what ADK's responses tell: usage, model version, finish reason
        assert chat.attributes[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
        assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
        assert chat.attributes[sc.GEN_AI_RESPONSE_MODEL] == "gemini-2.0-flash-tool-001"
        assert chat.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_sync_runner_run_and_the_callers_context(otel, model_server):
    runner = InMemoryRunner(agent=_agent(model_server), app_name="weather")
    session = asyncio.run(runner.session_service.create_session(app_name="weather", user_id="u1"))
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("request") as request, context_kept():
        events = list(runner.run(user_id="u1", session_id=session.id, new_message=_message()))
    assert events
    spans = otel.spans()
    assert render(spans) == ["request", *("  " + line for line in TREE)]
    turn = _by_name(spans, "handle_conversation_turn weather_agent")
    assert turn.parent.span_id == request.get_span_context().span_id


# genai_otel/telemetry/streams.py: InstrumentedAsyncStream.aclose() calls close() on the wrapped stream,
# which google-genai's async generator does not have (it has aclose()); ADK closes the stream it reads.
async def test_streamed_model_calls(otel, model_server):
    events, _ = await _run(_agent(model_server), RunConfig(streaming_mode=StreamingMode.SSE))
    assert events
    spans = otel.spans()
    assert render(spans) == TREE
    _assert_ours_only(spans)
    for chat in named(spans, "chat "):
        assert chat.attributes[sc.GEN_AI_REQUEST_STREAM] is True
        assert chat.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
        assert chat.attributes[sc.GEN_AI_RESPONSE_ID] == "gemini-local123"


async def test_three_concurrent_runs_do_not_cross(otel, model_server):
    results = await asyncio.gather(*(_run(_agent(model_server)) for _ in range(3)))
    session_ids = set()
    for spans in separate_runs(otel.spans()):
        assert render(spans) == TREE
        session_ids |= {s.attributes[sc.GEN_AI_CONVERSATION_ID] for s in spans if "chat" not in s.name}
    assert session_ids == {session_id for _, session_id in results}


async def test_model_error_propagates_unchanged_and_marks_the_spans(otel, model_server):
    with pytest.raises(errors.ServerError) as caught:
        await _run(_agent(model_server, "gemini-error-500"))
    assert caught.value.code == 500
    spans = otel.spans()
    assert render(spans) == [
        "handle_conversation_turn weather_agent",
        "  invoke_agent weather_agent",
        "    chat gemini-error-500",
    ]
    assert_failed(spans, "ServerError")


async def test_tool_error_propagates_unchanged(otel, model_server):
    def get_weather(city: str) -> str:
        """Always fails."""
        raise ValueError("tool exploded")

    with pytest.raises(ValueError, match="tool exploded"):
        await _run(_agent(model_server, tools=[get_weather]))
    tool = _by_name(otel.spans(), "execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[sc.ERROR_TYPE] == "ValueError"
    assert _by_name(otel.spans(), "invoke_agent weather_agent").status.status_code is StatusCode.ERROR


async def test_tool_reporting_its_failure_in_its_response_marks_the_span(otel, model_server):
    class ReportingTool(FunctionTool):
        def _detect_error_in_response(self, response: Any) -> str | None:  # ADK's per-tool hook
            return "WeatherUnavailable" if "error" in response else None

    def get_weather(city: str) -> dict[str, str]:
        """The weather for a city."""
        return {"error": "no data"}

    await _run(_agent(model_server, tools=[ReportingTool(get_weather)]))
    tool = _by_name(otel.spans(), "execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[sc.ERROR_TYPE] == "WeatherUnavailable"


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
async def test_content_on_spans_when_captured(otel, model_server):
    await _run(_agent(model_server))
    spans = otel.spans()
    agent = _by_name(spans, "invoke_agent weather_agent")
    assert (
        agent.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]
        == '[{"type":"text","content":"Use the weather tool."}]'
    )
    assert QUESTION in agent.attributes[sc.GEN_AI_INPUT_MESSAGES]
    first, second = named(spans, "chat ")
    assert QUESTION in first.attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert "Use the weather tool." in first.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert '"name":"get_weather"' in first.attributes[sc.GEN_AI_TOOL_DEFINITIONS]
    assert '"city"' in first.attributes[sc.GEN_AI_TOOL_DEFINITIONS]
    assert '"type":"tool_call"' in first.attributes[sc.GEN_AI_OUTPUT_MESSAGES]
    assert '"tool_call_response"' in second.attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert '"type":"text"' in second.attributes[sc.GEN_AI_OUTPUT_MESSAGES]
    tool = _by_name(spans, "execute_tool get_weather")
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"city":"Paris"}'
    assert "Sunny in Paris" in tool.attributes[sc.GEN_AI_TOOL_CALL_RESULT]


async def test_callers_context_unchanged_after_breaking_off_early(otel, model_server):
    runner = InMemoryRunner(agent=_agent(model_server), app_name="weather")
    session = await runner.session_service.create_session(app_name="weather", user_id="u1")
    with context_kept() as before:
        stream = runner.run_async(user_id="u1", session_id=session.id, new_message=_message())
        async for _ in stream:
            assert otel_context.get_current() is before  # between events the caller is in its own context
            break
        await stream.aclose()
    spans = otel.spans()
    turn = _by_name(spans, "handle_conversation_turn weather_agent")
    assert turn.status.status_code is StatusCode.UNSET  # the caller stopped reading: not a failure
    assert all(s.end_time for s in spans)


@pytest.mark.genai_settings(max_agent_steps=1)
async def test_loop_guard_marks_the_agent(otel, model_server):
    await _run(_agent(model_server))
    agent = _by_name(otel.spans(), "invoke_agent weather_agent")
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 3


async def test_workflow_agent_runs_its_agents_in_order(otel, model_server):
    first = _agent(model_server, "gemini-2.0-flash", tools=[], name="researcher")
    second = _agent(model_server, "gemini-2.0-flash", tools=[], name="writer")
    await _run(SequentialAgent(name="pipeline", sub_agents=[first, second]))
    spans = otel.spans()
    assert render(spans) == [
        "handle_conversation_turn pipeline",
        "  invoke_workflow pipeline",
        "    invoke_agent researcher",
        "      chat gemini-2.0-flash",
        "    invoke_agent writer",
        "      chat gemini-2.0-flash",
    ]
    workflow = _by_name(spans, "invoke_workflow pipeline")
    assert workflow.attributes[sc.GEN_AI_WORKFLOW_NAME] == "pipeline"
    assert sc.GEN_AI_AGENT_NAME not in workflow.attributes
    assert sc.GEN_AI_PROVIDER_NAME not in workflow.attributes


async def test_loop_agent_is_a_workflow(otel, model_server):
    worker = _agent(model_server, "gemini-2.0-flash", tools=[], name="worker")
    await _run(LoopAgent(name="retry", sub_agents=[worker], max_iterations=2))
    assert render(otel.spans()) == [
        "handle_conversation_turn retry",
        "  invoke_workflow retry",
        "    invoke_agent worker",
        "      chat gemini-2.0-flash",
        "    invoke_agent worker",
        "      chat gemini-2.0-flash",
    ]


async def test_transfer_to_agent_hands_the_turn_over(otel, model_server):
    def route(callback_context: Any, llm_request: Any) -> LlmResponse | None:
        """The router's first step answers with a hand-off (no model call), its later ones ask the model."""
        if any(p.function_response for c in llm_request.contents for p in c.parts or ()):
            return None
        call = types.FunctionCall(name="transfer_to_agent", args={"agent_name": "weather_agent"})
        return LlmResponse(content=types.Content(role="model", parts=[types.Part(function_call=call)]))

    router = LlmAgent(
        name="router",
        model=_model(model_server, "gemini-2.0-flash"),
        description="Routes questions.",
        sub_agents=[_agent(model_server)],
        before_model_callback=route,
    )
    await _run(router)
    # ADK's runner steers the hand-off: the agent handed to runs next in the turn, not inside the router.
    assert render(otel.spans()) == [
        "handle_conversation_turn router",
        "  invoke_agent router",
        "    execute_tool transfer_to_agent",
        "  invoke_agent weather_agent",
        "    chat gemini-2.0-flash-tool",
        "    execute_tool get_weather",
        "    chat gemini-2.0-flash-tool",
    ]


async def test_agent_tool_runs_its_agent_inside_the_tool_call(otel, model_server):
    inner = _agent(model_server)
    await _run(_agent(model_server, name="boss", tools=[AgentTool(inner)]))
    assert render(otel.spans()) == [
        "handle_conversation_turn boss",
        "  invoke_agent boss",
        "    chat gemini-2.0-flash-tool",
        "    execute_tool weather_agent",
        "      invoke_agent weather_agent",
        "        chat gemini-2.0-flash-tool",
        "        execute_tool get_weather",
        "        chat gemini-2.0-flash-tool",
        "    chat gemini-2.0-flash-tool",
    ]


async def test_adk_events_and_duplicated_metrics_silenced_then_restored(otel, model_server, monkeypatch):
    recorded: list[str] = []

    class Histogram:
        def __init__(self, name: str) -> None:
            self.name = name

        def record(self, *args: Any, **kwargs: Any) -> None:
            recorded.append(self.name)

    for instrument in ("_client_operation_duration", "_client_token_usage", "_tool_execution_duration"):
        monkeypatch.setattr(_metrics, instrument, Histogram(instrument))
    ADK_LOGS.clear()
    await _run(_agent(model_server))
    assert recorded == []
    assert [r for r in ADK_LOGS.get_finished_logs() if r.instrumentation_scope.name == ADK_SCOPE] == []

    genai_otel.uninstrument()
    await _run(_agent(model_server))
    assert {"_client_operation_duration", "_client_token_usage", "_tool_execution_duration"} <= set(recorded)
    events = [r.log_record.event_name for r in ADK_LOGS.get_finished_logs()]
    assert any(name and name.startswith("gen_ai.") for name in events)


async def test_uninstrument_restores_adk(otel, model_server):
    genai_otel.uninstrument()
    for function in (
        _instrumentation.record_invocation,
        _instrumentation.record_agent_invocation,
        _instrumentation.record_tool_execution,
        _instrumentation.record_inference_telemetry,
        _instrumentation.InferenceScope.record_llm_response,
        _metrics.record_client_token_usage,
    ):
        assert not isinstance(function, wrapt.ObjectProxy), function
    assert "start_span" not in vars(tracing.tracer) and "emit" not in vars(tracing.otel_logger)
    await _run(_agent(model_server))
    spans = otel.spans()
    assert otel.genai_spans() == []
    # ADK's own spans are back (their shape is ADK's: its schema version decides it).
    names = [s.name for s in spans]
    assert "invoke_agent weather_agent" in names and names.count("execute_tool get_weather") == 1
    assert {s.instrumentation_scope.name for s in spans} == {ADK_SCOPE}


def test_example_prints_the_trace(model_server):
    out = run_example("google_adk_example.py", OPENAI_BASE_URL=model_server.openai_base_url)
    assert "answer: Hello from the local model server." in out
    for line in (
        "handle_conversation_turn weather_agent",
        "invoke_agent weather_agent",
        "execute_tool get_weather",
    ):
        assert line in out
    assert out.count("chat gpt-4o-mini-tool") == 2


@pytest.mark.genai_settings(max_agent_steps=1, loop_guard_action=LoopGuardAction.RAISE)
async def test_loop_guard_raises_into_the_run(otel, model_server):
    calls: list[str] = []

    def get_weather(city: str) -> str:
        """The weather for a city."""
        calls.append(city)
        return f"Sunny in {city}"

    with pytest.raises(genai_otel.AgentLoopError) as caught:
        await _run(_agent(model_server, tools=[get_weather]))
    assert calls == []
    assert caught.value.limit == "steps" and caught.value.maximum == 1
    spans = otel.spans()
    # The second step (the tool call) trips the guard: the tool does not run, the run stops there.
    assert render(spans) == TREE[:-1]
    tool = _by_name(spans, "execute_tool get_weather")
    assert tool.attributes[sc.ERROR_TYPE] == "AgentLoopError"
    agent = _by_name(spans, "invoke_agent weather_agent")
    assert agent.attributes[sc.ERROR_TYPE] == "AgentLoopError"
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"


async def test_parallel_agent_branches_nest_under_the_workflow(otel, model_server):
    branches = [_agent(model_server, name=f"branch_{i}") for i in range(3)]
    await _run(ParallelAgent(name="fan_out", sub_agents=branches))
    spans = otel.spans()
    workflow = _by_name(spans, "invoke_workflow fan_out")
    for i in range(3):
        branch = _by_name(spans, f"invoke_agent branch_{i}")
        assert branch.parent.span_id == workflow.context.span_id
        children = [s for s in spans if s.parent and s.parent.span_id == branch.context.span_id]
        assert sorted(s.name for s in children) == [
            "chat gemini-2.0-flash-tool",
            "chat gemini-2.0-flash-tool",
            "execute_tool get_weather",
        ]


async def test_adk_legacy_schema_gives_the_same_tree(otel, model_server, monkeypatch):
    monkeypatch.setenv("ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN", "1")  # ADK's `invocation` and `call_llm` spans
    await _run(_agent(model_server))
    assert render(otel.spans()) == TREE


def _graph_turn(lines: list[str]) -> list[str]:
    """A turn entered at the graph workflow ``outer``: ADK 2.12 opens the root workflow's scope itself
    (under the turn), later versions run it in the runner's own scope (the turn)."""
    if tuple(int(n) for n in adk_version.__version__.split(".")[:2]) >= (2, 13):
        return lines
    return [lines[0], "  invoke_workflow outer", *("  " + line for line in lines[1:])]


def prepare(node_input: Any) -> str:
    """A plain function node."""
    return f"prepared: {node_input}"


async def test_graph_workflows_nest(otel, model_server):
    writer = _agent(model_server, "gemini-2.0-flash", tools=[], name="writer")
    inner = Workflow(name="inner", edges=[(START, writer)])
    await _run(Workflow(name="outer", edges=[(START, prepare, inner)]))
    spans = otel.spans()
    assert render(spans) == _graph_turn(
        [
            "handle_conversation_turn outer",
            "  invoke_node prepare",  # ADK's own node span: not a GenAI operation, kept
            "  invoke_workflow inner",
            "    invoke_agent writer",
            "      chat gemini-2.0-flash",
        ]
    )
    assert [s.name for s in spans if s.instrumentation_scope.name == ADK_SCOPE] == ["invoke_node prepare"]
    inner_span = _by_name(spans, "invoke_workflow inner")
    assert inner_span.attributes[sc.GEN_AI_WORKFLOW_NAME] == "inner"
    assert (
        inner_span.attributes[sc.GEN_AI_CONVERSATION_ID]
        == _by_name(spans, "handle_conversation_turn outer").attributes[sc.GEN_AI_CONVERSATION_ID]
    )


async def test_graph_workflow_node_failure_marks_the_workflow(otel, model_server):
    def explode(node_input: Any) -> str:
        raise ValueError("node exploded")

    inner = Workflow(name="inner", edges=[(START, explode)])
    with pytest.raises(ValueError, match="node exploded"):
        await _run(Workflow(name="outer", edges=[(START, prepare, inner)]))
    spans = otel.spans()
    assert render(spans) == _graph_turn(
        [
            "handle_conversation_turn outer",
            "  invoke_node prepare",
            "  invoke_workflow inner",
            "    invoke_node explode",
        ]
    )
    for name in ("invoke_workflow inner", "handle_conversation_turn outer"):
        span = _by_name(spans, name)
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == "ValueError"
