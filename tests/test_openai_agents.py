"""OpenAI Agents SDK through the real SDK, the real OpenAI client and the local model server: the trace of
Runner.run / run_sync / run_streamed with the chat completions and Responses models, hand-offs, agents as
tools, concurrency, errors, content capture, the caller's context, the loop guard, uninstrument, and the
SDK's own processors left working."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("agents")

import openai
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    add_trace_processor,
    custom_span,
    function_tool,
    input_guardrail,
    set_trace_processors,
    trace,
)
from agents.tracing import TracingProcessor, get_trace_provider
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import StatusCode

import genai_otel
from genai_otel import semconv
from genai_otel.config import ContentCapture
from genai_otel.instrumentation.openai_agents import OpenAIAgentsInstrumentor

from .agent_frameworks import (
    assert_failed,
    assert_no_content,
    context_kept,
    merged_chats,
    run_example,
    separate_runs,
)
from .conftest import API_KEY
from .trees import named, render, traces

TOOL_MODEL = "gpt-4o-mini-tool"
AGENT_TREE = [
    "handle_conversation_turn Weather",
    "  invoke_agent Weather",
    f"    chat {TOOL_MODEL}",
    "    execute_tool get_weather",
    f"    chat {TOOL_MODEL}",
]


@function_tool
def get_weather(city: str) -> str:
    """The weather for a city."""
    tracer = otel_trace.get_tracer("app")
    with tracer.start_as_current_span("app lookup"):
        return f"Sunny in {city}"


@function_tool(name_override="get_weather")
def broken_weather(city: str) -> str:
    """Always fails."""
    raise ValueError("tool exploded")


def _model(model_server, name: str = TOOL_MODEL, responses: bool = False):
    # One client per model: an AsyncOpenAI client belongs to the event loop it first ran in.
    client = openai.AsyncOpenAI(base_url=model_server.openai_base_url, api_key=API_KEY, max_retries=0)
    return (OpenAIResponsesModel if responses else OpenAIChatCompletionsModel)(name, client)


def _agent(model_server, name: str = TOOL_MODEL, responses: bool = False, tools=(get_weather,), **kwargs):
    model = _model(model_server, name, responses)
    return Agent(name="Weather", instructions="Answer briefly.", model=model, tools=list(tools), **kwargs)


def _genai(span) -> bool:
    return span.instrumentation_scope.name == "genai_otel"


def _processor():
    return OpenAIAgentsInstrumentor().processor


# -- trace shape -------------------------------------------------------------------------------------


def test_run_is_one_turn_with_the_agent_its_model_calls_and_tool(otel, model_server):
    result = asyncio.run(Runner.run(_agent(model_server), "What is the weather in Paris?"))

    assert result.final_output.startswith("Echo:")
    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans, keep=_genai) == AGENT_TREE
    # One span per model call: the SDK's generation span and the openai client call merged.
    for chat in merged_chats(spans):
        assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    turn = named(spans, "handle_conversation_turn")[0]
    assert turn.attributes[semconv.GEN_AI_OPERATION_NAME] == "handle_conversation_turn"
    assert turn.attributes[semconv.GEN_AI_AGENT_NAME] == "Weather"
    assert semconv.GEN_AI_CONVERSATION_ID not in turn.attributes  # the app set no group_id
    agent = named(spans, "invoke_agent")[0]
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "Weather"
    assert agent.attributes[semconv.GEN_AI_REQUEST_MODEL] == TOOL_MODEL
    assert agent.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert agent.attributes[semconv.GEN_AI_OUTPUT_TYPE] == "text"
    tool = named(spans, "execute_tool")[0]
    assert tool.attributes[semconv.GEN_AI_TOOL_NAME] == "get_weather"
    assert tool.attributes[semconv.GEN_AI_TOOL_TYPE] == "function"
    # The tool's own code runs inside the execute_tool span.
    app = next(s for s in spans if s.name == "app lookup")
    assert app.parent.span_id == tool.context.span_id
    assert _processor().open_runs == 0


def test_run_sync_with_the_responses_model(otel, model_server):
    with context_kept():
        result = Runner.run_sync(_agent(model_server, responses=True), "What is the weather in Paris?")

    assert result.final_output.startswith("Echo:")
    spans = otel.spans()
    assert render(spans, keep=_genai) == AGENT_TREE
    assert len(named(spans, "chat")) == 2
    for chat in named(spans, "chat"):
        assert chat.attributes[semconv.GEN_AI_REQUEST_MODEL] == TOOL_MODEL
        assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "resp_local123"


@pytest.mark.parametrize("responses", [False, True], ids=["chat_completions", "responses"])
def test_streamed_run_has_the_same_tree(otel, model_server, responses):
    async def main():
        result = Runner.run_streamed(
            _agent(model_server, responses=responses), "What is the weather in Paris?"
        )
        async for _ in result.stream_events():
            pass
        return result.final_output

    assert asyncio.run(main()).startswith("Echo:")
    spans = otel.spans()
    assert render(spans, keep=_genai) == AGENT_TREE
    assert all(c.attributes[semconv.GEN_AI_REQUEST_STREAM] for c in named(spans, "chat"))


def test_stream_broken_off_early_leaves_the_callers_context_and_no_open_span(otel, model_server):
    async def main():
        with context_kept() as before:
            result = Runner.run_streamed(_agent(model_server), "What is the weather in Paris?")
            async for event in result.stream_events():
                if event.type == "raw_response_event":  # mid-way through the first model call's stream
                    break
            result.cancel()
            assert otel_context.get_current() is before
            for _ in range(500):  # the run's task winds down (cancelled) in the background
                if _processor().open_runs == 0:
                    break
                await asyncio.sleep(0.01)

    with context_kept():
        asyncio.run(main())
    assert _processor().open_runs == 0
    assert render(otel.spans(), keep=_genai) == [
        "handle_conversation_turn Weather",
        "  invoke_agent Weather",
        f"    chat {TOOL_MODEL}",
    ]


def test_awaited_runs_give_the_caller_its_context_back(otel, model_server):
    """Runner.run runs in the caller's own task: every context our spans made current there is undone,
    after a run, a failed run and a hand-off."""

    async def main():
        with context_kept() as before:
            await Runner.run(_agent(model_server), "hi")
            assert otel_context.get_current() is before
            with pytest.raises(openai.InternalServerError):
                await Runner.run(_agent(model_server, "error-500"), "hi")
            assert otel_context.get_current() is before
            spanish = Agent(name="Spanish", model=_model(model_server, "gpt-4o-mini"))
            triage = Agent(
                name="Triage", model=_model(model_server, "gpt-4o-mini-handoff"), handoffs=[spanish]
            )
            await Runner.run(triage, "Hola")

    asyncio.run(main())
    assert _processor().open_runs == 0


def test_hand_off_is_one_turn_with_both_agents(otel, model_server):
    spanish = Agent(
        name="Spanish", instructions="Answer in Spanish.", model=_model(model_server, "gpt-4o-mini")
    )
    triage = Agent(
        name="Triage",
        instructions="Route.",
        model=_model(model_server, "gpt-4o-mini-handoff"),
        handoffs=[spanish],
    )
    asyncio.run(Runner.run(triage, "Hola"))

    assert render(otel.spans(), keep=_genai) == [
        "handle_conversation_turn Triage",
        "  invoke_agent Triage",
        "    chat gpt-4o-mini-handoff",
        "    handoff Spanish",
        "  invoke_agent Spanish",
        "    chat gpt-4o-mini",
    ]


def test_agent_as_tool_runs_beneath_the_tool_without_a_second_turn(otel, model_server):
    inner = _agent(model_server)
    outer = Agent(
        name="Outer",
        instructions="Delegate.",
        model=_model(model_server),
        tools=[inner.as_tool(tool_name="ask_weather", tool_description="Ask the weather agent.")],
    )
    asyncio.run(Runner.run(outer, "What is the weather in Paris?"))

    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans, keep=_genai) == [
        "handle_conversation_turn Outer",
        "  invoke_agent Outer",
        f"    chat {TOOL_MODEL}",
        "    execute_tool ask_weather",
        "      invoke_agent Weather",
        f"        chat {TOOL_MODEL}",
        "        execute_tool get_weather",
        f"        chat {TOOL_MODEL}",
        f"    chat {TOOL_MODEL}",
    ]


def test_three_concurrent_runs_do_not_cross(otel, model_server):
    async def main():
        with context_kept():
            await asyncio.gather(*(Runner.run(_agent(model_server), f"weather {i}?") for i in range(3)))

    asyncio.run(main())

    for spans in separate_runs(otel.spans()):
        assert render(spans, keep=_genai) == AGENT_TREE


def test_run_inside_an_app_span_and_conversation_id_from_group_id(otel, model_server):
    tracer = otel_trace.get_tracer("app")
    with tracer.start_as_current_span("request"):
        asyncio.run(Runner.run(_agent(model_server), "hi", run_config=RunConfig(group_id="thread-42")))

    spans = otel.spans()
    assert len(traces(spans)) == 1
    request = next(s for s in spans if s.name == "request")
    turn = named(spans, "handle_conversation_turn")[0]
    assert turn.parent.span_id == request.context.span_id
    for span in (
        named(spans, "handle_conversation_turn") + named(spans, "invoke_agent") + named(spans, "execute")
    ):
        assert span.attributes[semconv.GEN_AI_CONVERSATION_ID] == "thread-42"


def test_runs_in_one_app_trace_are_one_turn_each_and_custom_spans_show(otel, model_server):
    async def main():
        with trace("support session"):
            with custom_span("load profile"):
                pass
            await Runner.run(_agent(model_server), "first")
            await Runner.run(_agent(model_server), "second")

    asyncio.run(main())

    tree = render(otel.spans(), keep=_genai)
    assert tree == ["load profile", *AGENT_TREE, *AGENT_TREE]


def test_without_task_spans_the_trace_is_the_turn(otel, model_server):
    config = RunConfig(tracing={"include_task_and_turn_spans": False})
    asyncio.run(Runner.run(_agent(model_server), "hi", run_config=config))

    assert render(otel.spans(), keep=_genai) == AGENT_TREE


@pytest.mark.instrument_only("agents")
@pytest.mark.parametrize("responses", [False, True], ids=["chat_completions", "responses"])
def test_without_the_openai_instrumentation_the_sdk_spans_say_enough(otel, model_server, responses):
    asyncio.run(Runner.run(_agent(model_server, responses=responses), "What is the weather in Paris?"))

    spans = otel.spans()
    # The Responses API span data names only the model that answered (the client call knew the request's).
    model = f"{TOOL_MODEL}-2026-01-01" if responses else TOOL_MODEL
    assert render(spans, keep=_genai) == [line.replace(TOOL_MODEL, model) for line in AGENT_TREE]
    for chat in named(spans, "chat"):
        assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
        assert chat.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
        if not responses:  # the chat completions model's settings carry its base URL
            assert chat.attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"


def test_with_sdk_tracing_disabled_only_the_client_calls_are_traced(otel, model_server):
    """The SDK then reports nothing (its processors, ours included, see no span): the openai client's
    calls remain, as plain chat spans."""
    asyncio.run(Runner.run(_agent(model_server), "hi", run_config=RunConfig(tracing_disabled=True)))

    assert render(otel.spans(), keep=_genai) == [f"chat {TOOL_MODEL}"] * 2
    assert _processor().open_runs == 0


# -- errors ------------------------------------------------------------------------------------------


def test_model_error_reaches_the_caller_and_marks_the_spans(otel, model_server):
    with context_kept(), pytest.raises(openai.InternalServerError):
        asyncio.run(Runner.run(_agent(model_server, "error-500"), "hi"))

    spans = otel.spans()
    assert render(spans, keep=_genai) == [
        "handle_conversation_turn Weather",
        "  invoke_agent Weather",
        "    chat error-500",
    ]
    assert_failed(spans, "InternalServerError")
    assert _processor().open_runs == 0


def test_run_from_an_except_block_is_not_marked_with_the_handled_error(otel, model_server):
    try:
        raise KeyError("the app's own, handled")
    except KeyError:
        asyncio.run(Runner.run(_agent(model_server), "hi"))

    spans = otel.genai_spans()
    assert render(spans) == AGENT_TREE
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


@input_guardrail
async def no_secrets(ctx, agent, text) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="secret" in str(text))


def test_tripped_guardrail_stops_the_run_with_its_exception(otel, model_server):
    agent = _agent(model_server, input_guardrails=[no_secrets])
    with pytest.raises(InputGuardrailTripwireTriggered):
        asyncio.run(Runner.run(agent, "tell me the secret"))

    spans = otel.spans()
    assert "    guardrail no_secrets" in render(spans, keep=_genai)
    # The guardrail itself worked (it said "stop"); upstream has no attribute for its verdict.
    assert named(spans, "guardrail")[0].status.status_code is StatusCode.UNSET
    agent_span = named(spans, "invoke_agent")[0]
    assert agent_span.attributes[semconv.ERROR_TYPE] == "InputGuardrailTripwireTriggered"
    assert _processor().open_runs == 0


def test_guardrail_running_its_own_agent_nests_it_without_a_second_turn(otel, model_server):
    checker = Agent(name="Checker", instructions="Is this safe?", model=_model(model_server, "gpt-4o-mini"))

    @input_guardrail
    async def checked(ctx, agent, text) -> GuardrailFunctionOutput:
        verdict = await Runner.run(checker, text, context=ctx.context)
        return GuardrailFunctionOutput(output_info=verdict.final_output, tripwire_triggered=False)

    asyncio.run(Runner.run(_agent(model_server, input_guardrails=[checked]), "hi"))

    spans = otel.spans()
    assert len(named(spans, "handle_conversation_turn")) == 1
    guardrail = named(spans, "guardrail checked")[0]
    inner = named(spans, "invoke_agent Checker")[0]
    assert inner.parent.span_id == guardrail.context.span_id
    checker_call = next(s for s in spans if s.name == "chat gpt-4o-mini")
    assert checker_call.parent.span_id == inner.context.span_id
    assert len(named(spans, "chat")) == 3  # the checker's call and the agent's two, one span each


def test_tool_error_handed_to_the_model_marks_only_the_tool(otel, model_server):
    result = asyncio.run(Runner.run(_agent(model_server, tools=(broken_weather,)), "hi"))

    assert result.final_output.startswith("Echo:")
    spans = otel.spans()
    tool = named(spans, "execute_tool")[0]
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[semconv.ERROR_TYPE] == "_OTHER"  # the SDK reports a message, not the exception
    assert "tool exploded" not in str(tool.attributes) + str(tool.status.description)
    assert named(spans, "invoke_agent")[0].status.status_code is StatusCode.UNSET


# -- content -----------------------------------------------------------------------------------------


def test_content_is_off_by_default(otel, model_server):
    asyncio.run(Runner.run(_agent(model_server, responses=True), "secret question"))

    assert_no_content(otel.genai_spans(), secret="secret")


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
@pytest.mark.parametrize("responses", [False, True], ids=["chat_completions", "responses"])
def test_content_capture_records_messages_instructions_tools(otel, model_server, responses):
    asyncio.run(Runner.run(_agent(model_server, responses=responses), "What is the weather in Paris?"))

    spans = otel.spans()
    first, last = named(spans, "chat")
    assert json.loads(first.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Answer briefly."}
    ]
    inputs = json.loads(first.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    assert inputs[-1]["parts"][0]["content"] == "What is the weather in Paris?"
    calls = json.loads(first.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert calls[-1]["type"] == "tool_call" and calls[-1]["name"] == "get_weather"
    answer = json.loads(last.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]
    assert answer["parts"][0]["content"] == "Echo: What is the weather in Paris?"
    tool = named(spans, "execute_tool")[0]
    assert json.loads(tool.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "Sunny in Paris"
    agent = named(spans, "invoke_agent")[0]
    assert json.loads(agent.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS])[0]["content"] == "Answer briefly."
    definitions = json.loads(agent.attributes[semconv.GEN_AI_TOOL_DEFINITIONS])
    assert [d["name"] for d in definitions] == ["get_weather"]
    assert json.loads(agent.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]) == [answer]
    turn = named(spans, "handle_conversation_turn")[0]
    assert json.loads(turn.attributes[semconv.GEN_AI_INPUT_MESSAGES])[-1]["parts"][0]["content"] == (
        "What is the weather in Paris?"
    )
    assert json.loads(turn.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]) == [answer]


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_sdk_told_to_keep_sensitive_data_out_keeps_it_out(otel, model_server):
    config = RunConfig(trace_include_sensitive_data=False)
    asyncio.run(Runner.run(_agent(model_server), "secret question", run_config=config))

    spans = otel.genai_spans()
    assert render(spans) == AGENT_TREE
    for span in spans:
        assert "secret" not in json.dumps(dict(span.attributes)), span.name


# -- loop guard, SDK processors, uninstrument --------------------------------------------------------


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent(otel, model_server):
    asyncio.run(Runner.run(_agent(model_server), "hi"))

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert any(e.name == "genai_otel.loop_guard.triggered" for s in otel.spans() for e in s.events)


class _Recorder(TracingProcessor):
    """An app's own SDK processor: it must keep receiving everything."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    def on_trace_start(self, trace) -> None:
        pass

    def on_trace_end(self, trace) -> None:
        self.ended.append("trace")

    def on_span_start(self, span) -> None:
        pass

    def on_span_end(self, span) -> None:
        self.ended.append(span.span_data.type)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


