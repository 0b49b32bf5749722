"""Spans, metrics and events carry the schema URL of the conventions they follow (``semconv.SCHEMA_URL``,
from conventions/UPSTREAM.yaml), so a backend or collector can tell which generation of names it reads."""

from __future__ import annotations

import pytest

from genai_otel import semconv as sc

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.mark.genai_settings(emit_event=True)
def test_span_metric_and_event_scopes_carry_the_schema_url(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    (span,) = otel.genai_spans()
    assert span.instrumentation_scope.schema_url == sc.SCHEMA_URL

    scopes = [
        sm
        for rm in otel.metric_reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        if sm.scope.name == "genai_otel"
    ]
    assert scopes and all(sm.scope.schema_url == sc.SCHEMA_URL for sm in scopes)

    (log,) = otel.log_exporter.get_finished_logs()
    assert log.instrumentation_scope.schema_url == sc.SCHEMA_URL
