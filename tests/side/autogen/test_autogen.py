"""AutoGen AgentChat through the real framework, autogen-ext's OpenAI client, the real openai SDK and the
local model server: agent, team and Swarm trees, one span per model call, AutoGen's own GenAI spans taken
over, streaming, concurrency, errors, content capture, the loop guard and uninstrument."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("autogen_agentchat")

from autogen_agentchat.agents import AssistantAgent
from autogen_core.models import ModelFamily
from autogen_ext.models.openai import OpenAIChatCompletionClient

from genai_otel import semconv

from ...conftest import API_KEY
from ...trees import named, render, traces

AGENT_TREE = [
    "invoke_agent weather_agent",
    "  chat gpt-4o-mini-tool",
    "  execute_tool get_weather",
    "  chat gpt-4o-mini-tool",
]
_MODEL_INFO = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "family": ModelFamily.UNKNOWN,
    "structured_output": False,
}


async def get_weather(city: str) -> str:
    """The weather for a city."""
    return f"Sunny in {city}"


def _client(model_server, model: str = "gpt-4o-mini-tool") -> OpenAIChatCompletionClient:
    return OpenAIChatCompletionClient(
        model=model,
        base_url=model_server.openai_base_url,
        api_key=API_KEY,
        model_info=_MODEL_INFO,
        max_retries=0,
    )


def _agent(model_server, model: str = "gpt-4o-mini-tool", name: str = "weather_agent", **kwargs):
    kwargs.setdefault("tools", [get_weather])
    return AssistantAgent(
        name,
        model_client=_client(model_server, model),
        description="Answers weather questions",
        system_message="You report the weather.",
        reflect_on_tool_use=True,
        **kwargs,
    )


def _ours(spans):
    return [s for s in spans if s.instrumentation_scope.name == "genai_otel"]


def _genai_tree(spans):
    """The tree of our spans (AutoGen's runtime messaging spans skipped, their children kept)."""
    return render(spans, keep=lambda s: s.instrumentation_scope.name == "genai_otel")


def _by_id(spans):
    return {s.context.span_id: s for s in spans}


# -- trace shape -------------------------------------------------------------------------------------


def test_agent_run_is_one_agent_span_over_two_model_calls_and_the_tool(otel, model_server):
    result = asyncio.run(_agent(model_server).run(task="weather in Paris?"))

    assert "Echo" in result.messages[-1].to_text()
    spans = otel.spans()
    print(render(spans))
    assert len(traces(spans)) == 1
    assert render(spans) == AGENT_TREE
    agent = named(spans, "invoke_agent")[0]
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"
    assert agent.attributes[semconv.GEN_AI_AGENT_DESCRIPTION] == "Answers weather questions"
    assert agent.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert agent.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini-tool"
