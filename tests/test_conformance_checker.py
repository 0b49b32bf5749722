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


def _metrics(record):
    reader = InMemoryMetricReader()
    record(MeterProvider(metric_readers=[reader]).get_meter("t"))
    return reader.get_metrics_data()


def test_latest_usage_counters_need_a_modality_and_v0_1_ones_do_not():
    point = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
    data = _metrics(
        lambda m: m.create_counter("gen_ai.client.inference.usage.input_tokens", unit="{token}").add(3, point)
    )
    latest = [v for v in check_metrics(data, profiles=("latest",)) if v.rule == "required"]
    assert any("gen_ai.token.modality" in v.detail for v in latest)
    assert check_metrics(data, profiles=("v0_1",)) == []
    bad = _metrics(
        lambda m: m.create_counter("gen_ai.client.inference.usage.input_tokens", unit="{token}").add(
            3, {**point, "gen_ai.token.modality": "smell"}
        )
    )
    assert "required" in {v.rule for v in check_metrics(bad, profiles=("latest",))}


def test_metric_specific_point_attributes():
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    data = _metrics(lambda m: m.create_histogram("gen_ai.execute_tool.duration", unit="s").record(0.1, tool))
    assert {v.rule for v in check_metrics(data)} == {"buckets"}  # tool name allowed on this metric only
    data = _metrics(
        lambda m: m.create_histogram("gen_ai.invocation.duration", unit="s").record(
            0.1, {"gen_ai.operation.name": "invoke_agent", "gen_ai.tool.name": "search"}
        )
    )
    found = check_metrics(data)
    assert any(v.rule == "required" and "is_nested" in v.detail for v in found)
    assert any(v.rule == "point-attribute" and "gen_ai.tool.name" in v.detail for v in found)


def test_new_upstream_operations_have_shapes():
    fetch = {
        "gen_ai.operation.name": "fetch_response",
        "gen_ai.provider.name": "openai",
        "gen_ai.response.id": "r",
    }
    assert rules(SpanView("fetch_response", "CLIENT", fetch)) == set()
    no_id = {k: v for k, v in fetch.items() if k != "gen_ai.response.id"}
    assert "required" in rules(SpanView("fetch_response", "CLIENT", no_id))
    memory = {
        "gen_ai.operation.name": "search_memory",
        "gen_ai.memory.store.id": "s",
        "gen_ai.memory.record.count": 2,
    }
    assert rules(SpanView("search_memory", "CLIENT", memory)) == set()
    assert (
        rules(
            SpanView(
                "plan planner", "INTERNAL", {"gen_ai.operation.name": "plan", "gen_ai.agent.name": "planner"}
            )
        )
        == set()
    )
    turn = {"gen_ai.operation.name": "handle_conversation_turn", "gen_ai.agent.name": "triage"}
    assert rules(SpanView("handle_conversation_turn triage", "INTERNAL", turn)) == set()
