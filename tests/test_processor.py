"""The enrichment rules (normalise, cost, loop flags, redact, limit) and the in-process
EnrichingSpanProcessor."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_otel import semconv as sc
from genai_otel.processor import (
    CostRule,
    EnrichingSpanProcessor,
    LimitRule,
    LoopFlagRule,
    NormalizeRule,
    RedactRule,
    SpanRecord,
    apply_rules,
    default_rules,
)
from genai_otel.processor.rules import PriceTable
from genai_otel.testing.conformance import SpanView, check_span

# Attribute sets as the anchors emit them for one OpenAI chat call.
OPENLLMETRY = {
    "llm.request.type": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.request.temperature": 0.2,
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "Mail me at jane.doe@example.com",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "Sure.",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.usage.prompt_tokens": 1000,
    "gen_ai.usage.completion_tokens": 200,
    "llm.usage.total_tokens": 1200,
    "llm.is_streaming": False,
}
OPENINFERENCE = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "claude-sonnet-4-20250514",
    "llm.provider": "anthropic",
    "llm.system": "anthropic",
    "llm.invocation_parameters": json.dumps({"max_tokens": 256, "temperature": 0.5}),
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.content": "hi",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "hello",
    "llm.token_count.prompt": 1000,
    "llm.token_count.completion": 100,
    "llm.token_count.prompt_details.cache_read": 400,
    "llm.token_count.total": 1100,
}
LEGACY = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "az.ai.inference",
    "gen_ai.request.model": "phi-4",
    "gen_ai.usage.prompt_tokens": 10,
    "gen_ai.usage.completion_tokens": 5,
    "gen_ai.openai.request.seed": 7,
}


def _normalized(attributes: dict) -> dict:
    record = SpanRecord("chat", dict(attributes))
    NormalizeRule().apply(record)
    return record.attributes


def _conformant(attributes: dict) -> None:
    name = f"{attributes[sc.GEN_AI_OPERATION_NAME]} {attributes.get(sc.GEN_AI_REQUEST_MODEL, '')}".strip()
    assert check_span(SpanView(name, "CLIENT", attributes), content_captured=True) == []


def test_openllmetry_dialect_becomes_latest_conventions():
    a = _normalized(OPENLLMETRY)
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat" and a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (1000, 200)
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Mail me at jane.doe@example.com"}]}
    ]
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["finish_reason"] == "stop"
    assert not any(k.startswith(("llm.", "gen_ai.prompt.", "gen_ai.completion.")) for k in a)
    _conformant(a)


def test_openinference_dialect_becomes_latest_conventions():
    a = _normalized(OPENINFERENCE)
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat" and a[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert a[sc.GEN_AI_REQUEST_MODEL] == "claude-sonnet-4-20250514"
    assert (a[sc.GEN_AI_REQUEST_MAX_TOKENS], a[sc.GEN_AI_REQUEST_TEMPERATURE]) == (256, 0.5)
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 400
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "hello"
    assert not any(k.startswith(("llm.", "openinference.")) for k in a)
    _conformant(a)


def test_older_genai_names_are_renamed_and_latest_spans_untouched():
    a = _normalized(LEGACY)
    assert a[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.inference" and a[sc.GEN_AI_REQUEST_SEED] == 7
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (10, 5)
    latest = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 3,
    }
    assert _normalized(latest) == latest


def test_cost_from_the_price_table():
    record = apply_rules(SpanRecord("chat", dict(OPENLLMETRY)), [NormalizeRule(), CostRule()])
    # gpt-4o-mini (dated snapshot -> prefix match): 1000 in x 0.15 + 200 out x 0.60 per 1M tokens
    assert record.attributes[sc.GENAI_OTEL_USAGE_COST] == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    cached = apply_rules(SpanRecord("chat", dict(OPENINFERENCE)), [NormalizeRule(), CostRule()])
    # claude-sonnet-4: 600 uncached x 3.00 + 400 cache reads x 0.30 + 100 out x 15.00
    assert cached.attributes[sc.GENAI_OTEL_USAGE_COST] == pytest.approx(
        (600 * 3 + 400 * 0.3 + 100 * 15) / 1e6
    )
    unknown = SpanRecord(
        "chat",
        {
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "mystery",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 5,
        },
    )
    CostRule().apply(unknown)
    assert sc.GENAI_OTEL_USAGE_COST not in unknown.attributes


def test_users_price_file_overrides(tmp_path):
    from genai_otel.processor.rules import load_prices

    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"providers": {"openai": {"gpt-4o-mini": {"input": 1.0, "output": 2.0}}}}))
    rule = CostRule(load_prices(str(path)))
    record = SpanRecord(
        "chat",
        {
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 0,
        },
    )
    rule.apply(record)
    assert record.attributes[sc.GENAI_OTEL_USAGE_COST] == pytest.approx(1.0)
    assert isinstance(rule.prices, PriceTable)


def _redaction_scores(rule: RedactRule) -> dict[str, tuple[int, int, int]]:
    """True positives, false positives and false negatives per label over tests/data/redaction_labelled.yaml:
    a finding counts as true when the marked value is gone from the text and a marker with its label took
    its place."""
    import re
    from collections import Counter
    from pathlib import Path

    import yaml

    items = yaml.safe_load((Path(__file__).parent / "data" / "redaction_labelled.yaml").read_text())
    scores: dict[str, list[int]] = {}
    for item in items:
        secrets = [(label, str(value)) for secret in item["secrets"] for label, value in secret.items()]
        redacted, _hits = rule.redact_text(item["text"])
        markers = Counter(re.findall(r"\[REDACTED:(\w+)\]", redacted))
        expected = Counter(label for label, _ in secrets)
        removed = Counter(label for label, value in secrets if value not in redacted)
        for label in set(markers) | set(expected):
            true = min(markers[label], removed[label])
            score = scores.setdefault(label, [0, 0, 0])
            score[0] += true
            score[1] += markers[label] - true
            score[2] += expected[label] - true
    return {label: tuple(score) for label, score in scores.items()}


def test_redaction_precision_and_recall_on_a_labelled_set():
    scores = _redaction_scores(RedactRule())
    for label, (true, false, missed) in sorted(scores.items()):
        print(f"{label:8} precision {true / (true + false):.2f}  recall {true / (true + missed):.2f}")
    true, false, missed = (sum(column) for column in zip(*scores.values(), strict=True))
    assert set(scores) == {"EMAIL", "PHONE", "CARD", "API_KEY", "BEARER"}
    assert true / (true + false) >= 0.95 and true / (true + missed) >= 0.95, scores
    assert all(t / (t + f) >= 0.85 and t / (t + m) >= 0.85 for t, f, m in scores.values()), scores


def test_redaction_replaces_exactly_the_secret():
    rule = RedactRule()
    text = "card 4111 1111 1111 1111 ok; mail a@b.co, key sk-abcdefghijklmnopqrstu."
    assert rule.redact_text(text) == (
        "card [REDACTED:CARD] ok; mail [REDACTED:EMAIL], key [REDACTED:API_KEY].",
        3,
    )
    assert rule.redact_text("no secrets, 42 digits") == ("no secrets, 42 digits", 0)
    assert rule.redact_text("only a@b.co here") == ("only [REDACTED:EMAIL] here", 1)  # the one-detector path


def test_redact_replaces_or_hashes_content_only():
    record = SpanRecord(
        "chat",
        {
            sc.GEN_AI_INPUT_MESSAGES: json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "I am jane.doe@example.com"}]}]
            ),
            sc.GEN_AI_REQUEST_MODEL: "a@b.co",
        },
    )
    RedactRule().apply(record)
    assert "[REDACTED:EMAIL]" in record.attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert record.attributes[sc.GEN_AI_REQUEST_MODEL] == "a@b.co"  # not content: untouched
    assert record.attributes[sc.GENAI_OTEL_REDACTED] == [sc.GEN_AI_INPUT_MESSAGES]
    hashed, _ = RedactRule(mode="hash").redact_text("x jane.doe@example.com y")
    assert (
        hashed.startswith("x [EMAIL:")
        and hashed == RedactRule(mode="hash").redact_text("x jane.doe@example.com y")[0]
    )
    custom, _ = RedactRule(custom={"TICKET": r"TCK-\d+"}).redact_text("see TCK-1234")
    assert custom == "see [REDACTED:TICKET]"


@pytest.mark.parametrize(
    "text",
    [
        "my phone is +55 11 91234-5678, thanks",  # country code, then groups of 2, 5 and 4 digits
        "reach me on +91 98765 43210 after six",  # two groups of five
        "WhatsApp +351 912 345 678 or +86 138-0013-8000",
        "mobile: +61.412.345.678.",  # dots all the way
        "tel +14155550132 (E.164)",
    ],
)
def test_redaction_finds_international_phone_formats(text):
    redacted, hits = RedactRule().redact_text(text)
    assert "[REDACTED:PHONE]" in redacted and not any(c.isdigit() for c in redacted.split("(")[0]), redacted
    assert hits == text.count("+")


@pytest.mark.parametrize(
    "text",
    [
        "invoice INV-2026-000417 is paid",  # a letter prefix glued to hyphenated digit groups: an id
        "internal account ACC-0042-7781-9930",
        "order SO.415.555.0199 shipped",
        "part 0042-7781-9930-12 is an id, not a phone",  # one more digit group glued on
        "deltas +12.5 13.1 14.2 15.0 per run",  # signed decimals, not a phone with dots
        "the score moved +1 2 3 points",
    ],
)
def test_redaction_leaves_ids_and_numbers_that_only_look_like_phones(text):
    assert RedactRule().redact_text(text) == (text, 0)


def test_redaction_takes_credentials_out_of_urls_and_keeps_the_host():
    rule = RedactRule()
    token = "ghp_R4nD0mT0k3nV4lu3F0rT3st1ngPurp0s3sXy"
    assert rule.redact_text(f"git clone https://x-access-token:{token}@github.com/acme/infra.git") == (
        "git clone https://[REDACTED:API_KEY]@github.com/acme/infra.git",  # a provider key: its own kind
        1,
    )
    assert rule.redact_text("DATABASE_URL=postgres://app:hunter2@db.example.com:5432/app") == (
        "DATABASE_URL=postgres://[REDACTED:URL_CREDENTIALS]@db.example.com:5432/app",
        1,
    )
    assert rule.redact_text("redis://:s3cret@cache.example.com:6379/0 and ops@example.com") == (
        "redis://[REDACTED:URL_CREDENTIALS]@cache.example.com:6379/0 and [REDACTED:EMAIL]",
        2,
    )
    # User info without a password is no email either: the host stays readable.
    anonymous = "ftp://anonymous@ftp.example.com/pub"
    assert rule.redact_text(anonymous) == (anonymous, 0)
    # Not user info: a port, a query, an email further on, "mailto:".
    for text, expected in [
        ("http://host:8080/x?to=a@b.co", "http://host:8080/x?to=[REDACTED:EMAIL]"),
        ("see http://host:8080 then mail a@b.co", "see http://host:8080 then mail [REDACTED:EMAIL]"),
        ("mailto:jane@example.com", "mailto:[REDACTED:EMAIL]"),
    ]:
        assert rule.redact_text(text)[0] == expected
    hashed, hits = RedactRule(mode="hash").redact_text("amqp://guest:guest@mq.example.com:5672/")
    assert hashed.startswith("amqp://[URL_CREDENTIALS:") and hashed.endswith("]@mq.example.com:5672/")
    assert hits == 1


# Inputs built to make each pattern the redaction added or changed (URL user info, international
# phones and the ids beside them, the email start rules) backtrack as much as its structure allows,
# with every trigger of _likely_labels set so the combined pattern runs too.
_HOSTILE_REDACTION = r"""
import re, sys
from genai_otel.processor.rules import DETECTORS, RedactRule

