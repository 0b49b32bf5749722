"""Metric/attribute profiles (latest, legacy, both) and the inference details event."""

from __future__ import annotations

import json

import pytest

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.genai_settings(profiles=("legacy",))
def test_legacy_profile(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    openai_client.embeddings.create(model="emb", input="x")
    chat = otel.spans()[0].attributes
    assert (
        chat[sc.GEN_AI_SYSTEM] == "openai"
        and chat[sc.GEN_AI_USAGE_PROMPT_TOKENS] == chat[sc.GEN_AI_USAGE_INPUT_TOKENS]
    )
    metrics = otel.metrics()
    assert sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION not in metrics
    points = metrics[sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE].data.data_points
    assert {p.attributes[sc.GEN_AI_TOKEN_TYPE] for p in points} == {"input", "output"}
    assert sum(p.count for p in metrics[sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION].data.data_points) == 2


@pytest.mark.genai_settings(profiles=("latest", "legacy"))
def test_dual_emission_without_double_counting(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    openai_client.embeddings.create(model="emb", input="x")
    metrics = otel.metrics()
    assert metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION].data.data_points[0].count == 1
    # gen_ai.client.operation.duration is in both profiles: one point per operation, not two.
    assert sum(p.count for p in metrics[sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION].data.data_points) == 2
    assert sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE in metrics


@pytest.mark.genai_settings(content_capture=ContentCapture.EVENT_ONLY)
def test_event_only_capture(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = otel.only_span()
    assert sc.GEN_AI_INPUT_MESSAGES not in span.attributes
    (record,) = otel.logs()
    assert record.event_name == sc.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
    assert json.loads(record.attributes[sc.GEN_AI_INPUT_MESSAGES])[0]["role"] == "user"
    assert record.span_id == span.context.span_id


@pytest.mark.genai_settings(emit_event=True)
def test_event_without_content(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    (record,) = otel.logs()
    assert record.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert sc.GEN_AI_INPUT_MESSAGES not in record.attributes


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY, max_content_length=200)
def test_content_size_cap(otel, openai_client):
    openai_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "word " * 500}]
    )
    a = otel.only_span().attributes
    assert len(a[sc.GEN_AI_INPUT_MESSAGES]) <= 200
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES])
    assert sc.GEN_AI_INPUT_MESSAGES in a[sc.GENAI_OTEL_CONTENT_TRUNCATED]


def _exercise(client) -> None:
    """A plain chat, a streamed chat, an embeddings call and a failed chat against the local model server."""
    import openai

    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    for _chunk in stream:
        pass
    client.embeddings.create(model="emb", input="x")
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="error-500", messages=MESSAGES)


def _inference_metrics(profile: str) -> list[dict]:
    return [
        m
        for m in sc.METRIC_PROFILES[profile]["metrics"]
        if m["applies_to"] in ("inference", "all") or "inference" in m["applies_to"]
    ]


@pytest.mark.parametrize("profile", ["latest", "v0_1", "legacy"])
def test_each_profile_records_its_metrics(profile, request, openai_client):
    """Every inference metric of the profile is recorded with the instrument, unit and advised buckets
    conventions/metrics.yaml gives (the otel fixture then runs the conformance checker on all points)."""
    request.applymarker(pytest.mark.genai_settings(profiles=(profile,)))
    otel = request.getfixturevalue("otel")
    _exercise(openai_client)
    metrics = otel.metrics()
    for spec in _inference_metrics(profile):
        if spec["instrument"] == "counter" and not spec.get("record_failed") and spec["name"] not in metrics:
            continue  # older generations skip zero counts (the server reports no cache/reasoning tokens)
        metric = metrics[spec["name"]]
        assert metric.unit == spec["unit"], spec["name"]
        kind = type(metric.data).__name__
        assert kind == ("Sum" if spec["instrument"] == "counter" else "Histogram"), spec["name"]
        for point in metric.data.data_points:
            assert point.attributes[sc.GEN_AI_OPERATION_NAME] in ("chat", "embeddings")
            if kind == "Histogram":
                assert list(point.explicit_bounds) == sc.METRIC_BUCKETS[spec["buckets"]]
    others = {m["name"] for p in sc.METRIC_PROFILES.values() for m in p["metrics"]} - {
        m["name"] for m in sc.METRIC_PROFILES[profile]["metrics"]
    }
    assert not others & set(metrics), f"{profile} emitted another profile's metrics"


