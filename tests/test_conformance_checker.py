"""The checker must catch what it claims to: each rule is shown failing on a bad span or metric."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from genai_otel.testing.conformance import SpanView, check_metrics, check_span

GOOD = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "m"}


def rules(view, **kw):
    return {v.rule for v in check_span(view, content_captured=kw.pop("content", False), **kw)}


def test_good_span_passes():
    assert rules(SpanView("chat m", "CLIENT", dict(GOOD))) == set()


def test_each_span_rule_fails():
    assert "span-name" in rules(SpanView("chat", "CLIENT", dict(GOOD)))
    assert "span-kind" in rules(SpanView("chat m", "SERVER", dict(GOOD)))
    assert "required" in rules(
        SpanView("chat m", "CLIENT", {k: v for k, v in GOOD.items() if k != "gen_ai.provider.name"})
    )
    assert "conditionally-required" in rules(SpanView("chat m", "CLIENT", dict(GOOD), error=True))
    assert "conditionally-required" in rules(SpanView("chat m", "CLIENT", {**GOOD, "server.address": "h"}))
    assert "unregistered" in rules(SpanView("chat m", "CLIENT", {**GOOD, "gen_ai.made_up": 1}))
    assert "type" in rules(SpanView("chat m", "CLIENT", {**GOOD, "gen_ai.usage.input_tokens": "12"}))
    assert "not-allowed" in rules(SpanView("chat m", "CLIENT", {**GOOD, "gen_ai.tool.call.id": "x"}))
    assert "profile" in rules(SpanView("chat m", "CLIENT", {**GOOD, "gen_ai.system": "openai"}))
    assert "profile" not in rules(
        SpanView("chat m", "CLIENT", {**GOOD, "gen_ai.system": "openai"}), profiles=("latest", "legacy")
    )
    content = {**GOOD, "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"x"}]}]'}
    assert "content-off" in rules(SpanView("chat m", "CLIENT", content))
    assert rules(SpanView("chat m", "CLIENT", content), content=True) == set()
    bad_json = {**GOOD, "gen_ai.input.messages": '[{"role":"user","parts":[{"ty'}
    assert "content-json" in rules(SpanView("chat m", "CLIENT", bad_json), content=True)
    assert "operation" in rules(SpanView("x", "CLIENT", {**GOOD, "gen_ai.operation.name": "dance"}))


def test_metric_rules_fail():
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    meter.create_histogram("gen_ai.client.inference.duration", unit="ms").record(
        1, {"gen_ai.operation.name": "chat"}
    )
    meter.create_histogram("gen_ai.client.token.usage", unit="{token}").record(1, {})
    found = {v.rule for v in check_metrics(reader.get_metrics_data())}
    assert {"unit", "required", "buckets", "profile"} <= found
