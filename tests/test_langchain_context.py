"""LangChain / LangGraph runs leave the caller's OpenTelemetry context exactly as it was.

LangChain ends async runs from other tasks (its end callbacks are shielded tasks, stream generators are
closed by the event loop's finaliser), so a context attached when a run started used to stay current in
the caller: the next user span joined the old trace, later runs became unrelated roots, and a later
HTTP call carried the ended run's trace. Each case here runs the real frameworks against the local
model server and checks the caller's current span, baggage and context object before and after, plus
the shape of the traces made.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langgraph")

from langchain.agents import create_agent
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.trace import StatusCode

from .conftest import API_KEY
from .trees import named, render, traces

USER = trace.get_tracer("user-app")

AGENT_TREE = [
    "invoke_agent weather_agent",
    "  model",
    "    chat gpt-4o-mini-tool",
    "  tools",
    "    execute_tool get_weather",
    "  model",
    "    chat gpt-4o-mini-tool",
]
CHAIN_TREE = ["RunnableSequence", "  ChatPromptTemplate", "  chat gpt-4o-mini", "  StrOutputParser"]
GRAPH_TREE = ["invoke_agent LangGraph", "  route", "  answer", "    answer_fn", "      chat gpt-4o-mini"]


@tool
def get_weather(city: str) -> str:
    """The weather for a city."""
    return f"Sunny in {city}"


def _llm(model_server: Any, model: str = "gpt-4o-mini", **kwargs: Any) -> ChatOpenAI:
    import openai

    # LangChain caches one async HTTP client per base URL; each asyncio.run needs its own.
    return ChatOpenAI(
        model=model,
        base_url=model_server.openai_base_url,
        api_key=API_KEY,
        max_retries=0,
        http_async_client=openai.DefaultAsyncHttpxClient(),
        **kwargs,
    )


def _agent(model_server: Any) -> Any:
    return create_agent(_llm(model_server, "gpt-4o-mini-tool"), [get_weather], name="weather_agent")


def _chain(model_server: Any, model: str = "gpt-4o-mini") -> Any:
    prompt = ChatPromptTemplate.from_messages([("user", "{q}")])
    return prompt | _llm(model_server, model) | StrOutputParser()


class _State(TypedDict):
    question: str
    steps: Annotated[list[str], operator.add]


def _graph(model_server: Any, model: str = "gpt-4o-mini") -> Any:
    """A two-node graph: ``route`` (plain Python) then ``answer`` (a model call)."""
    llm = _llm(model_server, model)

    def route(state: _State) -> dict[str, Any]:
        return {"steps": ["route"]}

    def answer(state: _State) -> dict[str, Any]:
        return {"steps": [str(llm.invoke(state["question"]).content)]}

    async def aanswer(state: _State) -> dict[str, Any]:
        reply = await llm.ainvoke(state["question"])
        return {"steps": [str(reply.content)]}

    graph = StateGraph(_State)
    graph.add_node("route", route)
    graph.add_node("answer", RunnableLambda(answer, afunc=aanswer, name="answer_fn"))
    graph.add_edge(START, "route")
    graph.add_edge("route", "answer")
    graph.add_edge("answer", END)
    return graph.compile()


def _genai(span: Any) -> bool:
    return span.instrumentation_scope.name == "genai_otel"


class Caller:
    """The caller's context as it was: the current context object, its span and its baggage."""

    def __init__(self) -> None:
        self.context = otel_context.get_current()
        self.span = trace.get_current_span()
        self.baggage = dict(baggage.get_all())

    def assert_unchanged(self, where: str = "after the run") -> None:
        current = trace.get_current_span()
        assert current is self.span, f"{where}: current span is {getattr(current, 'name', current)!r}"
        assert dict(baggage.get_all()) == self.baggage, where
        assert otel_context.get_current() is self.context, where


@contextlib.contextmanager
def user_span(name: str = "user") -> Iterator[Any]:
    """A user span with user baggage around it, as an application would make them."""
    token = otel_context.attach(baggage.set_baggage("app.tenant", "t1"))
    try:
        with USER.start_as_current_span(name) as span:
            yield span
    finally:
        otel_context.detach(token)


def _parent_id(span: Any) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _assert_under(run_root: Any, parent: Any) -> None:
    assert run_root.context.trace_id == parent.context.trace_id
    assert _parent_id(run_root) == parent.context.span_id