triggers = "x@y.co Bearer sk-a xoxb AKIA gh_ 1 https://u:p@h.co/ "
units = {
    "URL_CREDENTIALS": ["://", "://:", "://a:", "://a:b", ":/:/@", "://a:b/@", "://" + "a" * 50 + ":"],
    "PHONE": ["+1 ", "+1-", "+12345678901234567 ", "1 ", "12-", "(12) ", "1.", "+1.2 ", "+", "0042-7781-"],
    "EMAIL": ["a.", "//a", "a@", "a" * 63 + "@", "@a.", ".-", "a%+"],
}
rule = RedactRule()
for label, pieces in units.items():
    pattern = DETECTORS[label]
    for piece in pieces:
        for size in (25_000, 50_000, 100_000):
            body = piece * (size // len(piece) + 1)
            for text in (body[:size], body[:size] + "@", triggers + body[:size] + " x"):
                pattern.findall(text)
                rule.redact_text(text)
print("done")
"""


def test_redaction_patterns_stay_linear_on_hostile_input():
    """Every new or changed detector on 100 KB of input built against it (growing from 25 KB): a pattern
    with catastrophic backtracking does not finish. No wall time is asserted: the subprocess either ends
    or is killed after a minute (each input takes milliseconds with linear patterns)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _HOSTILE_REDACTION], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-2000:]


