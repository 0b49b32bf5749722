"""LLM-as-a-judge (genai_otel.evaluation.judge) against the model server's deterministic judge: verdicts
really parsed, unparseable ones rejected, 429 retried, rate limit and token budget honoured, judging off
the hot path and never traced into the evaluated trace."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, Settings
from genai_otel.evaluation import Expectation, SpanView, TraceView
from genai_otel.evaluation.judge import (
    UNPARSED,
    AnswerRelevanceJudge,
    FaithfulnessJudge,
    HandoffJudge,
    JudgeClient,
    JudgeError,
    RateLimiter,
    TaskCompletionJudge,
    load_rubric,
    parse_verdict,
)
from genai_otel.evaluation.readers import read_otlp_request
from genai_otel.processor.evaluation import EvaluatingSpanProcessor

CONTEXT = "The Eiffel Tower is in Paris. It was completed in 1889. It is 330 metres tall."


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def _rag_trace(answer: str) -> tuple[SpanView, TraceView]:
    """A retrieval (documents with text) and then the chat call answering from them."""
    retrieval = SpanView(
        "retrieval docs",
        "00000000000000a1",
        "00000000000000a0",
        {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_RETRIEVAL,
            sc.GEN_AI_RETRIEVAL_DOCUMENTS: json.dumps([{"id": "d1", "content": CONTEXT}]),
        },
        start_ns=1,
        end_ns=2,
    )
    chat = SpanView(
        "chat gpt-4o-mini",
        "00000000000000a2",
        "00000000000000a0",
        {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT,
            sc.GEN_AI_INPUT_MESSAGES: _messages("user", "When was the Eiffel Tower completed?"),
            sc.GEN_AI_OUTPUT_MESSAGES: _messages("assistant", answer),
        },
        start_ns=3,
        end_ns=4,
    )
    return chat, TraceView("0" * 31 + "1", [retrieval, chat])


def _judge_requests(model_server, model: str) -> list[dict]:
    return [r["body"] for r in model_server.requests if r["body"].get("model") == model]


def test_faithfulness_verdicts_are_parsed_from_the_judges_json(model_server):
    client = JudgeClient(model_server.openai_base_url, "judge-faith")
    judge = FaithfulnessJudge(client)
    faithful_chat, faithful_trace = _rag_trace("It was completed in 1889.")
    unfaithful_chat, unfaithful_trace = _rag_trace("It was completed in 1889. It is painted gold.")

    assert judge.applies_to(faithful_chat)
    faithful = judge.evaluate(faithful_chat, faithful_trace)
    unfaithful = judge.evaluate(unfaithful_chat, unfaithful_trace)

    assert (faithful.name, faithful.score, faithful.label) == ("faithfulness_judge", 1.0, "faithful")
    assert (unfaithful.score, unfaithful.label) == (0.5, "unfaithful")
    assert "painted gold" in unfaithful.explanation
    first = _judge_requests(model_server, "judge-faith")[0]
    assert first["response_format"]["json_schema"]["name"] == "faithfulness"
    assert first["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"] == [
        "faithful",
        "unfaithful",
    ]
    prompt = first["messages"][1]["content"]
    assert CONTEXT in prompt and "<answer>\nIt was completed in 1889.\n</answer>" in prompt
    assert client.stats()["requests"] == 2 and client.tokens_used > 0


def test_an_answer_without_context_is_not_judged_for_faithfulness(model_server):
    client = JudgeClient(model_server.openai_base_url, "judge-nocontext")
    chat = SpanView(
        "chat m",
        "00000000000000b1",
        None,
        {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT,
            sc.GEN_AI_INPUT_MESSAGES: _messages("user", "hi"),
            sc.GEN_AI_OUTPUT_MESSAGES: _messages("assistant", "hello"),
        },
    )
    assert FaithfulnessJudge(client).evaluate(chat, TraceView("1" * 32, [chat])) is None
    no_content = SpanView("chat m", "00000000000000b2", None, {sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT})
    assert not FaithfulnessJudge(client).applies_to(no_content)  # content not captured: nothing to judge
    assert client.requests == 0


def test_an_unparseable_verdict_is_labelled_unparsed_without_a_score(model_server):
    client = JudgeClient(model_server.openai_base_url, "judge-garbage")
    chat, trace = _rag_trace("It was completed in 1889.")
    result = FaithfulnessJudge(client).evaluate(chat, trace)
    assert result.label == UNPARSED and result.score is None
    assert "pretty good overall" in result.explanation


@pytest.mark.parametrize(
    "reply",
    [
        "4",
        "Score: 1 - faithful",
        '{"score": 1.5, "label": "faithful", "explanation": ""}',
        '{"score": 1, "label": "great", "explanation": ""}',
        '{"score": true, "label": "faithful", "explanation": ""}',
        '{"score": "1", "label": "faithful", "explanation": ""}',
        '["faithful"]',
        "",
    ],
)
def test_verdicts_that_do_not_fit_the_schema_are_rejected(reply):
    result = parse_verdict("faithfulness", reply, load_rubric("faithfulness").labels)
    assert result.label == UNPARSED and result.score is None


def test_a_fenced_json_verdict_from_a_model_without_structured_output_is_accepted():
    reply = '```json\n{"score": 0.25, "label": "unfaithful", "explanation": "mostly invented"}\n```'
    result = parse_verdict("faithfulness", reply, ("faithful", "unfaithful"))
    assert (result.score, result.label, result.explanation) == (0.25, "unfaithful", "mostly invented")


def test_http_429_is_retried_then_the_verdict_is_used(model_server):
    client = JudgeClient(model_server.openai_base_url, "judge-flaky", backoff=0.01)
    chat, trace = _rag_trace("It is 330 metres tall.")
    result = FaithfulnessJudge(client).evaluate(chat, trace)
    assert (result.score, result.label) == (1.0, "faithful")
    assert client.retries == 1 and client.requests == 2
    assert len(_judge_requests(model_server, "judge-flaky")) == 2


def test_persistent_server_errors_fail_after_the_configured_retries(model_server):
    client = JudgeClient(model_server.openai_base_url, "judge-error-503", backoff=0.01, max_retries=2)
    chat, trace = _rag_trace("It is 330 metres tall.")
    started = time.perf_counter()
    with pytest.raises(JudgeError, match="HTTP 503"):
        FaithfulnessJudge(client).evaluate(chat, trace)
    assert client.requests == 3 and client.retries == 2
    assert time.perf_counter() - started >= 0.01 + 0.02  # exponential backoff between the attempts


def test_client_errors_are_not_retried(model_server):
    client = JudgeClient(model_server.openai_base_url, "judge-error-400", backoff=0.01)
    chat, trace = _rag_trace("x.")
    with pytest.raises(JudgeError, match="HTTP 400"):
        FaithfulnessJudge(client).evaluate(chat, trace)
    assert client.requests == 1


def test_the_rate_limit_skips_and_counts_what_it_cannot_send_in_time(model_server):
    client = JudgeClient(model_server.openai_base_url, "judge-rpm", requests_per_minute=2, max_wait=0)
    judge = AnswerRelevanceJudge(client)
    chat, trace = _rag_trace("It was completed in 1889.")
    results = [judge.evaluate(chat, trace) for _ in range(3)]
    assert [r is not None for r in results] == [True, True, False]
    assert client.skipped == {"rate_limit": 1} and client.requests == 2


def test_the_rate_limiter_waits_for_the_oldest_request_to_leave_the_window():
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2, max_wait=120, clock=lambda: now[0], sleep=sleep)
    assert limiter.acquire() and limiter.acquire()
    now[0] += 10
    assert limiter.acquire()  # waits 50 s: the first request leaves the 60 s window
    assert waits == [50.0]
    strict = RateLimiter(1, max_wait=5, clock=lambda: now[0], sleep=sleep)
    assert strict.acquire() and not strict.acquire()  # would need 60 s, may wait 5


def test_the_token_budget_stops_judging_and_counts_the_skips(model_server):
    client = JudgeClient(model_server.openai_base_url, "judge-budget", token_budget=50)
    judge = AnswerRelevanceJudge(client)
    chat, trace = _rag_trace("It was completed in 1889.")
    results = [judge.evaluate(chat, trace) for _ in range(3)]
    assert results[0] is not None and results[1:] == [None, None]
    assert client.tokens_used >= 50 and client.requests == 1
    assert client.skipped == {"token_budget": 2}


class _SpanJudgeAdapter:
    """The span processor's per-span evaluator interface over a trace evaluator (a one-span trace)."""

    def __init__(self, evaluator) -> None:
        self.evaluator, self.name = evaluator, evaluator.name

    def evaluate(self, attributes):
        span = SpanView("span", "0000000000000001", None, dict(attributes))
        return self.evaluator.evaluate(span, TraceView("0" * 32, [span]))


