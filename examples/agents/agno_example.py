"""An Agno agent with one tool, traced by genai-otel: the model asks for the weather, the tool answers,
the model replies. Runs against the local model server (no API key needed).

    python examples/agents/agno_example.py
"""

from __future__ import annotations

import os

from _otel import MODEL, QUESTION, Example, get_weather

os.environ.setdefault("AGNO_TELEMETRY", "false")  # Agno reports runs to its own API unless told not to

with Example("agno example") as example:
    from agno.agent import Agent
    from agno.models.openai import OpenAIChat

    agent = Agent(
        model=OpenAIChat(id=MODEL, base_url=example.openai_base_url),
        tools=[get_weather],
        name="weather_agent",
        instructions="Answer weather questions.",
    )
    example.answer = agent.run(QUESTION).content
