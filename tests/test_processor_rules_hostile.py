"""The processor rules under hostile input (issue 13, items 4 and 5): a rule applies to a record completely
or not at all, every attribute value and key has a cap, no input makes a rule raise, and log records
(bodies, attributes) and exception texts are redacted and limited like span content."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
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
from genai_otel.processor.config_file import from_dict
from genai_otel.processor.model import rule_failures
from genai_otel.processor.otlp import any_value, enrich_request, export_request, python_value
from genai_otel.processor.rules import MAX_DEPTH, limit_counts

KEY = "sk-abcdefghijklmnopqrstuvwx"
OPENINFERENCE = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "claude-sonnet-4-20250514",
    "llm.provider": "anthropic",
    "llm.invocation_parameters": json.dumps({"max_tokens": 256, "temperature": 0.5}),
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.content": "hi",
    "llm.token_count.prompt": 1000,
    "llm.token_count.completion": 100,
}


def _through_rules(attributes: dict, rules=None):
    """One real OTLP span carrying ``attributes``, enriched as the service does; the span after it."""
    request = export_request(attributes)
    rules = default_rules() if rules is None else rules
    from genai_otel.processor.model import apply_rules_to_batch

    enrich_request(request, lambda records: apply_rules_to_batch(records, rules))
    return request.resource_spans[0].scope_spans[0].spans[0], request


def _attrs(span) -> dict:
    return {kv.key: python_value(kv.value) for kv in span.attributes}


def _deep(depth: int, leaf="x"):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# -- item 4: bypasses -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flood", ["[" * 1_000_000, "{" * 1_000_000, '[{"a":' * 200_000])
def test_bracket_floods_are_cut_to_the_content_cap(flood):
    """json.loads('[' * 1M) raises RecursionError: the limit rule used to fail and forward 1 MB."""
    before = rule_failures()
    span, request = _through_rules({sc.GEN_AI_INPUT_MESSAGES: flood})
    value = _attrs(span)[sc.GEN_AI_INPUT_MESSAGES]
    assert len(value) <= 16 * 1024 and value.endswith("…")
    assert _attrs(span)[sc.GENAI_OTEL_CONTENT_TRUNCATED] == (sc.GEN_AI_INPUT_MESSAGES,)
    assert request.ByteSize() < 20_000
    assert rule_failures() == before


def test_deep_but_valid_json_content_is_cut_as_text():
    deep = "[" * 900 + json.dumps("y" * 40_000) + "]" * 900  # parses, but too deep to walk safely
    span, _ = _through_rules({sc.GEN_AI_OUTPUT_MESSAGES: deep})
    assert len(_attrs(span)[sc.GEN_AI_OUTPUT_MESSAGES]) <= 16 * 1024


def test_every_attribute_value_and_key_has_a_cap():
    counts = limit_counts()
    hostile = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_REQUEST_MODEL: "m" * 1_000_000,
        "k" * 1_000_000: "a 1 MB key",
        "app.list": ["v" * 100] * 10_000,
        "app.map": {f"key{i}": "v" * 100 for i in range(1_000)},
        "app.bytes": b"\x00" * 1_000_000,
        sc.GEN_AI_USAGE_INPUT_TOKENS: 7,
    }
    span, request = _through_rules(hostile)
    attrs = _attrs(span)
    assert "k" * 1_000_000 not in attrs and len(attrs) == len(hostile) - 1
    assert len(attrs[sc.GEN_AI_REQUEST_MODEL]) == 4096 and attrs[sc.GEN_AI_REQUEST_MODEL].endswith("…")
    assert sum(map(len, attrs["app.list"])) <= 4096 + 100
    assert sum(len(k) + len(v) for k, v in attrs["app.map"].items()) <= 4096
    assert len(attrs["app.bytes"]) == 4096
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 7 and attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert request.ByteSize() < 30_000
    after = limit_counts()
    assert after.get("keys_dropped", 0) - counts.get("keys_dropped", 0) == 1
    assert after.get("values_shortened", 0) - counts.get("values_shortened", 0) == 4
    # The span's name is made from the model by the normaliser: capped too.
    foreign = {"gen_ai.system": "openai", "llm.request.type": "chat", sc.GEN_AI_REQUEST_MODEL: "m" * 100_000}
    span, _ = _through_rules(foreign)
    assert len(span.name) <= 256


def test_caps_are_set_in_the_configuration_file():
    config = from_dict({"rules": [{"limit": {"max_value": 10, "max_key": 21, "max_attribute": 100}}]})
    (rule,) = config.rules
    record = apply_rules(
        SpanRecord("x", {"short": "0123456789abc", "k" * 22: 1, sc.GEN_AI_INPUT_MESSAGES: "z" * 500}),
        config.rules,
    )
    assert (rule.max_value, rule.max_key) == (10, 21)
    assert record.attributes["short"] == "012345678…"
    assert "k" * 22 not in record.attributes
    assert len(record.attributes[sc.GEN_AI_INPUT_MESSAGES]) == 100


# -- item 4: all or nothing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [
        "[" * 100_000,  # RecursionError in json.loads
        "[" * 5_000 + "1" + "]" * 5_000,
        json.dumps({"temperature": {"nested": True}, "max_tokens": "many", "top_p": [1], "seed": 1.5}),
        json.dumps({"max_tokens": float("inf")}).replace("Infinity", "1e999"),
        json.dumps({"temperature": 0.5, "pad": "x" * 1_000_000}),  # 1 MB: not parsed at all
        json.dumps([1, 2, 3]),
        "not json",
    ],
)
def test_hostile_invocation_parameters_never_leave_a_half_normalised_span(parameters):
    before = rule_failures()
    span, _ = _through_rules({**OPENINFERENCE, "llm.invocation_parameters": parameters}, [NormalizeRule()])
    attrs = _attrs(span)
    assert span.name == "chat claude-sonnet-4-20250514"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "anthropic" and attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "hi"
    assert not any(k.startswith(("llm.", "openinference.")) for k in attrs)
    for key in (sc.GEN_AI_REQUEST_TEMPERATURE, sc.GEN_AI_REQUEST_TOP_P, sc.GEN_AI_REQUEST_MAX_TOKENS):
        assert key not in attrs or (isinstance(attrs[key], (int, float)) and not isinstance(attrs[key], bool))
    assert sc.GEN_AI_REQUEST_SEED not in attrs  # 1.5 is no int
    assert rule_failures() == before


def test_whole_float_parameters_become_ints():
    parameters = json.dumps({"max_tokens": 256.0, "temperature": 1})
    span, _ = _through_rules({**OPENINFERENCE, "llm.invocation_parameters": parameters}, [NormalizeRule()])
    attrs = _attrs(span)
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256 and isinstance(attrs[sc.GEN_AI_REQUEST_MAX_TOKENS], int)
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 1.0


class _HalfThenFail:
    """A (user's) rule that edits everything it can reach, then fails."""

    name = "half_then_fail"

    def apply(self, span: SpanRecord) -> None:
        span.name = "changed"
        span.attributes["added"] = 1
        span.attributes.pop("keep", None)
        for _name, attributes in span.events:
            attributes["event.added"] = 1
        span.events.append(("new", {}))
        span.body = "changed"
        raise RuntimeError("bug in the middle of a rule")


def test_a_rule_that_fails_midway_leaves_the_record_as_it_was():
    before = rule_failures().get("half_then_fail", 0)
    records = [
        SpanRecord("chat", {"keep": 1}, events=[("exception", {"exception.type": "E"})], body={"b": 1})
        for _ in range(3)
    ]
    from genai_otel.processor.model import apply_rules_to_batch

    apply_rules_to_batch(records, [_HalfThenFail(), CostRule()])
    for record in records:
        assert record.name == "chat" and record.attributes == {"keep": 1}
        assert record.events == [("exception", {"exception.type": "E"})] and record.body == {"b": 1}
    assert rule_failures()["half_then_fail"] == before + 3


def test_built_in_rules_are_atomic_and_fail_on_nothing():
    """Every built-in rule either writes nothing or finishes: their promise (``atomic``) is what lets
    apply_rules_to_batch skip the copy."""
    assert all(getattr(rule, "atomic", False) for rule in default_rules())


# -- item 5: log records and exception texts ------------------------------------------------------------


def _log_record(body, attributes: dict, event_name: str = "gen_ai.client.inference.operation.details"):
    """An OTLP log record decoded the way the service does (attributes and body as Python values)."""
    log = LogRecord(event_name=event_name, body=any_value(body))
    for key, value in attributes.items():
        log.attributes.add(key=key, value=any_value(value))
    log = LogRecord.FromString(log.SerializeToString())
    return SpanRecord(
        name=log.event_name,
        attributes={kv.key: python_value(kv.value) for kv in log.attributes},
        body=python_value(log.body),
        is_log=True,
    )


def test_log_bodies_attributes_and_exceptions_are_redacted_and_limited():
    body = {
        "messages": [{"role": "user", "parts": [{"type": "text", "content": f"my key {KEY}, mail a@b.co"}]}],
        "big": "x" * 100_000,
    }
    record = _log_record(
        body,
        {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [{"type": "text", "content": KEY}]}],
            sc.GEN_AI_SYSTEM_INSTRUCTIONS: f"use {KEY}",
            "exception.message": f"401: invalid key {KEY}",
            "exception.stacktrace": f'Traceback\n  openai.AuthenticationError: "{KEY}"',
        },
    )
    apply_rules(record, default_rules())
    text = json.dumps(record.body) + json.dumps(record.attributes, default=str)
    assert KEY not in text and "a@b.co" not in text
    assert "[REDACTED:API_KEY]" in record.body["messages"][0]["parts"][0]["content"]
    assert len(record.body["big"]) < 16 * 1024
    assert sc.GENAI_OTEL_USAGE_COST not in record.attributes  # cost and normalise leave logs alone
    assert record.name == "gen_ai.client.inference.operation.details"