def test_judging_runs_off_the_hot_path_and_its_calls_are_never_traced(model_server, monkeypatch):
    import openai

    suppressed_during_judge_calls: list[object] = []
    real_urlopen = urllib.request.urlopen

    def recording_urlopen(request, *args, **kwargs):
        suppressed_during_judge_calls.append(get_value(_SUPPRESS_INSTRUMENTATION_KEY))
        return real_urlopen(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", recording_urlopen)
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    # "slow": the judge answers after 2 s, so an app waiting for it would take at least that long.
    client = JudgeClient(model_server.openai_base_url, "judge-slow")
    evaluator = EvaluatingSpanProcessor(
        [_SpanJudgeAdapter(AnswerRelevanceJudge(client))], logger_provider=logger_provider
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    provider.add_span_processor(evaluator)
    genai_otel.instrument(
        tracer_provider=provider, only=["openai"], settings=Settings(content_capture=ContentCapture.SPAN_ONLY)
    )
    try:
        app = openai.OpenAI(base_url=model_server.openai_base_url, api_key="sk-x", max_retries=0)
        started = time.perf_counter()
        app.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France?"}]
        )
        app_seconds = time.perf_counter() - started
        judged_when_app_returned = len(logs.get_finished_logs())
        assert evaluator.force_flush(20_000)
    finally:
        genai_otel.uninstrument()

    assert app_seconds < 1.5 and judged_when_app_returned == 0
    [span] = spans.get_finished_spans()  # the app's call only: the judge's is not in the trace
    assert "judge" not in json.dumps(dict(span.attributes))
    [record] = [r.log_record for r in logs.get_finished_logs()]
    assert record.span_id == span.context.span_id and record.trace_id == span.context.trace_id
    assert record.attributes[sc.GEN_AI_EVALUATION_NAME] == "answer_relevance_judge"
    assert record.attributes[sc.GEN_AI_EVALUATION_SCORE_LABEL] == "relevant"
    assert record.attributes[sc.GEN_AI_EVALUATION_SCORE_VALUE] == 1.0  # "Echo: Capital of France?"
    assert suppressed_during_judge_calls == [True]


def run_weather_agent(client, *, city_lookup_fails: bool = False) -> str:
    """A 3-step agent: the model asks for get_weather, the tool runs, the model answers."""

    @genai_otel.tool("get_weather", description="Current weather of a city")
    def get_weather(city: str) -> str:
        if city_lookup_fails:
            raise LookupError(f"no station in {city}")
        return f"Sunny, 21 C in {city}"

    @genai_otel.agent("weather_agent", description="Answers weather questions")
    def weather_agent(question: str) -> str:
        messages = [{"role": "user", "content": question}]
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather of a city",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                },
            }
        ]
        while True:
            reply = client.chat.completions.create(model="gpt-4o-mini-tool", messages=messages, tools=tools)
            message = reply.choices[0].message
            if not message.tool_calls:
                return message.content
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                try:
                    result = get_weather(**json.loads(call.function.arguments))
                except LookupError as error:
                    result = f"error: {error}"
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})

    return weather_agent("What is the weather in Paris?")