def test_limit_keeps_json_valid_and_lists_what_was_cut():
    big = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "x" * 50_000}]}])
    record = SpanRecord("chat", {sc.GEN_AI_INPUT_MESSAGES: big, sc.GEN_AI_OUTPUT_MESSAGES: big})
    LimitRule(max_attribute=10_000, max_span=12_000).apply(record)
    a = record.attributes
    assert len(a[sc.GEN_AI_INPUT_MESSAGES]) + len(a[sc.GEN_AI_OUTPUT_MESSAGES]) <= 12_000
    json.loads(a[sc.GEN_AI_INPUT_MESSAGES])
    json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert set(a[sc.GENAI_OTEL_CONTENT_TRUNCATED]) == {sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES}


def test_a_failing_rule_never_loses_the_span():
    class Broken:
        name = "broken"

        def apply(self, span):
            raise RuntimeError("bug")

    record = apply_rules(SpanRecord("chat", dict(LEGACY)), [Broken(), NormalizeRule()])
    assert record.attributes[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.inference"


def test_enriching_span_processor_in_process(model_server):
    import openai

    import genai_otel
    from genai_otel.config import ContentCapture, Settings

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(EnrichingSpanProcessor(SimpleSpanProcessor(exporter), default_rules()))
    genai_otel.instrument(
        tracer_provider=provider, only=["openai"], settings=Settings(content_capture=ContentCapture.SPAN_ONLY)
    )
    try:
        client = openai.OpenAI(base_url=model_server.openai_base_url, api_key="sk-x", max_retries=0)
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "I am jane@example.com"}]
        )
    finally:
        genai_otel.uninstrument()
    [span] = exporter.get_finished_spans()
    assert span.attributes[sc.GENAI_OTEL_USAGE_COST] > 0
    assert "jane@example.com" not in span.attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert "jane@example.com" not in span.attributes[sc.GEN_AI_OUTPUT_MESSAGES]  # the echo is redacted too


