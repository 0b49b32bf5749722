"""conventions/ is the single source: the generated module must be current and consistent."""

from __future__ import annotations

from genai_otel import _semconv_gen, semconv


def test_generated_module_is_current():
    assert not _semconv_gen.is_stale(), "run `genai-otel semconv generate` after editing conventions/"


def test_own_attributes_use_the_project_prefix_and_never_gen_ai():
    for name, spec in semconv.ATTRIBUTES.items():
        if spec["source"] == "genai_otel":
            assert name.startswith(semconv.PROJECT_PREFIX)
        assert not name.startswith(semconv.PROJECT_PREFIX) or spec["source"] == "genai_otel"


def test_every_span_and_metric_attribute_is_registered():
    for shape in semconv.SPAN_SHAPES.values():
        assert set(shape["attributes"]) <= set(semconv.ATTRIBUTES)
    assert set(semconv.METRIC_POINT_ATTRIBUTES) <= set(semconv.ATTRIBUTES)
    for profile in semconv.METRIC_PROFILES.values():
        for new, old in profile["span_aliases"].items():
            assert new in semconv.ATTRIBUTES and old in semconv.ATTRIBUTES
        for metric in profile["metrics"]:
            assert metric["instrument"] in ("histogram", "counter")
            assert metric["instrument"] == "counter" or metric["buckets"] in semconv.METRIC_BUCKETS
