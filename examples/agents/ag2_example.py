"""An AG2 agent with one tool, traced by genai-otel: the agent turn, its two model calls (each one span,
merged with the openai SDK call) and the tool call, printed as a tree.

    python examples/agents/ag2_example.py   # needs ag2 (1.x) and openai
"""

from __future__ import annotations

import asyncio

from _otel import MODEL, QUESTION, Example, get_weather


async def ask(base_url: str) -> str:
    from ag2 import Agent
    from ag2.config.openai import OpenAIConfig

    agent = Agent(
        "weather_agent",
        "You report the weather.",
        config=OpenAIConfig(model=MODEL, base_url=base_url),
        tools=[get_weather],
    )
    reply = await agent.ask(QUESTION)
    return reply.body or ""


if __name__ == "__main__":
    with Example("ag2 example") as example:
        example.answer = asyncio.run(ask(example.openai_base_url))
