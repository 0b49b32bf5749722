"""DSPy (callback API): ReAct -> invoke_agent, LM calls -> one chat span each (DSPy's native engine, or
litellm + openai merged beneath), dspy.Tool -> execute_tool, Evaluate -> evaluate with one child per
example. Real dspy, real HTTP to the local model server."""

from __future__ import annotations

import asyncio
import importlib
import json
import os

# DSPy refreshes LiteLLM's model cost map over the network at the first LM call: use the bundled one.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")

import dspy
import pytest
import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, LoopGuardAction
from genai_otel.telemetry.agent_runs import AgentLoopError

from ...agent_frameworks import assert_failed, assert_no_content, context_kept, run_example

# The model server answers DSPy's ChatAdapter in its "[[ ## field ## ]]" format: the ReAct step calls
# get_weather, then (max_iters=1) the extraction answers "Echo: <question>". Model call -> tool -> model call.
QUESTION = "What is the weather in Paris?"
ANSWER = f"Echo: {QUESTION}"


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny in {city}"


def _lm(model_server, model: str = "gpt-4o-mini", **kwargs) -> dspy.LM:
    return dspy.LM(
        f"openai/{model}",
        api_base=model_server.openai_base_url,
        api_key="x",
        cache=False,
        num_retries=0,
        **kwargs,
    )


def _agent() -> dspy.ReAct:
    return dspy.ReAct("question -> answer", tools=[get_weather], max_iters=1)


@pytest.fixture
def lm(model_server):
    lm = _lm(model_server)
    with dspy.context(lm=lm):
        yield lm


def _by_name(spans, name):
    return [s for s in spans if s.name == name]