def _check_next_user_span_is_clean(previous_trace_ids: set[int]) -> None:
    """A span the caller starts after the run is a new root, not a child of an ended run."""
    with USER.start_as_current_span("next") as nxt:
        pass
    assert nxt.parent is None
    assert nxt.context.trace_id not in previous_trace_ids


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    """Let the event loop run (the loop closes abandoned generators) until ``predicate`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"condition not met within {timeout} s"
        await asyncio.sleep(0.01)


# -- async runs --------------------------------------------------------------------------------------


def test_graph_ainvoke_leaves_the_callers_context(otel, model_server):
    graph = _graph(model_server)

    async def main() -> None:
        outside = Caller()
        with user_span() as user:
            caller = Caller()
            await graph.ainvoke({"question": "hi", "steps": []})
            caller.assert_unchanged()
            with USER.start_as_current_span("after") as after:
                pass
        _assert_under(after, user)
        outside.assert_unchanged("outside the user span")  # the user's own detach works too
        _check_next_user_span_is_clean({user.context.trace_id})

    asyncio.run(main())

    spans = otel.spans()
    assert render(spans, keep=_genai) == GRAPH_TREE
    _assert_under(named(spans, "invoke_agent")[0], named(spans, "user")[0])
    assert len(traces(spans)) == 2  # the user's trace and the one "next" span


def test_chain_ainvoke_leaves_the_callers_context(otel, model_server):
    chain = _chain(model_server)

    async def main() -> None:
        caller = Caller()
        assert await chain.ainvoke({"q": "hi"}) == "Echo: hi"
        caller.assert_unchanged()
        _check_next_user_span_is_clean({named(otel.spans(), "RunnableSequence")[0].context.trace_id})

    asyncio.run(main())
    assert render(otel.genai_spans(), keep=_genai) == CHAIN_TREE


def test_agent_ainvoke_then_three_gathered_runs_are_children_of_the_user_span(otel, model_server):
    agent = _agent(model_server)

    async def main() -> None:
        caller = Caller()
        await agent.ainvoke({"messages": [("user", "first")]})
        caller.assert_unchanged()
        with user_span("fan-out") as user:
            inside = Caller()
            await asyncio.gather(*(agent.ainvoke({"messages": [("user", f"q{i}")]}) for i in range(3)))
            inside.assert_unchanged()
        caller.assert_unchanged()
        return user

    user = asyncio.run(main())

    spans = otel.spans()
    agents = named(spans, "invoke_agent")
    assert len(agents) == 4
    first, *fanned = sorted(agents, key=lambda s: s.start_time)
    assert first.parent is None and first.context.trace_id != user.context.trace_id
    assert user.parent is None  # not a child of the first (ended) run
    for run in fanned:
        _assert_under(run, user)
    # each run's spans form its own complete tree under its own agent span: nothing crossed
    fan_out = traces(spans)[user.context.trace_id]
    assert render(fan_out, keep=_genai) == AGENT_TREE * 3
    assert render(traces(spans)[first.context.trace_id], keep=_genai) == AGENT_TREE


def test_concurrent_runs_in_one_task_group_never_cross(otel, model_server):
    """Interleaved runs of one graph under one user span, each started from its own task."""
    graph = _graph(model_server)

    async def one(i: int) -> None:
        caller = Caller()
        await graph.ainvoke({"question": f"q{i}", "steps": []}, config={"run_name": f"run{i}"})
        caller.assert_unchanged(f"run{i}")

    async def main() -> Any:
        with user_span() as user:
            caller = Caller()
            await asyncio.gather(*(one(i) for i in range(3)))
            caller.assert_unchanged()
        return user

    user = asyncio.run(main())
    spans = otel.spans()
    assert len(traces(spans)) == 1
    roots = named(spans, "invoke_agent")
    assert sorted(r.name for r in roots) == ["invoke_agent run0", "invoke_agent run1", "invoke_agent run2"]
    for root in roots:
        _assert_under(root, user)
        assert render([root, *_descendants(spans, root)], keep=_genai)[1:] == GRAPH_TREE[1:]


def _descendants(spans: list[Any], root: Any) -> list[Any]:
    out, frontier = [], {root.context.span_id}
    while frontier:
        kids = [s for s in spans if _parent_id(s) in frontier]
        out += kids
        frontier = {k.context.span_id for k in kids}
    return out


# -- streams -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("close", ["break", "aclose"])
def test_astream_early_exit_leaves_the_callers_context_and_is_not_an_error(otel, model_server, close):
    agent = _agent(model_server)

    async def main() -> None:
        with user_span() as user:
            caller = Caller()
            stream = agent.astream({"messages": [("user", "x")]}, stream_mode="updates")
            async for _ in stream:
                caller.assert_unchanged("inside the consumer's loop")
                break
            if close == "aclose":
                await stream.aclose()
            caller.assert_unchanged()
            del stream  # "break": the event loop's finaliser closes the abandoned generator
            await _until(lambda: named(otel.spans(), "invoke_agent"))
            caller.assert_unchanged("after the stream was closed")
            with USER.start_as_current_span("after") as after:
                pass
        _assert_under(after, user)

    asyncio.run(main())
    (agent_span,) = named(otel.spans(), "invoke_agent")
    assert agent_span.status.status_code is not StatusCode.ERROR
    assert "error.type" not in agent_span.attributes
    assert len(traces(otel.spans())) == 1


def test_astream_to_the_end_and_astream_events_leave_the_callers_context(otel, model_server):
    chain = _chain(model_server)

    async def main() -> None:
        caller = Caller()
        chunks = []
        async for chunk in chain.astream({"q": "hi"}):
            caller.assert_unchanged("inside the consumer's loop")
            chunks.append(chunk)
        assert "".join(chunks) == "Echo: hi"
        caller.assert_unchanged()
        async for _ in chain.astream_events({"q": "hi"}, version="v2"):
            caller.assert_unchanged("inside the astream_events loop")
        caller.assert_unchanged()

    asyncio.run(main())
    groups = traces(otel.spans())
    assert len(groups) == 2
    for spans in groups.values():
        assert render(spans, keep=_genai) == CHAIN_TREE


# -- failures and cancellation ----------------------------------------------------------------------


def test_failed_ainvoke_leaves_the_callers_context(otel, model_server):
    import openai

    chain = _chain(model_server, "gpt-4o-mini-error-429")

    async def main() -> None:
        with user_span():
            caller = Caller()
            with pytest.raises(openai.RateLimitError):
                await chain.ainvoke({"q": "hi"})
            caller.assert_unchanged()

    asyncio.run(main())
    sequence = named(otel.spans(), "RunnableSequence")[0]
    assert sequence.status.status_code is StatusCode.ERROR
    assert len(traces(otel.spans())) == 1


def _open_runs() -> int:
    import genai_otel

    return genai_otel._active["langchain_core"].callback_handler.open_runs


@pytest.mark.parametrize("how", ["cancel", "timeout", "wait_for"])
def test_cancelled_run_leaves_the_callers_context(otel, model_server, how):
    """The caller's task is cancelled mid-run: ``task.cancel()``, ``asyncio.timeout`` (in the caller's own
    task) or ``asyncio.wait_for`` (a task of its own before Python 3.12, the caller's since)."""
    graph = _graph(model_server, "gpt-4o-mini-slow")
    seen: list[Caller] = []

    async def caller_task() -> None:
        with user_span():
            caller = Caller()
            try:
                if how == "timeout":
                    async with asyncio.timeout(0.5):
                        await graph.ainvoke({"question": "x", "steps": []})
                elif how == "wait_for":
                    await asyncio.wait_for(graph.ainvoke({"question": "x", "steps": []}), 0.5)
                else:
                    await graph.ainvoke({"question": "x", "steps": []})
            except (asyncio.CancelledError, TimeoutError):
                caller.assert_unchanged("after the cancellation")
                seen.append(caller)
                raise

    async def main() -> None:
        task = asyncio.create_task(caller_task())
        if how == "cancel":
            await _until(lambda: _open_runs() >= 3)  # graph, node and chat runs are open
            task.cancel()
        with pytest.raises((asyncio.CancelledError, TimeoutError)):
            await task

    asyncio.run(main())
    assert seen
    graph_span = named(otel.spans(), "invoke_agent")[0]
    assert graph_span.attributes["error.type"] in ("CancelledError", "TimeoutError")
    assert len(traces(otel.spans())) == 1


# -- sync ------------------------------------------------------------------------------------------


def test_sync_invoke_and_stream_leave_the_callers_context(otel, model_server):
    graph = _graph(model_server)
    chain = _chain(model_server)

    with user_span() as user:
        caller = Caller()
        graph.invoke({"question": "hi", "steps": []})
        caller.assert_unchanged("after invoke")
        for _ in chain.stream({"q": "hi"}):
            caller.assert_unchanged("inside the consumer's stream loop")
        stream = graph.stream({"question": "hi", "steps": []}, stream_mode="updates")
        for _ in stream:
            caller.assert_unchanged("inside the consumer's graph stream loop")
            break
        stream.close()
        caller.assert_unchanged("after an early break")
        chain.batch([{"q": "a"}, {"q": "b"}])
        caller.assert_unchanged("after batch")

    spans = otel.spans()
    assert len(traces(spans)) == 1
    roots = [s for s in spans if _genai(s) and _parent_id(s) == user.context.span_id]
    assert sorted(r.name for r in roots) == [
        "RunnableSequence",
        "RunnableSequence",
        "RunnableSequence",
        "invoke_agent LangGraph",
        "invoke_agent LangGraph",
    ], "\n".join(render(spans))
    broken = sorted(named(spans, "invoke_agent"), key=lambda s: s.start_time)[1]
    assert broken.status.status_code is not StatusCode.ERROR


# -- code inside a run still finds its parent ---------------------------------------------------------


def test_code_inside_a_node_nests_under_the_node_and_model_calls_merge(otel, model_server):
    llm = _llm(model_server)

    async def node(state: _State) -> dict[str, Any]:
        with USER.start_as_current_span("inside-node"):
            reply = await llm.ainvoke(state["question"])
        return {"steps": [str(reply.content)]}

    graph = StateGraph(_State)
    graph.add_node("work", node)
    graph.add_edge(START, "work")
    graph.add_edge("work", END)
    compiled = graph.compile()

    async def main() -> None:
        caller = Caller()
        await compiled.ainvoke({"question": "hi", "steps": []})
        caller.assert_unchanged()

    asyncio.run(main())
    spans = otel.spans()
    assert render(spans, keep=lambda s: _genai(s) or s.name == "inside-node") == [
        "invoke_agent LangGraph",
        "  work",
        "    inside-node",
        "      chat gpt-4o-mini",
    ]
    chat = named(spans, "chat")[0]
    assert chat.attributes["server.address"] == "127.0.0.1"  # the OpenAI SDK call merged into it
    assert len([s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]) == 1


# -- a later HTTP call ---------------------------------------------------------------------------------


def test_http_call_after_the_run_does_not_join_the_runs_trace(otel, model_server):
    import httpx
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    chain = _chain(model_server)
    HTTPXClientInstrumentor().instrument()
    try:

        async def main() -> None:
            caller = Caller()
            await chain.ainvoke({"q": "hi"})
            caller.assert_unchanged()
            async with httpx.AsyncClient() as client:
                await client.post(
                    f"{model_server.openai_base_url}/chat/completions",
                    json={"model": "later-call", "messages": [{"role": "user", "content": "x"}]},
                )

        asyncio.run(main())
    finally:
        HTTPXClientInstrumentor().uninstrument()

    later = [r for r in model_server.requests if r["body"].get("model") == "later-call"][-1]
    headers = {k.lower(): v for k, v in later["headers"].items()}
    run_trace = format(named(otel.spans(), "RunnableSequence")[0].context.trace_id, "032x")
    assert headers["traceparent"].split("-")[1] != run_trace
    assert "baggage" not in headers
    (http_span,) = [s for s in otel.spans() if s.name == "POST" and s.parent is None]
    assert http_span.context.trace_id != int(run_trace, 16)


# -- uninstrument ----------------------------------------------------------------------------------------


def test_uninstrument_restores_every_wrapped_method(otel):
    import genai_otel
    from genai_otel.instrumentation.langchain import _GRAPH_STREAMS, _RUN_ENDS, _STREAMS

    instrumentor = genai_otel._active["langchain_core"]
    # LangGraph's generators are patched by post-import hooks (the base class's ``_applied``).
    wrapped = list(instrumentor._wrapped) + list(instrumentor._applied)
    # every run end and every stream generator of the installed versions is wrapped (Pregel: 2)
    streams = sum(len(m) for *_, m in _STREAMS) + 2 * len(_GRAPH_STREAMS)
    assert len(wrapped) == 1 + sum(len(m) for _, m in _RUN_ENDS) + streams + 2
    originals = [(owner, name, owner.__dict__[name].__wrapped__) for owner, name in wrapped]
    genai_otel.uninstrument()
    for owner, name, original in originals:
        assert owner.__dict__[name] is original, f"{owner.__name__}.{name}"