def test_a_string_body_and_a_deep_body():
    record = _log_record(f"prompt with {KEY} " + "y" * 50_000, {})
    apply_rules(record, default_rules())
    assert KEY not in record.body and len(record.body) <= 16 * 1024
    deep = _log_record(_deep(45, KEY), {})  # deeper than the rules walk
    apply_rules(deep, default_rules())
    assert KEY not in json.dumps(deep.body)


def test_normalise_cost_and_loop_flags_skip_log_records():
    attributes = {
        "gen_ai.system": "openai",
        "llm.request.type": "chat",
        sc.GEN_AI_OPERATION_NAME: "execute_tool",
        sc.GEN_AI_TOOL_NAME: "t",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 1000,
    }
    for _ in range(5):
        record = SpanRecord("event", dict(attributes), trace_id=1, is_log=True)
        apply_rules(record, [NormalizeRule(), CostRule(), LoopFlagRule(threshold=1)])
        assert record.attributes == attributes and record.name == "event"


def test_exception_events_on_real_spans_are_redacted():
    """A provider error quoting the prompt (and the key in it) survived the redact rule in the span's
    exception event."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(EnrichingSpanProcessor(SimpleSpanProcessor(exporter), default_rules()))
    tracer = provider.get_tracer("test")
    with pytest.raises(ValueError), tracer.start_as_current_span("chat gpt-4o"):
        raise ValueError(f"Error code: 400 - prompt was 'use {KEY} to log in, call +1 415 555 0100'")
    (span,) = exporter.get_finished_spans()
    (event,) = span.events
    assert event.name == "exception"
    assert KEY not in event.attributes["exception.message"]
    assert KEY not in event.attributes["exception.stacktrace"]
    assert "[REDACTED:API_KEY]" in event.attributes["exception.message"]


def test_the_email_detector_is_linear():
    """'a.' x 8500 + '@' took 0.7 s per attribute (each dot a new start rescanning the run)."""
    rule = RedactRule()
    text = "a." * 8500 + "@"
    assert rule.redact_text(text) == (text, 0)
    assert rule.redact_text("write to .jane.doe@example.com now")[0] == "write to [REDACTED:EMAIL] now"


# -- fuzz: no input makes a rule raise ------------------------------------------------------------------

_KEYS = st.sampled_from(
    [
        sc.GEN_AI_OPERATION_NAME,
        sc.GEN_AI_PROVIDER_NAME,
        sc.GEN_AI_REQUEST_MODEL,
        sc.GEN_AI_RESPONSE_MODEL,
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        sc.GEN_AI_TOOL_NAME,
        sc.GEN_AI_TOOL_CALL_ARGUMENTS,
        sc.GEN_AI_INPUT_MESSAGES,
        sc.GENAI_OTEL_USAGE_COST,
        sc.GENAI_OTEL_CONTENT_TRUNCATED,
        "exception.message",
        "exception.stacktrace",
        "gen_ai.system",
        "llm.request.type",
        "gen_ai.prompt.0.content",
        "gen_ai.prompt.0.role",
        "gen_ai.prompt.99999999999999999999.content",
        "openinference.span.kind",
        "llm.invocation_parameters",
        "llm.input_messages.0.message.content",
        "llm.token_count.prompt",
        "llm.model_name",
        "llm.provider",
        "openai.api_base",
        "gen_ai.openai.api_base",
        "k" * 300,
    ]
)
_TEXT = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["[" * 20_000, "{" * 20_000, '{"a":' * 5_000, "http://h:99999999/", "[::1", KEY]),
    st.builds(lambda n, s: s * n, st.integers(0, 20_000), st.sampled_from(["x", "a.", "1 ", "[1,"])),
    st.builds(
        json.dumps,
        st.dictionaries(
            st.sampled_from(["temperature", "max_tokens", "seed"]),
            st.none() | st.booleans() | st.floats() | st.text(max_size=5) | st.integers(-(1 << 70), 1 << 70),
        ),
    ),
)
_SCALAR = (
    _TEXT | st.booleans() | st.integers(-(1 << 63), (1 << 63) - 1) | st.floats() | st.binary(max_size=30)
)
_VALUE = st.recursive(
    _SCALAR | st.none(),
    lambda children: (
        st.lists(children, max_size=4).map(tuple) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
) | st.builds(_deep, st.integers(0, 200), _SCALAR)
_ATTRIBUTES = st.dictionaries(_KEYS | st.text(max_size=20), _VALUE, max_size=8)
_RULES = [
    NormalizeRule(),
    CostRule(),
    LoopFlagRule(threshold=1),
    RedactRule(),
    RedactRule(mode="hash"),
    LimitRule(),
    LimitRule(max_attribute=64, max_span=100, max_value=16, max_key=8),
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    _ATTRIBUTES,
    st.lists(st.tuples(st.sampled_from(["exception", "e"]), _ATTRIBUTES), max_size=2),
    _VALUE,
    st.booleans(),
)
def test_no_input_makes_a_rule_raise(attributes, events, body, is_log):
    for rule in _RULES:
        record = SpanRecord(
            "span",
            dict(attributes),
            [(n, dict(a)) for n, a in events],
            trace_id=b"t",
            body=body if is_log else None,
            is_log=is_log,
        )
        rule.apply(record)  # directly: no safety net
        if isinstance(rule, LimitRule):
            _assert_within(rule, record)


def _assert_within(rule: LimitRule, record: SpanRecord) -> None:
    from genai_otel.processor.rules import _size

    for attributes in [record.attributes, *(a for _n, a in record.events)]:
        for key, value in attributes.items():
            if key == sc.GENAI_OTEL_CONTENT_TRUNCATED:
                continue  # the rule's own attribute (its key is longer than the tiny test cap)
            assert len(key) <= rule.max_key
            cap = (
                rule.max_attribute
                if key in sc.CONTENT_ATTRIBUTES or key.startswith("exception.")
                else rule.max_value
            )
            assert _size(value, cap) <= max(cap, 8), (key, value)
    assert _size(record.body, rule.max_attribute) <= rule.max_attribute or record.body is None
    content = [v for k, v in record.attributes.items() if k in sc.CONTENT_ATTRIBUTES]
    assert sum(_size(v, rule.max_span) for v in content) <= rule.max_span + 8 * len(content)


def test_deeper_than_max_depth_is_replaced_by_the_marker():
    record = SpanRecord("x", {"app.deep": _deep(MAX_DEPTH + 5)}, body=_deep(MAX_DEPTH + 5, KEY), is_log=True)
    apply_rules(record, [LimitRule(), RedactRule()])
    assert KEY not in json.dumps(record.body) and "...[truncated]" in json.dumps(record.body)
    assert "...[truncated]" in json.dumps(record.attributes["app.deep"])
