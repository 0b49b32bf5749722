"""Pydantic AI through the real framework, the real OpenAI SDK and the local model server: the trace of a
three-step run (model -> tool -> model) sync, async, streamed and concurrent, one span per model call,
structured output, errors, content capture, the loop guard, Pydantic AI's own instrumentation turned on
alongside, and uninstrument."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("pydantic_ai")

from opentelemetry import context as otel_context
from opentelemetry.trace import StatusCode
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.capabilities import Instrumentation
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

import genai_otel
from genai_otel import semconv
from genai_otel.config import ContentCapture, LoopGuardAction

from .agent_frameworks import (
    assert_agent_run,
    assert_failed,
    assert_no_content,
    context_kept,
    get_weather,
    merged_chats,
    run_example,
    separate_runs,
)
from .conftest import API_KEY
from .trees import named, render, traces

QUESTION = "What is the weather in Paris?"


def _agent(model_server, model: str = "gpt-4o-mini-tool", **kwargs) -> Agent:
    provider = OpenAIProvider(base_url=model_server.openai_base_url, api_key=API_KEY)
    return Agent(
        OpenAIChatModel(model, provider=provider),
        name=kwargs.pop("name", "weather_agent"),
        instructions="Answer weather questions.",
        tools=[get_weather],
        **kwargs,
    )


def _genai(span) -> bool:
    return span.instrumentation_scope.name == "genai_otel"


# -- trace shape -------------------------------------------------------------------------------------


def test_run_sync_is_one_trace_agent_over_chats_and_tool(otel, model_server):
    result = _agent(model_server).run_sync(QUESTION)

    assert result.output == f"Echo: {QUESTION}"
    spans = otel.spans()
    assert len(traces(spans)) == 1
    agent = assert_agent_run(spans)
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"
    assert agent.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini-tool"
    assert agent.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert agent.attributes[semconv.GEN_AI_CONVERSATION_ID] == result.conversation_id
    tool = named(spans, "execute_tool")[0]
    assert tool.attributes[semconv.GEN_AI_TOOL_NAME] == "get_weather"
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_0"
    assert tool.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "The weather for a city."


def test_chat_span_is_the_framework_call_merged_with_the_client_call(otel, model_server):
    _agent(model_server).run_sync(QUESTION)

    chats = merged_chats(otel.spans())
    # The client call's exact details, on the one span.
    assert chats[0].attributes[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-tool-2026-01-01"
    assert chats[0].attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == sum(
        c.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] for c in chats
    )


def test_iter_gives_the_same_tree(otel, model_server):
    agent = _agent(model_server)

    async def main():
        async with agent.iter(QUESTION) as run:
            async for _node in run:
                pass
        return run.result.output

    assert asyncio.run(main()) == f"Echo: {QUESTION}"
    assert_agent_run(otel.spans())


def test_unnamed_agent_span_has_no_name(otel, model_server):
    _agent(model_server, name=None).run_sync(QUESTION)

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.name == "invoke_agent"
    assert semconv.GEN_AI_AGENT_NAME not in agent.attributes


def test_three_concurrent_runs_do_not_cross(otel, model_server):
    agent = _agent(model_server)

    async def main():
        return await asyncio.gather(*(agent.run(f"weather {i}?") for i in range(3)))

    outputs = [r.output for r in asyncio.run(main())]
    assert outputs == [f"Echo: weather {i}?" for i in range(3)]
    for spans in separate_runs(otel.spans()):
        assert_agent_run(spans)


# -- streaming ---------------------------------------------------------------------------------------


def test_run_stream_is_one_trace_with_streamed_chat_spans(otel, model_server):
    agent = _agent(model_server)

    async def main():
        async with agent.run_stream(QUESTION) as stream:
            return "".join([chunk async for chunk in stream.stream_text(delta=True)])

    assert asyncio.run(main()) == f"Echo: {QUESTION}"
    spans = otel.spans()
    assert_agent_run(spans)
    for chat in named(spans, "chat"):
        assert chat.attributes[semconv.GEN_AI_REQUEST_STREAM] is True
        assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"


def test_stream_broken_off_early_ends_every_span_and_restores_the_context(otel, model_server):
    agent = _agent(model_server)

    async def main():
        with context_kept():
            async with agent.run_stream(QUESTION) as stream:
                async for _chunk in stream.stream_text(delta=True):
                    break

    asyncio.run(main())
    spans = otel.spans()
    assert [s.name for s in spans if s.end_time is None] == []
    assert render(spans)[0] == "invoke_agent weather_agent"
    assert all(s.status.status_code is not StatusCode.ERROR for s in spans)


def test_caller_context_is_unchanged_after_runs(otel, model_server):
    agent = _agent(model_server)
    with context_kept():
        agent.run_sync(QUESTION)

    async def main():
        inner = otel_context.get_current()
        await agent.run(QUESTION)
        assert otel_context.get_current() is inner

    asyncio.run(main())


# -- structured output ------------------------------------------------------------------------------


class Answer(BaseModel):
    text: str


@pytest.mark.parametrize(
    ("model", "output_type"),
    [("gpt-4o-mini", NativeOutput(Answer)), ("gpt-4o-mini-tool", Answer)],
    ids=["native", "output-tool"],
)
@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_structured_output_is_json(otel, model_server, model, output_type):
    provider = OpenAIProvider(base_url=model_server.openai_base_url, api_key=API_KEY)
    result = Agent(
        OpenAIChatModel(model, provider=provider), name="structured", output_type=output_type
    ).run_sync("hello")

    assert isinstance(result.output, Answer)
    spans = otel.spans()
    assert render(spans) == ["invoke_agent structured", f"  chat {model}"]
    chat = named(spans, "chat")[0]
    assert chat.attributes[semconv.GEN_AI_OUTPUT_TYPE] == "json"
    agent = named(spans, "invoke_agent")[0]
    assert agent.attributes[semconv.GEN_AI_OUTPUT_TYPE] == "json"
    output = json.loads(agent.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert json.loads(output[0]["parts"][0]["content"]) == result.output.model_dump()


def test_text_output_has_no_output_type(otel, model_server):
    _agent(model_server).run_sync(QUESTION)
    assert all(semconv.GEN_AI_OUTPUT_TYPE not in s.attributes for s in otel.spans())


# -- errors ------------------------------------------------------------------------------------------


def test_model_error_propagates_unchanged_and_marks_spans(otel, model_server):
    from pydantic_ai.exceptions import ModelHTTPError

    with pytest.raises(ModelHTTPError) as raised:
        _agent(model_server, "gpt-4o-mini-error-500").run_sync(QUESTION)

    assert raised.value.status_code == 500
    spans = otel.spans()
    chat = named(spans, "chat")[0]
    agent = named(spans, "invoke_agent")[0]
    assert_failed((chat, agent), type(raised.value).__name__)
    assert len(named(spans, "chat")) == 1


def test_tool_error_propagates_and_marks_the_tool_span(otel, model_server):
    def get_weather(city: str) -> str:
        """Always fails."""
        raise ValueError("tool exploded")

    provider = OpenAIProvider(base_url=model_server.openai_base_url, api_key=API_KEY)
    agent = Agent(OpenAIChatModel("gpt-4o-mini-tool", provider=provider), name="broken", tools=[get_weather])
    with pytest.raises(ValueError, match="tool exploded"):
        agent.run_sync(QUESTION)

    spans = otel.spans()
    tool = named(spans, "execute_tool get_weather")[0]
    assert tool.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert named(spans, "invoke_agent")[0].attributes[semconv.ERROR_TYPE] == "ValueError"


# -- content -----------------------------------------------------------------------------------------


def test_content_is_off_by_default(otel, model_server):
    _agent(model_server).run_sync(QUESTION)
    assert_no_content(otel.spans())


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_capture_records_messages_instructions_tools(otel, model_server):
    _agent(model_server).run_sync(QUESTION)

    spans = otel.spans()
    first, second = named(spans, "chat")
    assert json.loads(first.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Answer weather questions."}
    ]
    definitions = json.loads(first.attributes[semconv.GEN_AI_TOOL_DEFINITIONS])
    assert [(d["name"], d["description"]) for d in definitions] == [
        ("get_weather", "The weather for a city.")
    ]
    assert json.loads(first.attributes[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]}
    ]
    call = json.loads(first.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]
    assert (call["type"], call["name"], call["id"]) == ("tool_call", "get_weather", "call_0")
    roles = [m["role"] for m in json.loads(second.attributes[semconv.GEN_AI_INPUT_MESSAGES])]
    assert roles == ["user", "assistant", "tool"]
    tool = named(spans, "execute_tool")[0]
    assert json.loads(tool.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "Sunny in Paris"
    agent = named(spans, "invoke_agent")[0]
    assert json.loads(agent.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == (
        f"Echo: {QUESTION}"
    )


# -- loop guard --------------------------------------------------------------------------------------


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent_span(otel, model_server):
    _agent(model_server).run_sync(QUESTION)  # the default action records, the run goes on

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert any(e.name == "genai_otel.loop_guard.triggered" for s in otel.spans() for e in s.events)


@pytest.mark.genai_settings(max_agent_steps=2, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_run_before_the_extra_call(otel, model_server):
    with pytest.raises(genai_otel.AgentLoopError):
        _agent(model_server).run_sync(QUESTION)  # model, tool, then the second model call is one too many

    spans = otel.spans()
    assert named(spans, "chat")[-1].attributes[semconv.ERROR_TYPE] == "AgentLoopError"
    assert named(spans, "invoke_agent")[0].attributes[semconv.ERROR_TYPE] == "AgentLoopError"


# -- Pydantic AI's own instrumentation ---------------------------------------------------------------


class OwnTelemetry:
    """Pydantic AI's own instrumentation, exporting to providers of its own so a test sees what it emits."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from pydantic_ai.models.instrumented import InstrumentationSettings

        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.settings = InstrumentationSettings(
            tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[self.metrics])
        )

    def emitted(self) -> bool:
        data = self.metrics.get_metrics_data()
        points = [
            m for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics for m in sm.metrics
        ]
        return bool(self.spans.get_finished_spans() or points)