def _assert_react_tree(spans, agent, response_model="gpt-4o-mini-2026-01-01"):
    """The agent span is the parent of both model calls (the second through ChainOfThought) and the
    tool; exactly one chat span per model call."""
    chats = [s for s in spans if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(chats) == 2, [s.name for s in spans]
    assert all(c.name == "chat gpt-4o-mini" and c.kind is SpanKind.CLIENT for c in chats)
    (tool,) = [s for s in spans if s.name == "execute_tool get_weather" and s.parent == agent.context]
    (cot,) = [s for s in spans if s.name == "ChainOfThought"]
    assert chats[0].parent.span_id == agent.context.span_id
    assert chats[1].parent.span_id == cot.context.span_id and cot.parent.span_id == agent.context.span_id
    assert tool.attributes[sc.GEN_AI_TOOL_DESCRIPTION] == "Current weather for a city."
    for chat in chats:
        assert chat.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
        assert chat.attributes[sc.GEN_AI_RESPONSE_MODEL] in (response_model, "gpt-4o-mini-2026-01-01")
        assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
        assert chat.attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert agent.attributes[sc.GEN_AI_AGENT_NAME] == "ReAct"
    assert agent.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert agent.kind is SpanKind.INTERNAL
    assert tool.start_time > chats[0].end_time and chats[1].start_time > tool.end_time
    return chats, tool


def test_react_run_is_an_agent_span_over_its_model_calls_and_tool(otel, lm):
    result = _agent()(question=QUESTION)

    assert result.answer == ANSWER
    spans = otel.spans()
    (agent,) = _by_name(spans, "invoke_agent ReAct")
    assert agent.parent is None
    _assert_react_tree(spans, agent)
    assert not _by_name(spans, "Predict")  # folded into the model call it makes
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 3


def test_litellm_engine_merges_the_client_calls_into_one_span_per_model_call(otel, model_server):
    with dspy.context(lm=_lm(model_server, engine="litellm")):
        _agent()(question=QUESTION)

    spans = otel.spans()
    (agent,) = _by_name(spans, "invoke_agent ReAct")
    chats, _tool = _assert_react_tree(spans, agent)
    for chat in chats:  # what only the openai SDK call knows, merged into DSPy's span
        assert chat.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"
        assert chat.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_async_run(otel, lm):
    result = asyncio.run(_agent().acall(question=QUESTION))

    assert result.answer == ANSWER
    (agent,) = _by_name(otel.spans(), "invoke_agent ReAct")
    _assert_react_tree(otel.spans(), agent)


def test_three_concurrent_runs_do_not_cross(otel, lm):
    async def main():
        agent = _agent()
        return await asyncio.gather(*(agent.acall(question=QUESTION) for _ in range(3)))

    asyncio.run(main())

    spans = otel.spans()
    agents = _by_name(spans, "invoke_agent ReAct")
    assert len(agents) == 3 and len({a.context.trace_id for a in agents}) == 3
    for agent in agents:
        _assert_react_tree([s for s in spans if s.context.trace_id == agent.context.trace_id], agent)


def test_model_error_propagates_unchanged_and_marks_the_spans(otel, model_server):
    with (
        dspy.context(lm=_lm(model_server, "error-500")),
        pytest.raises(dspy.utils.exceptions.LMError) as caught,
    ):
        _agent()(question="q")

    assert "simulated error 500" in str(caught.value)
    spans = otel.spans()
    (chat,) = _by_name(spans, "chat error-500")
    (agent,) = _by_name(spans, "invoke_agent ReAct")
    assert_failed((chat, agent), type(caught.value).__name__)


def test_tool_error_is_the_agents_observation_and_marks_the_tool_span(otel, lm):
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        raise RuntimeError("weather service down")

    result = dspy.ReAct("question -> answer", tools=[get_weather], max_iters=1)(question=QUESTION)

    assert "weather service down" in result.trajectory["observation_0"]  # ReAct reports it to the model
    (tool,) = _by_name(otel.spans(), "execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[sc.ERROR_TYPE] == "RuntimeError"


def test_content_is_off_by_default(otel, lm):
    _agent()(question=QUESTION)

    assert_no_content(otel.spans(), secret="Paris")


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_capture_records_messages_instructions_tools_and_results(otel, lm):
    _agent()(question=QUESTION)

    spans = otel.spans()
    (agent,) = _by_name(spans, "invoke_agent ReAct")
    chat = _by_name(spans, "chat gpt-4o-mini")[0]
    (tool,) = _by_name(spans, "execute_tool get_weather")
    definitions = json.loads(agent.attributes[sc.GEN_AI_TOOL_DEFINITIONS])
    assert [d["name"] for d in definitions] == ["get_weather", "finish"]
    assert definitions[0]["parameters"]["properties"] == {"city": {"type": "string"}}
    assert json.loads(agent.attributes[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == QUESTION
    output = json.loads(agent.attributes[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"]
    assert json.loads(output)["answer"] == ANSWER
    system = json.loads(chat.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS])
    assert "get_weather" in system[0]["content"]  # ReAct lists its tools in the instructions
    assert (
        "[[ ## question ## ]]"
        in json.loads(chat.attributes[sc.GEN_AI_INPUT_MESSAGES])[-1]["parts"][0]["content"]
    )
    reply = json.loads(chat.attributes[sc.GEN_AI_OUTPUT_MESSAGES])[0]
    assert (
        reply["role"] == "assistant"
        and "[[ ## next_tool_name ## ]]\nget_weather" in reply["parts"][0]["content"]
    )
    assert json.loads(tool.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_RESULT] == "Sunny in Paris"


def test_caller_context_is_unchanged_after_sync_async_and_failed_runs(otel, lm, model_server):
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("app request") as app, context_kept() as before:
        _agent()(question=QUESTION)
        assert otel_context.get_current() is before
        asyncio.run(_agent().acall(question=QUESTION))
        assert otel_context.get_current() is before
        with dspy.context(lm=_lm(model_server, "error-500")), pytest.raises(dspy.utils.exceptions.LMError):
            _agent()(question="q")
    agents = _by_name(otel.spans(), "invoke_agent ReAct")
    assert len(agents) == 3 and all(a.parent.span_id == app.get_span_context().span_id for a in agents)


def test_streamed_run_and_a_stream_broken_off_early(otel, lm):
    listener = dspy.streaming.StreamListener(signature_field_name="answer")
    program = dspy.streamify(_agent(), stream_listeners=[listener])

    async def consume(limit: int | None):
        with context_kept():
            seen = []
            stream = program(question=QUESTION)
            async for item in stream:
                seen.append(item)
                if limit is not None and len(seen) >= limit:
                    break
            await stream.aclose()
        return seen

    items = asyncio.run(consume(None))
    assert isinstance(items[-1], dspy.Prediction)
    (agent,) = _by_name(otel.spans(), "invoke_agent ReAct")
    # Only the extraction, whose answer is listened to, streams; DSPy reports its requested model as the
    # response model.
    chats, _tool = _assert_react_tree(otel.spans(), agent, response_model="gpt-4o-mini")
    assert [c.attributes.get(sc.GEN_AI_REQUEST_STREAM) for c in chats] == [None, True]  # the listened one
    asyncio.run(consume(1))


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent_run(otel, lm):
    _agent()(question=QUESTION)  # the default action records; DSPy would swallow a raise from a callback

    (agent,) = _by_name(otel.spans(), "invoke_agent ReAct")
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 3


@pytest.mark.genai_settings(max_agent_steps=1, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_run(otel, lm, model_server):
    sent = len(model_server.requests)
    with pytest.raises(AgentLoopError):
        _agent()(question=QUESTION)

    # Step 2 (the tool) tripped the guard: ReAct took its error as the observation; step 3 (the
    # extraction's model call) raised before reaching the server.
    assert len(model_server.requests) == sent + 1
    spans = otel.spans()
    (agent,) = _by_name(spans, "invoke_agent ReAct")
    (tool,) = _by_name(spans, "execute_tool get_weather")
    chats = _by_name(spans, "chat gpt-4o-mini")
    assert [c.attributes.get(sc.ERROR_TYPE) for c in chats] == [None, "AgentLoopError"]
    for span in (agent, tool):
        assert span.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
        assert span.attributes[sc.ERROR_TYPE] == "AgentLoopError"


def test_evaluate_is_one_span_with_a_child_per_example(otel, lm):
    devset = [dspy.Example(question=QUESTION, answer=ANSWER).with_inputs("question") for _ in range(2)]
    evaluate = dspy.Evaluate(devset=devset, metric=lambda ex, pred, trace=None: True, num_threads=2)

    evaluate(_agent())

    spans = otel.spans()
    (run,) = _by_name(spans, "evaluate")
    agents = _by_name(spans, "invoke_agent ReAct")
    assert len(agents) == 2 and all(a.parent.span_id == run.context.span_id for a in agents)
    assert len({s.context.trace_id for s in spans}) == 1


def test_app_callbacks_keep_ours_and_uninstrument_restores(otel, lm):
    dspy_settings = importlib.import_module("dspy.dsp.utils.settings")

    class Recorder(dspy.utils.BaseCallback):
        def __init__(self):
            self.calls = 0

        def on_lm_start(self, call_id, instance, inputs):
            self.calls += 1

    recorder = Recorder()
    originals = [
        (owner, name, getattr(owner, name).__wrapped__)
        for owner in (dspy_settings.Settings, dspy)
        for name in ("configure", "context")
    ]
    with dspy.context(callbacks=[recorder]):  # replaces DSPy's callback list: ours is kept
        _agent()(question=QUESTION)
    assert recorder.calls == 2
    assert len(_by_name(otel.spans(), "invoke_agent ReAct")) == 1
    ours = dspy.settings.callbacks[0]

    genai_otel.uninstrument()
    assert ours not in dspy_settings.main_thread_config["callbacks"]
    for owner, name, original in originals:
        assert getattr(owner, name) == original and not isinstance(getattr(owner, name), wrapt.ObjectProxy)
    with dspy.context(callbacks=[ours, recorder]):  # a list copied before: ours does nothing any more
        _agent()(question=QUESTION)
    assert recorder.calls == 4
    assert len(_by_name(otel.spans(), "invoke_agent ReAct")) == 1
    genai_otel.instrument(only=["dspy"])  # and back again
    with dspy.context(callbacks=[recorder]):
        _agent()(question=QUESTION)
    assert len(_by_name(otel.spans(), "invoke_agent ReAct")) == 2


def test_example_prints_the_agent_trace():
    out = run_example("dspy_example.py")
    for line in ("invoke_agent ReAct", "execute_tool get_weather", "execute_tool finish", "ChainOfThought"):
        assert line in out, out
    # ReAct: call the tool, then finish; the extraction: one chat span per model call (three).
    assert out.count("chat gpt-4o-mini") == 3, out