@pytest.mark.genai_settings(profiles=("latest",))
def test_latest_usage_counters_carry_modality_and_count_failed_calls(otel, openai_client):
    _exercise(openai_client)
    metrics = otel.metrics()
    points = metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS].data.data_points
    assert points and all(p.attributes[sc.GEN_AI_TOKEN_MODALITY] == "unknown" for p in points)
    # Embeddings have no usage counter point at the pinned upstream commit (inference operations only).
    assert {p.attributes[sc.GEN_AI_OPERATION_NAME] for p in points} == {"chat"}
    failed = [p for p in points if p.attributes.get(sc.ERROR_TYPE)]
    assert len(failed) == 1 and failed[0].value == 0
    ok = [p for p in points if not p.attributes.get(sc.ERROR_TYPE)]
    assert sum(p.value for p in ok) > 0
    # The per-operation histogram counts all three chats, the failed one with error.type and 0 tokens.
    histogram = metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS].data.data_points
    assert sum(p.count for p in histogram) == 3
    assert [p.sum for p in histogram if p.attributes.get(sc.ERROR_TYPE)] == [0]
    # The cache and reasoning counters get the failed call's 0 too (the model server reports no cache
    # tokens for the others: a counter skips adding 0 on calls that did report usage).
    cache = metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS].data.data_points
    assert [
        (p.value, p.attributes[sc.GEN_AI_TOKEN_MODALITY], p.attributes[sc.ERROR_TYPE]) for p in cache
    ] == [(0, "unknown", "InternalServerError")]


@pytest.mark.genai_settings(profiles=("latest", "v0_1", "legacy"))
def test_all_three_profiles_at_once(otel, openai_client):
    _exercise(openai_client)
    metrics = otel.metrics()
    for name in (
        sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION,
        sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
        sc.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        sc.METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
    ):
        assert name in metrics, name
    # Shared names are created once: three chats are three inference.duration points, not six.
    assert sum(p.count for p in metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION].data.data_points) == 3


@pytest.mark.parametrize("profile", ["latest", "v0_1", "legacy"])
def test_the_grafana_dashboard_inputs_are_there_whatever_the_profile(profile, request, openai_client):
    """The dashboard (collector-config/grafana) reads metrics the collector derives from span attributes
    (spanmetrics dimensions, signaltometrics sums), not the SDK metrics a profile changes: every profile's
    chat span carries the attributes those derivations read (a profile only adds older aliases)."""
    import re
    from pathlib import Path

    import yaml

    config = yaml.safe_load(
        (
            Path(__file__).resolve().parents[1] / "collector-config" / "processor-to-tempo-and-metrics.yaml"
        ).read_text()
    )
    connectors = config["connectors"]
    read = {d["name"] for d in connectors["spanmetrics"]["dimensions"]}
    for metric in connectors["signaltometrics"]["spans"]:
        read |= {a["key"] for a in metric["attributes"]}
        read |= set(re.findall(r'attributes\["([^"]+)"\]', " ".join(metric["conditions"])))
    # Set elsewhere: agent spans, failures, the processor's cost rule.
    per_call = read - {sc.GEN_AI_AGENT_NAME, sc.ERROR_TYPE, sc.GENAI_OTEL_USAGE_COST}
    request.applymarker(pytest.mark.genai_settings(profiles=(profile,)))
    otel = request.getfixturevalue("otel")
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert per_call <= set(otel.only_span().attributes), per_call - set(otel.only_span().attributes)


def test_usage_counters_follow_the_providers_modality_breakdown():
    """Per-modality counts on the record (gen_ai.usage.{text,image,audio}.*) become one counter point per
    modality; what they do not cover is `unknown`; the histograms keep the total."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from genai_otel.telemetry.invocation import InferenceInvocation
    from genai_otel.telemetry.metrics import MetricRecorder

    reader = InMemoryMetricReader()
    recorder = MetricRecorder(MeterProvider(metric_readers=[reader]).get_meter("t"), ("latest",))
    inv = InferenceInvocation(operation="chat", provider="google", input_tokens=10)
    inv.output_tokens = 7
    inv.response_attributes.update(
        {
            sc.GEN_AI_USAGE_TEXT_INPUT_TOKENS: 6,
            sc.GEN_AI_USAGE_IMAGE_INPUT_TOKENS: 3,
            sc.GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS: 7,
        }
    )
    point = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "google"}
    recorder.record(inv, point, inv.start_ns + 1_000_000)
    metrics = {
        m.name: m
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }

    def by_modality(name: str) -> dict[str, int]:
        return {p.attributes[sc.GEN_AI_TOKEN_MODALITY]: p.value for p in metrics[name].data.data_points}

    assert by_modality(sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS) == {
        "text": 6,
        "image": 3,
        "unknown": 1,
    }
    assert by_modality(sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS) == {"audio": 7}
    (histogram,) = metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS].data.data_points
    assert histogram.sum == 10 and sc.GEN_AI_TOKEN_MODALITY not in histogram.attributes
    assert sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS not in metrics  # none reported
