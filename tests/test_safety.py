"""Never break the user's app: our bugs are contained, uninstrument restores, no secrets recorded."""

from __future__ import annotations

import logging

import anthropic
import nats.aio.client
import openai
import pytest
import redis.commands.core
from opentelemetry import propagate, trace

import genai_otel
from genai_otel.config import ContentCapture
from genai_otel.instrumentation import INSTRUMENTORS
from genai_otel.instrumentation import _openai_compatible as _mapping

from .conftest import API_KEY
from .venvs import OWN_VENV_INSTRUMENTORS

MESSAGES = [{"role": "user", "content": "hi"}]


def _originals() -> dict[str, object]:
    from anthropic.resources.messages import AsyncMessages, Messages
    from openai.resources.chat.completions import AsyncCompletions, Completions
    from openai.resources.embeddings import Embeddings
    from openai.resources.responses import Responses

    return {
        "chat": Completions.__dict__["create"],
        "achat": AsyncCompletions.__dict__["create"],
        "parse": Completions.__dict__["parse"],
        "responses": Responses.__dict__["create"],
        "embeddings": Embeddings.__dict__["create"],
        "messages": Messages.__dict__["create"],
        "stream": Messages.__dict__["stream"],
        "amessages": AsyncMessages.__dict__["create"],
        "tracer": anthropic._base_client.BaseClient.__dict__["_tracer"],
        "xadd": redis.commands.core.StreamCommands.__dict__["xadd"],
        "xread": redis.commands.core.StreamCommands.__dict__["xread"],
        "nats_publish": nats.aio.client.Client.__dict__["publish"],
        "nats_subscribe": nats.aio.client.Client.__dict__["subscribe"],
        "propagator": propagate.get_global_textmap(),
    }


# The test extra installs every instrumented library but those tested in venvs of their own (LiteLLM and
# the agent frameworks whose pins conflict, tests/venvs.py): all of them must instrument.
ALL = [name for name in INSTRUMENTORS if name not in OWN_VENV_INSTRUMENTORS]


def test_uninstrument_restores_the_exact_functions():
    before = _originals()
    assert genai_otel.instrument() == ALL
    during = _originals()
    assert all(during[key] is not before[key] for key in before)
    genai_otel.uninstrument()
    assert _originals() == before
    assert genai_otel.instrumented() == []


def test_instrument_twice_is_harmless(otel, openai_client):
    assert genai_otel.instrument() == ALL
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(otel.spans()) == 1


def test_internal_error_is_logged_once_and_the_call_succeeds(otel, openai_client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("bug in genai-otel")

    monkeypatch.setattr(_mapping, "_chat_usage", broken)
    with caplog.at_level(logging.WARNING, logger="genai_otel"):
        for _ in range(3):
            result = openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert result.choices[0].message.content == "Echo: hi"
    reports = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert len(reports) == 1
    assert len(otel.spans()) == 3  # spans still end


def test_internal_error_in_stream_accumulator_never_reaches_the_app(otel, openai_client, monkeypatch):
    monkeypatch.setattr(_mapping.ChatStreamAccumulator, "feed", lambda self, chunk: 1 / 0)
    chunks = list(openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert chunks and len(otel.spans()) == 1


def test_user_exception_inside_stream_passes_through_unchanged(otel, openai_client):
    class Boom(Exception):
        pass

    stream = openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    with pytest.raises(Boom), stream:
        for _ in stream:
            raise Boom
    assert otel.only_span().attributes["error.type"] == "Boom"


def test_configured_tracer_provider_is_used_not_replaced(otel, openai_client):
    provider = trace.get_tracer_provider()
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert trace.get_tracer_provider() is provider
    assert otel.only_span().instrumentation_scope.name == "genai_otel"


def test_spans_nest_under_the_current_span(otel, openai_client):
    with trace.get_tracer("app").start_as_current_span("request") as parent:
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    child = next(s for s in otel.spans() if s.name == "chat gpt-4o")
    assert child.parent.span_id == parent.get_span_context().span_id


def test_suppressed_instrumentation_records_nothing(otel, openai_client):
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert otel.spans() == []


def test_instrumentation_suppressed_by_the_plain_key_records_nothing(otel, openai_client):
    # Some libraries still suppress with the plain string key only; both keys are read off one context.
    from opentelemetry import context

    token = context.attach(context.set_value("suppress_instrumentation", True))
    try:
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        context.detach(token)
    assert otel.spans() == []
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(otel.spans()) == 1


def test_server_attributes_follow_a_changed_base_url(otel, openai_client, model_server):
    # server.address/port are cached per base-URL object: a client pointed elsewhere is seen at once.
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    port = int(model_server.url.rsplit(":", 1)[1])
    openai_client.base_url = f"http://localhost:{port}/v1"
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    first, second = otel.spans()
    assert first.attributes["server.address"] != "localhost"
    assert (second.attributes["server.address"], second.attributes["server.port"]) == ("localhost", port)


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_AND_EVENT, emit_event=True)
def test_no_api_key_or_auth_header_in_any_telemetry(otel, openai_client, anthropic_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with pytest.raises(openai.AuthenticationError):
        openai_client.chat.completions.create(model="error-401", messages=MESSAGES)
    anthropic_client.messages.create(model="claude-x", max_tokens=8, messages=MESSAGES)
    dump = repr(
        [(s.name, dict(s.attributes), [(e.name, dict(e.attributes)) for e in s.events]) for s in otel.spans()]
    ) + repr([dict(r.attributes or {}) for r in otel.logs()])
    dump += repr(otel.metrics())
    assert API_KEY not in dump and "Bearer" not in dump and "x-api-key" not in dump.lower()
