"""genai_otel.agent / genai_otel.tool spans, parentage, baggage and the loop guard (in one process)."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import baggage
from opentelemetry.trace import SpanKind, StatusCode

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, LoopGuardAction


def _by_name(otel):
    return {s.name: s for s in otel.spans()}


def _chat(client, model="gpt-4o-mini"):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def test_agent_decorator_nests_model_and_tool_spans(otel, openai_client):
    @genai_otel.tool(description="Looks things up")
    def lookup(query: str) -> str:
        return f"found {query}"

    @genai_otel.agent("researcher", agent_id="r-1", conversation_id="conv-42")
    def research(topic: str) -> str:
        _chat(openai_client)
        return lookup(topic)

    assert research("otel") == "found otel"
    spans = _by_name(otel)
    agent, chat, tool = (
        spans["invoke_agent researcher"],
        spans["chat gpt-4o-mini"],
        spans["execute_tool lookup"],
    )
    assert agent.parent is None
    assert chat.parent.span_id == agent.context.span_id
    assert tool.parent.span_id == agent.context.span_id
    assert agent.kind is SpanKind.INTERNAL
    assert agent.attributes[sc.GEN_AI_AGENT_ID] == "r-1"
    assert agent.attributes[sc.GENAI_OTEL_AGENT_PATH] == "researcher"
    assert agent.attributes[sc.GENAI_OTEL_AGENT_HOPS] == 1
    assert agent.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 2  # one model call + one tool call
    # The conversation id the app gave reaches the model and tool spans beneath the agent.
    assert chat.attributes[sc.GEN_AI_CONVERSATION_ID] == "conv-42"
    assert tool.attributes[sc.GEN_AI_CONVERSATION_ID] == "conv-42"
    assert tool.attributes[sc.GEN_AI_TOOL_DESCRIPTION] == "Looks things up"
    assert sc.GEN_AI_TOOL_CALL_ARGUMENTS not in tool.attributes  # content capture is off


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_tool_records_arguments_and_result_under_content_capture(otel):
    @genai_otel.tool
    def add(a: int, b: int = 1) -> int:
        return a + b

    assert add(2, b=3) == 5
    span = otel.only_span()
    assert span.name == "execute_tool add"
    assert span.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"a":2,"b":3}'
    assert span.attributes[sc.GEN_AI_TOOL_CALL_RESULT] == "5"


def test_nested_agents_extend_path_and_hops(otel):
    with genai_otel.agent("supervisor") as sup:
        assert baggage.get_baggage("genai_otel.agent.path") == "supervisor"
        with genai_otel.agent("writer"):
            assert genai_otel.current_agent_path() == "supervisor>writer"
        sup.set_output([{"role": "assistant", "parts": [{"type": "text", "content": "done"}]}])
    spans = _by_name(otel)
    writer = spans["invoke_agent writer"]
    assert writer.attributes[sc.GENAI_OTEL_AGENT_PATH] == "supervisor>writer"
    assert writer.attributes[sc.GENAI_OTEL_AGENT_HOPS] == 2
    assert writer.parent.span_id == spans["invoke_agent supervisor"].context.span_id
    assert genai_otel.current_agent_path() is None


async def test_async_and_generator_agents_keep_parentage(otel, async_openai_client):
    @genai_otel.agent("streamer")
    async def stream_words():
        for word in ("a", "b"):
            await async_openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": word}]
            )
            yield word

    @genai_otel.agent("gatherer")
    async def gather():
        return [w async for w in stream_words()]

    @genai_otel.agent("counter")
    def count():
        yield from range(3)

    assert await gather() == ["a", "b"]
    assert list(count()) == [0, 1, 2]
    spans = otel.spans()
    by = {s.name: s for s in spans}
    streamer, gatherer = by["invoke_agent streamer"], by["invoke_agent gatherer"]
    assert streamer.parent.span_id == gatherer.context.span_id
    chats = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 2 and all(c.parent.span_id == streamer.context.span_id for c in chats)
    assert by["invoke_agent counter"].parent is None
    assert streamer.attributes[sc.GENAI_OTEL_AGENT_STEPS] == 2


async def test_parallel_agents_are_siblings(otel):
    @genai_otel.agent("worker")
    async def worker(i: int) -> int:
        await asyncio.sleep(0.01)
        return i

    async with genai_otel.agent("fanout"):
        assert await asyncio.gather(*(worker(i) for i in range(3))) == [0, 1, 2]
    spans = otel.spans()
    root = next(s for s in spans if s.name == "invoke_agent fanout")
    workers = [s for s in spans if s.name == "invoke_agent worker"]
    assert len(workers) == 3
    assert all(w.parent.span_id == root.context.span_id for w in workers)
    assert {w.attributes[sc.GENAI_OTEL_AGENT_PATH] for w in workers} == {"fanout>worker"}


def test_user_exception_passes_through_and_marks_span(otel):
    class Boom(Exception):
        pass

    @genai_otel.agent("fragile")
    def fragile():
        raise Boom("no")

    with pytest.raises(Boom):
        fragile()
    span = otel.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "Boom"


@pytest.mark.genai_settings(max_agent_steps=2, loop_guard_action=LoopGuardAction.RAISE)
def test_step_limit_raises_before_the_extra_model_call(otel, openai_client, model_server):
    @genai_otel.agent("looper")
    def looper():
        while True:
            _chat(openai_client)

    with pytest.raises(genai_otel.AgentLoopError) as caught:
        looper()
    assert caught.value.limit == "steps" and caught.value.maximum == 2
    spans = otel.spans()
    chats = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 3
    assert [c.status.status_code for c in chats] == [StatusCode.UNSET, StatusCode.UNSET, StatusCode.ERROR]
    assert chats[-1].attributes[sc.ERROR_TYPE] == "AgentLoopError"
    agent = next(s for s in spans if s.name == "invoke_agent looper")
    assert agent.attributes[sc.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[sc.ERROR_TYPE] == "AgentLoopError"
    event = next(e for e in chats[-1].events if e.name == "genai_otel.loop_guard.triggered")
    assert event.attributes["genai_otel.loop_guard.value"] == 3


@pytest.mark.genai_settings(max_agent_hops=3)
def test_hop_limit_records_without_stopping_by_default(otel):
    def recurse(depth: int) -> int:
        with genai_otel.agent(f"a{depth % 2}"):
            return depth if depth == 5 else recurse(depth + 1)

    assert recurse(1) == 5
    spans = sorted(otel.spans(), key=lambda s: s.attributes[sc.GENAI_OTEL_AGENT_HOPS])
    assert [s.attributes[sc.GENAI_OTEL_AGENT_HOPS] for s in spans] == [1, 2, 3, 4, 5]
    marked = [s.attributes.get(sc.GENAI_OTEL_LOOP_GUARD_LIMIT) for s in spans]
    # Hop 4 trips the guard: it and its open ancestors are marked, and so is everything beneath it.
    assert marked == ["hops"] * 5
    assert spans[-1].attributes[sc.GENAI_OTEL_AGENT_PATH] == "a1>a0>a1>a0>a1"
    assert any(e.name == "genai_otel.loop_guard.triggered" for e in spans[3].events)


def test_invocation_duration_says_which_runs_are_nested(otel):
    """`gen_ai.invocation.duration` carries the required `gen_ai.invocation.is_nested`: true for an agent
    run inside another agent run of this process, false for the outermost."""
    with genai_otel.agent("supervisor"), genai_otel.agent("researcher"):
        pass
    points = otel.metrics()["gen_ai.invocation.duration"].data.data_points
    nested = {
        p.attributes[sc.GEN_AI_AGENT_NAME]: p.attributes[sc.GEN_AI_INVOCATION_IS_NESTED] for p in points
    }
    assert nested == {"supervisor": False, "researcher": True}


def test_agent_run_totals_usage_and_counts_its_own_model_and_tool_calls(otel, openai_client):
    @genai_otel.tool
    def lookup(query: str) -> str:
        return query

    with genai_otel.agent("supervisor"):
        _chat(openai_client)
        with genai_otel.agent("writer"):
            _chat(openai_client)
            _chat(openai_client)
            lookup("x")
        lookup("y")
    spans = otel.spans()
    chats = [s for s in spans if s.name == "chat gpt-4o-mini"]
    by_name = {s.name: s for s in spans}
    supervisor, writer = by_name["invoke_agent supervisor"], by_name["invoke_agent writer"]
    per_chat = (
        chats[0].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS],
        chats[0].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
    )
    # Totals: the writer's two calls; the supervisor's own call plus the writer's (the cost of the whole run).
    assert (
        writer.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS],
        writer.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
    ) == (
        2 * per_chat[0],
        2 * per_chat[1],
    )
    assert supervisor.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3 * per_chat[0]
    # Tool spans name the agent executing them.
    tools = [s for s in spans if s.name == "execute_tool lookup"]
    assert sorted(s.attributes[sc.GEN_AI_AGENT_NAME] for s in tools) == ["supervisor", "writer"]
    # Each agent's own calls only (upstream: each call counted once across the call tree).
    metrics = otel.metrics()
    inference = {
        p.attributes[sc.GEN_AI_AGENT_NAME]: p.sum
        for p in metrics[sc.METRIC_GEN_AI_INVOKE_AGENT_INFERENCE_CALLS].data.data_points
    }
    tool_calls = {
        p.attributes[sc.GEN_AI_AGENT_NAME]: p.sum
        for p in metrics[sc.METRIC_GEN_AI_INVOKE_AGENT_TOOL_CALLS].data.data_points
    }
    assert inference == {"supervisor": 1, "writer": 2}
    assert tool_calls == {"supervisor": 1, "writer": 1}
    points = metrics[sc.METRIC_GEN_AI_INVOKE_AGENT_INFERENCE_CALLS].data.data_points
    assert all(set(p.attributes) == {sc.GEN_AI_AGENT_NAME} for p in points)


def test_a_turn_entered_again_inside_itself_is_one_turn(otel, openai_client):
    turn = sc.OPERATION_HANDLE_CONVERSATION_TURN
    # The inner turn: e.g. a runner invoked from a tool.
    with (
        genai_otel.agent("triage", operation=turn),
        genai_otel.agent("helper"),
        genai_otel.agent("triage", operation=turn),
    ):
        _chat(openai_client)
    spans = _by_name(otel)
    assert [s.name for s in otel.spans() if s.attributes[sc.GEN_AI_OPERATION_NAME] == turn] == [
        "handle_conversation_turn triage"
    ]
    assert spans["chat gpt-4o-mini"].parent.span_id == spans["invoke_agent helper"].context.span_id


def test_a_workflow_is_named_as_a_workflow(otel):
    with (
        genai_otel.agent("research crew", operation=sc.OPERATION_INVOKE_WORKFLOW),
        genai_otel.agent("researcher"),
    ):
        pass
    spans = _by_name(otel)
    workflow = spans["invoke_workflow research crew"]
    assert workflow.attributes[sc.GEN_AI_WORKFLOW_NAME] == "research crew"
    assert sc.GEN_AI_AGENT_NAME not in workflow.attributes
    assert spans["invoke_agent researcher"].parent.span_id == workflow.context.span_id
    points = otel.metrics()[sc.METRIC_GEN_AI_INVOCATION_DURATION].data.data_points
    assert {p.attributes.get(sc.GEN_AI_WORKFLOW_NAME) for p in points} == {"research crew", None}


def test_an_agent_generator_whose_cleanup_fails_still_ends_its_span(otel):
    @genai_otel.agent("stubborn")
    def steps():
        try:
            yield 1
        finally:
            yield 2  # ignores GeneratorExit: closing it raises RuntimeError

    stream = steps()
    assert next(stream) == 1
    with pytest.raises(RuntimeError):
        stream.close()
    (span,) = otel.spans()
    assert span.name == "invoke_agent stubborn" and span.end_time is not None
    assert span.status.status_code is StatusCode.ERROR