@pytest.mark.parametrize("how", ["instrument_all", "agent", "capability"])
def test_pydantic_ai_instrumentation_turned_on_is_silenced(otel, model_server, how, monkeypatch):
    """With genai-otel on, Pydantic AI's own spans and metrics would be a second copy of every run and
    model call: however it is turned on, it emits nothing, and genai-otel's trace is the same."""
    own = OwnTelemetry()
    monkeypatch.setattr(Agent, "_instrument_default", Agent._instrument_default)
    if how == "instrument_all":
        Agent.instrument_all(own.settings)
        agent = _agent(model_server)
    elif how == "agent":
        agent = _agent(model_server)
        agent.instrument = own.settings
    else:
        agent = _agent(model_server, capabilities=[Instrumentation(settings=own.settings)])
    agent.run_sync(QUESTION)

    assert not own.emitted()
    assert_agent_run(otel.spans())


def test_uninstrument_restores_pydantic_ai(otel, model_server):
    import pydantic_ai
    from pydantic_ai.agent import Agent as AgentClass

    assert pydantic_ai.BANNER_ENABLED is False  # observability is on: no banner saying it is off
    genai_otel.uninstrument()
    assert pydantic_ai.BANNER_ENABLED is True
    assert not hasattr(AgentClass._resolve_run_capabilities, "__wrapped__")
    assert not hasattr(Instrumentation.for_run, "__wrapped__")
    before = len(otel.spans())
    own = OwnTelemetry()
    _agent(model_server).run_sync(QUESTION)
    assert len(otel.spans()) == before
    # Pydantic AI's own instrumentation emits again.
    _agent(model_server, capabilities=[Instrumentation(settings=own.settings)]).run_sync(QUESTION)
    assert own.emitted()
    assert len(otel.spans()) == before


# -- example -----------------------------------------------------------------------------------------


def test_example_prints_the_agent_tree():
    out = run_example("pydantic_ai_example.py")
    assert "invoke_agent weather_agent" in out
    assert "execute_tool get_weather" in out
    assert out.count("chat gpt-4o-mini-tool") == 2
