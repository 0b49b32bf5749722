"""An OpenAI Agents SDK agent with one tool, traced by genai-otel: one run is a conversation turn holding
the agent, its two model calls and the tool call between them.

    python examples/agents/openai_agents_example.py

Runs against the local model server (no API key needed) unless ``OPENAI_BASE_URL`` is set.
"""

from __future__ import annotations

import asyncio

from _otel import MODEL, QUESTION, Example, get_weather
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_trace_processors
from openai import AsyncOpenAI


async def ask(base_url: str) -> str:
    model = OpenAIChatCompletionsModel(MODEL, AsyncOpenAI(base_url=base_url))
    agent = Agent(
        name="weather assistant",
        instructions="Answer weather questions with the get_weather tool.",
        model=model,
        tools=[function_tool(get_weather)],
    )
    result = await Runner.run(agent, QUESTION)
    return result.final_output


with Example("openai-agents example") as example:
    # The SDK would also export its traces to OpenAI's backend: genai-otel's processor alone here.
    set_trace_processors([])
    example.answer = asyncio.run(ask(example.openai_base_url))