def test_loop_flags_mark_repeated_tool_calls_within_a_trace():
    """Real agent and tool spans (genai_otel.agent / genai_otel.tool) through the in-process processor."""
    import genai_otel
    from genai_otel.config import ContentCapture, Settings

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        EnrichingSpanProcessor(SimpleSpanProcessor(exporter), [LoopFlagRule(threshold=3)])
    )
    genai_otel.instrument(
        tracer_provider=provider, only=[], settings=Settings(content_capture=ContentCapture.SPAN_ONLY)
    )

    @genai_otel.tool("search")
    def search(query: str) -> str:
        return "nothing new"

    try:
        for _trace in range(2):  # two traces: counts never leak from one trace into the other
            with genai_otel.agent("researcher"):
                for _ in range(4):
                    search(query="same question")
                search(query="a different question")
    finally:
        genai_otel.uninstrument()

    tools = [s for s in exporter.get_finished_spans() if s.name == "execute_tool search"]
    repeats = [s.attributes.get(sc.GENAI_OTEL_LOOP_REPEATS) for s in tools]
    assert repeats == [None, None, 3, 4, None] * 2
    agents = [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")]
    assert all(sc.GENAI_OTEL_LOOP_REPEATS not in s.attributes for s in agents)  # one run per trace


def test_loop_flags_forget_idle_traces_and_stay_bounded():
    now = [100.0]
    rule = LoopFlagRule(threshold=2, window_seconds=5, max_traces=3, clock=lambda: now[0])

    def call(trace_id: int) -> SpanRecord:
        record = SpanRecord(
            "execute_tool t", {sc.GEN_AI_OPERATION_NAME: "execute_tool", sc.GEN_AI_TOOL_NAME: "t"}
        )
        record.trace_id = trace_id
        rule.apply(record)
        return record

    call(1)
    assert call(1).attributes[sc.GENAI_OTEL_LOOP_REPEATS] == 2
    now[0] += 5.1  # trace 1 idles past the window: its history is gone
    assert sc.GENAI_OTEL_LOOP_REPEATS not in call(1).attributes
    for trace_id in range(2, 10):
        call(trace_id)
    assert len(rule._traces) <= 3


# -- writing enriched attributes back into OTLP ------------------------------------------------------

_SCALARS = (
    st.text(max_size=200)
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
    | st.floats(allow_nan=False)
    | st.binary(max_size=20)
    | st.none()
)
_VALUES = (
    _SCALARS | st.lists(_SCALARS, max_size=4) | st.dictionaries(st.text(max_size=5), _SCALARS, max_size=3)
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=30), _VALUES, max_size=6))
@example({"k": 0.0})
@example({"k": -0.0})  # equal to 0.0 in Python: a cache keyed by value must not answer for it
@example({"k": 1})
@example({"k": True})
def test_attributes_are_written_back_exactly_as_protobuf_would(attributes):
    """The processor encodes rewritten attributes itself (faster than building messages); the bytes must
    be what protobuf makes of the same values, on spans and on events (the same pair in both, too)."""
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from genai_otel.processor.otlp import any_value, enrich_request, export_request

    def rewrite(records):
        (record,) = records
        record.attributes.clear()
        record.attributes.update(attributes)
        for _name, event_attributes in record.events:
            event_attributes.clear()
            event_attributes.update(attributes)

    request = export_request({"x": 1})
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.events.add(name="e").attributes.add(key="y")
    enrich_request(request, rewrite)
    expected = [KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]
    assert list(span.attributes) == expected and list(span.events[0].attributes) == expected
    reference = Span()
    reference.attributes.extend(expected)
    written = Span()
    written.attributes.extend(span.attributes)
    assert written.SerializeToString() == reference.SerializeToString()