def _trace_of(otel) -> TraceView:
    [trace] = read_otlp_request(encode_spans(otel.spans())).traces
    return trace


def _agent_span(trace: TraceView) -> SpanView:
    return next(s for s in trace.spans if s.operation == sc.OPERATION_INVOKE_AGENT)


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_task_completion_is_judged_from_a_real_agent_runs_steps(otel, model_server, openai_client):
    run_weather_agent(openai_client)
    trace = _trace_of(otel)
    agent = _agent_span(trace)
    client = JudgeClient(model_server.openai_base_url, "judge-task")
    judge = TaskCompletionJudge(client)
    assert judge.applies_to(agent)

    result = judge.evaluate(agent, trace)

    assert (result.name, result.score, result.label) == ("task_completion_judge", 1.0, "completed")
    prompt = _judge_requests(model_server, "judge-task")[-1]["messages"][1]["content"]
    assert "<task>\nWhat is the weather in Paris?\n</task>" in prompt
    assert 'calls get_weather({"city": "Paris"})' in prompt  # the model's tool call
    assert "execute_tool get_weather" in prompt and "Sunny, 21 C in Paris" in prompt  # the tool's result
    expected = Expectation("What is the weather in Paris?", expected_answer="Rain all day")
    assert judge.evaluate(agent, trace, expected).label == "incomplete"  # disagrees with the dataset


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_a_failed_tool_step_makes_the_task_incomplete(otel, model_server, openai_client):
    run_weather_agent(openai_client, city_lookup_fails=True)
    trace = _trace_of(otel)
    result = TaskCompletionJudge(JudgeClient(model_server.openai_base_url, "judge-task")).evaluate(
        _agent_span(trace), trace
    )
    assert (result.score, result.label) == (0.0, "incomplete")
    assert result.explanation == "a step failed"


