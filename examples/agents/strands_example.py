"""A Strands agent with one tool, traced by genai-otel: the model asks for the weather, the tool answers,
the model replies. Runs against the local model server (no API key needed).

    python examples/agents/strands_example.py
"""

from __future__ import annotations

import os

from _otel import MODEL, QUESTION, Example, get_weather

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
