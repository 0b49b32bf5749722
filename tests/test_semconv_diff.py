"""`genai-otel semconv diff`: each kind of drift against small upstream-format fixtures written here, the
exception list, and zero drift of conventions/ against its own pinned model (when a checkout is given)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from genai_otel import _semconv_diff as sd
from genai_otel.cli import main

# Our own test data in upstream's model format: one attribute group, one span, two metrics.
REGISTRY = {
    "attributes": [
        {"key": "gen_ai.operation.name", "type": {"members": [{"id": "chat", "value": "chat"}]}},
        {"key": "gen_ai.request.model", "type": "string"},
        {"key": "gen_ai.usage.input_tokens", "type": "int"},
        {
            "key": "gen_ai.old.name",
            "type": "string",
            "deprecated": {"reason": "renamed", "renamed_to": "gen_ai.new.name"},
        },
    ]
}
SPANS = {
    "attribute_groups": [
        {"id": "common", "attributes": [{"ref": "gen_ai.operation.name", "requirement_level": "required"}]}
    ],
    "spans": [
        {
            "type": "gen_ai.client.inference",
            "kind": "client",
            "attributes": [
                {"ref_group": "common"},
                {
                    "ref": "gen_ai.request.model",
                    "requirement_level": {"conditionally_required": "If available."},
                },
                {"ref": "gen_ai.usage.input_tokens", "requirement_level": "recommended"},
            ],
        }
    ],
}
EVENTS = {
    "events": [
        {
            "name": "gen_ai.evaluation.result",
            "attributes": [{"ref": "gen_ai.evaluation.name", "requirement_level": "required"}],
        }
    ]
}
METRICS = {
    "metrics": [
        {
            "name": "gen_ai.client.inference.duration",
            "instrument": "histogram",
            "unit": "s",
            "attributes": [{"ref_group": "common"}],
        },
        {"name": "gen_ai.server.request.duration", "instrument": "histogram", "unit": "s", "attributes": []},
    ]
}
OURS = {
    "attributes.yaml": {
        "attributes": {
            "gen_ai.operation.name": {"type": "string", "source": "upstream"},
            "gen_ai.request.model": {"type": "string", "source": "upstream"},
            "gen_ai.usage.input_tokens": {"type": "int", "source": "upstream"},
            "genai_otel.usage.cost": {"type": "double", "source": "genai_otel"},
        }
    },
    "spans.yaml": {
        "spans": {
            "inference": {
                "upstream": ["gen_ai.client.inference"],
                "kinds": ["CLIENT"],
                "attributes": {
                    "gen_ai.operation.name": "required",
                    "gen_ai.request.model": "conditionally_required",
                    "gen_ai.usage.input_tokens": "recommended",
                },
            }
        }
    },
    "metrics.yaml": {
        "default_profile": "latest",
        "profiles": {
            "latest": {
                "metrics": [
                    {
                        "name": "gen_ai.client.inference.duration",
                        "instrument": "histogram",
                        "unit": "s",
                        "requires": ["gen_ai.operation.name"],
                    }
                ]
            }
        },
    },
    "events.yaml": {
        "events": {
            "gen_ai.evaluation.result": {"attributes": ["gen_ai.evaluation.name"], "content_attributes": []}
        }
    },
    "UPSTREAM.yaml": {
        "commit": "0" * 40,
        "namespaces": ["gen_ai."],
        "exceptions": [{"drift": "missing-metric gen_ai.server.*", "reason": "client library"}],
    },
}


def _write_upstream(root: Path, registry=REGISTRY, spans=SPANS, metrics=METRICS, events=EVENTS) -> Path:
    model = root / "model" / "gen-ai"
    model.mkdir(parents=True)
    documents = (
        ("registry.yaml", registry),
        ("spans.yaml", spans),
        ("metrics.yaml", metrics),
        ("events.yaml", events),
    )
    for name, doc in documents:
        (model / name).write_text(yaml.safe_dump(doc), encoding="utf-8")
    return root


def _ids(ours, tmp_path, **upstream) -> dict[str, sd.Drift]:
    return {d.id: d for d in sd.compare(ours, sd.load_upstream(_write_upstream(tmp_path, **upstream)))}


def test_identical_models_differ_only_by_the_excepted_server_metric(tmp_path):
    drifts = _ids(OURS, tmp_path)
    assert list(drifts) == ["missing-metric gen_ai.server.request.duration"]
    assert drifts["missing-metric gen_ai.server.request.duration"].excepted == "client library"


def test_each_kind_of_drift(tmp_path):
    ours = copy.deepcopy(OURS)
    attrs = ours["attributes.yaml"]["attributes"]
    attrs["gen_ai.usage.input_tokens"]["type"] = "double"  # retyped
    attrs["gen_ai.old.name"] = {"type": "string", "source": "upstream"}  # renamed upstream
    attrs["gen_ai.gone"] = {"type": "string", "source": "upstream"}  # removed upstream
    del attrs["gen_ai.request.model"]  # missing here
    shape = ours["spans.yaml"]["spans"]["inference"]
    shape["attributes"]["gen_ai.operation.name"] = "recommended"  # requirement level
    del shape["attributes"]["gen_ai.request.model"]  # span attribute missing
    shape["attributes"]["gen_ai.gone"] = "recommended"  # span attribute upstream lacks
    shape["kinds"] = ["INTERNAL"]  # span kind
    metric = ours["metrics.yaml"]["profiles"]["latest"]["metrics"][0]
    metric.update(instrument="counter", unit="ms", requires=["gen_ai.provider.name"])
    ours["metrics.yaml"]["profiles"]["latest"]["metrics"].append(
        {"name": "gen_ai.client.gone", "instrument": "counter", "unit": "1"}
    )
    ours["events.yaml"]["events"]["gen_ai.evaluation.result"]["attributes"] = []
    ours["events.yaml"]["events"]["gen_ai.gone"] = {"attributes": []}
    events = copy.deepcopy(EVENTS)
    events["events"].append({"name": "gen_ai.client.operation.exception", "attributes": []})
    drifts = _ids(ours, tmp_path, events=events)
    expected = {
        "retyped-attribute gen_ai.usage.input_tokens",
        "renamed-attribute gen_ai.old.name",
        "removed-attribute gen_ai.gone",
        "missing-attribute gen_ai.request.model",
        "requirement-level gen_ai.client.inference gen_ai.operation.name recommended",
        "span-attribute-missing gen_ai.client.inference gen_ai.request.model",
        "span-attribute-extra gen_ai.client.inference gen_ai.gone",
        "span-kind gen_ai.client.inference",
        "instrument gen_ai.client.inference.duration",
        "unit gen_ai.client.inference.duration",
        "metric-attribute-missing gen_ai.client.inference.duration gen_ai.operation.name",
        "metric-attribute-extra gen_ai.client.inference.duration gen_ai.provider.name",
        "removed-metric gen_ai.client.gone",
        "missing-metric gen_ai.server.request.duration",
        "event-attribute-missing gen_ai.evaluation.result gen_ai.evaluation.name",
        "removed-event gen_ai.gone",
        "missing-event gen_ai.client.operation.exception",
    }
    assert set(drifts) == expected
    assert "renamed upstream to gen_ai.new.name" in drifts["renamed-attribute gen_ai.old.name"].detail


def test_missing_upstream_span_and_our_own_namespace_is_ignored(tmp_path):
    spans = copy.deepcopy(SPANS)
    spans["spans"].append({"type": "gen_ai.plan.internal", "kind": "internal", "attributes": []})
    drifts = _ids(OURS, tmp_path, spans=spans)
    assert "missing-span gen_ai.plan.internal" in drifts
    assert not any("genai_otel." in d for d in drifts)


def test_cli_exit_code_follows_unexcepted_drift(tmp_path, capsys):
    conventions = tmp_path / "conventions"
    conventions.mkdir()
    for name, doc in OURS.items():
        (conventions / name).write_text(yaml.safe_dump(doc), encoding="utf-8")
    upstream = _write_upstream(tmp_path / "upstream")
    assert not [d for d in sd.diff(upstream, conventions) if not d.excepted]
    metrics = copy.deepcopy(METRICS)
    metrics["metrics"][0]["unit"] = "ms"
    drifted = _write_upstream(tmp_path / "drifted", metrics=metrics)
    assert [d.id for d in sd.diff(drifted, conventions) if not d.excepted] == [
        "unit gen_ai.client.inference.duration"
    ]
    assert main(["semconv", "diff", str(tmp_path / "nowhere")]) == 2


@pytest.mark.skipif(
    not os.environ.get("GENAI_OTEL_UPSTREAM_CHECKOUT"),
    reason="set GENAI_OTEL_UPSTREAM_CHECKOUT to an upstream checkout",
)
def test_conventions_have_no_drift_against_the_upstream_checkout(capsys):
    assert main(["semconv", "diff", os.environ["GENAI_OTEL_UPSTREAM_CHECKOUT"]]) == 0, capsys.readouterr().out
