"""An Agno agent with one tool, traced by genai-otel: the model asks for the weather, the tool answers,
the model replies. Runs against the local model server (no API key needed).

    python examples/agents/agno.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from _otel import MODEL, QUESTION, Example, get_weather

# This file is named like the package: without its folder on the path, `import agno` finds this file.
sys.path.remove(str(Path(__file__).resolve().parent))
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
