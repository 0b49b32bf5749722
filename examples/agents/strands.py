"""A Strands agent with one tool, traced by genai-otel: the model asks for the weather, the tool answers,
the model replies. Runs against the local model server (no API key needed).

    python examples/agents/strands.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from _otel import MODEL, QUESTION, Example, get_weather

# This file is named like the package: without its folder on the path, `import strands` finds this file.
sys.path.remove(str(Path(__file__).resolve().parent))

with Example("strands example") as example:
    from strands import Agent, tool
    from strands.models.openai import OpenAIModel

    model = OpenAIModel(
        client_args={"base_url": example.openai_base_url, "api_key": os.environ["OPENAI_API_KEY"]},
        model_id=MODEL,
    )
    agent = Agent(
        model=model,
        tools=[tool(get_weather)],
        name="weather_agent",
        system_prompt="Answer weather questions.",
        callback_handler=None,
    )
    example.answer = agent(QUESTION)
