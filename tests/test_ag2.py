"""AG2 1.x through the real framework, its OpenAI config (the real openai SDK) and the local model server:
turn / model call / tool trees, one span per model call, AG2's own telemetry middleware passed through,
streaming, concurrency, errors, content capture, the loop guard and uninstrument."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("ag2")

from ag2 import Agent
from ag2.config.openai import OpenAIConfig
from ag2.middleware.builtin.telemetry import TelemetryMiddleware, _TelemetryMiddlewareInstance
from opentelemetry import context as otel_context
from opentelemetry.trace import StatusCode

import genai_otel
from genai_otel import semconv
from genai_otel.config import ContentCapture
from genai_otel.instrumentation import INSTRUMENTORS
from genai_otel.instrumentation.ag2 import AG2Instrumentor

from .conftest import API_KEY
from .servers import REPO
from .trees import named, render, traces

AGENT_TREE = [
    "invoke_agent weather_agent",
    "  chat gpt-4o-mini-tool",
    "  execute_tool get_weather",
    "  chat gpt-4o-mini-tool",
]


def get_weather(city: str) -> str:
    """The weather for a city."""
    return f"Sunny in {city}"


@pytest.fixture
def ag2_otel(otel):
    """``otel`` with AG2 instrumented: ``genai_otel.instrument()`` does so when the registry names the
    ``ag2`` package (AG2 1.x has no ``autogen`` module); until then, instrumented here."""
    registered = any(
        importlib.util.find_spec(name.split(".")[0]) is not None
        for name, path in INSTRUMENTORS.items()
        if path.endswith(":AG2Instrumentor")
    )
    instrumentor = AG2Instrumentor()
    if not registered:
        instrumentor.instrument(settings=otel.settings)
    yield otel
    if not registered:
        instrumentor.uninstrument()


def _agent(model_server, model: str = "gpt-4o-mini-tool", name: str = "weather_agent", **kwargs) -> Agent:
    streaming = kwargs.pop("streaming", False)
    config = OpenAIConfig(
        model=model,
        base_url=model_server.openai_base_url,
        api_key=API_KEY,
        max_retries=0,
        streaming=streaming,
    )
    kwargs.setdefault("tools", [get_weather])
    return Agent(name, "You report the weather.", config=config, **kwargs)


# -- trace shape -------------------------------------------------------------------------------------


def test_ask_is_one_agent_span_over_two_model_calls_and_the_tool(ag2_otel, model_server):
    reply = asyncio.run(_agent(model_server).ask("weather in Paris?"))

    assert reply.body == "Echo: weather in Paris?"
    spans = ag2_otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans) == AGENT_TREE
    agent = named(spans, "invoke_agent")[0]
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"
    assert agent.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert agent.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini-tool"
    assert agent.attributes[semconv.GEN_AI_CONVERSATION_ID]
    tool = named(spans, "execute_tool")[0]
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID]
    assert tool.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"