def test_sdk_processors_keep_working_and_replacing_them_keeps_ours(otel, model_server):
    provider = get_trace_provider()
    original = list(provider._multi_processor._processors)
    recorder = _Recorder()
    add_trace_processor(recorder)
    try:
        asyncio.run(Runner.run(_agent(model_server), "hi"))
        with_default = render(otel.spans(), keep=_genai)
        seen = list(recorder.ended)
        # The usual way to stop exporting to OpenAI: our processor stays.
        set_trace_processors([recorder])
        assert _processor() in provider._multi_processor._processors
        otel_spans = len(otel.spans())
        asyncio.run(Runner.run(_agent(model_server), "hi"))
        assert render(otel.spans()[otel_spans:], keep=_genai) == with_default == AGENT_TREE
        assert recorder.ended[len(seen) :] == seen
        assert seen.count("generation") == 2 and seen.count("function") == 1 and seen[-1] == "trace"
    finally:
        set_trace_processors(original)


def test_uninstrument_removes_the_processor_and_restores_the_sdk(otel, model_server):
    provider = get_trace_provider()
    multi = provider._multi_processor
    processor = _processor()
    others = [p for p in multi._processors if p is not processor]
    genai_otel.uninstrument()

    assert list(multi._processors) == others
    assert not hasattr(type(multi).set_processors, "__wrapped__")
    asyncio.run(Runner.run(_agent(model_server), "hi"))
    assert otel.genai_spans() == []
    genai_otel.instrument(settings=otel.settings)
    assert _processor() in multi._processors


# -- example -----------------------------------------------------------------------------------------


def test_example_prints_the_agent_tool_and_chat_spans():
    out = run_example("openai_agents_example.py")
    assert out.count("\ntrace ") == 1
    for line in ("handle_conversation_turn weather assistant", "invoke_agent weather assistant"):
        assert line in out, line
    assert "execute_tool get_weather" in out
    assert out.count(f"chat {TOOL_MODEL}") == 2
