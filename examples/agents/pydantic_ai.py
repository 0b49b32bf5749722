"""A Pydantic AI agent with one tool, traced by genai-otel: the model asks for the weather, the tool
answers, the model replies. Runs against the local model server (no API key needed).

    python examples/agents/pydantic_ai.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from _otel import MODEL, QUESTION, Example, get_weather

# This file is named like the package: without its folder on the path, `import pydantic_ai` finds the package.
sys.path.remove(str(Path(__file__).resolve().parent))

with Example("pydantic-ai example") as example:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=example.openai_base_url))
    agent = Agent(model, name="weather_agent", instructions="Answer weather questions.", tools=[get_weather])
    example.answer = agent.run_sync(QUESTION).output