def test_without_content_capture_an_agent_run_is_not_judged(otel, model_server, openai_client):
    run_weather_agent(openai_client)
    trace = _trace_of(otel)
    client = JudgeClient(model_server.openai_base_url, "judge-task")
    assert TaskCompletionJudge(client).evaluate(_agent_span(trace), trace) is None
    assert client.requests == 0


def _handoff_tool(name: str, description: str) -> dict:
    parameters = {"type": "object", "properties": {}}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def run_triage(client) -> str:
    """A triage agent whose model hands the question to the first offered agent (the weather agent)."""

    @genai_otel.tool("transfer_to_weather_agent")
    def transfer_to_weather_agent() -> str:
        return run_weather_agent(client)

    @genai_otel.agent("triage")
    def triage(question: str) -> str:
        tools = [
            _handoff_tool("transfer_to_weather_agent", "Answers weather questions"),
            _handoff_tool("transfer_to_billing_agent", "Handles invoices and refunds"),
        ]
        reply = client.chat.completions.create(
            model="gpt-4o-mini-handoff", messages=[{"role": "user", "content": question}], tools=tools
        )
        [call] = reply.choices[0].message.tool_calls
        assert call.function.name == "transfer_to_weather_agent"
        return transfer_to_weather_agent()

    return triage("What is the weather in Paris?")


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_handoff_correctness_is_judged_from_the_offered_agents(otel, model_server, openai_client):
    run_triage(openai_client)
    trace = _trace_of(otel)
    triage = next(s for s in trace.spans if s.name == "invoke_agent triage")
    weather = next(s for s in trace.spans if s.name == "invoke_agent weather_agent")
    judge = HandoffJudge(JudgeClient(model_server.openai_base_url, "judge-handoff"))

    result = judge.evaluate(triage, trace)
    wrong = judge.evaluate(
        triage, trace, Expectation("What is the weather in Paris?", expected_agents=("billing_agent",))
    )

    assert (result.name, result.score, result.label) == ("handoff_correctness_judge", 1.0, "correct")
    prompt = _judge_requests(model_server, "judge-handoff")[0]["messages"][1]["content"]
    assert "weather_agent: Answers weather questions\nbilling_agent: Handles invoices and refunds" in prompt
    assert "<handoff>\nweather_agent\n</handoff>" in prompt
    assert (wrong.score, wrong.label) == (0.0, "incorrect")
    assert judge.evaluate(weather, trace) is None  # the weather agent hands nothing off


def test_concurrent_judging_shares_one_rate_limit_and_budget(model_server):
    from concurrent.futures import ThreadPoolExecutor

    client = JudgeClient(model_server.openai_base_url, "judge-threads", requests_per_minute=5, max_wait=0)
    judge = AnswerRelevanceJudge(client)
    chat, trace = _rag_trace("It was completed in 1889.")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: judge.evaluate(chat, trace), range(8)))
    assert sum(r is not None for r in results) == 5 == client.requests
    assert client.skipped == {"rate_limit": 3}
    assert len(_judge_requests(model_server, "judge-threads")) == 5


def test_an_unreachable_judge_fails_after_its_retries():
    client = JudgeClient("http://127.0.0.1:9/v1", "judge-x", backoff=0.01, max_retries=1, timeout=2)
    chat, trace = _rag_trace("x.")
    with pytest.raises(JudgeError, match="unreachable"):
        AnswerRelevanceJudge(client).evaluate(chat, trace)
    assert client.requests == 2 and client.retries == 1
