"""A Pydantic AI agent with one tool, traced by genai-otel: the model asks for the weather, the tool
answers, the model replies. Runs against the local model server (no API key needed).

    python examples/agents/pydantic_ai_example.py
"""

from __future__ import annotations

from _otel import MODEL, QUESTION, Example, get_weather

with Example("pydantic-ai example") as example:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=example.openai_base_url))
    agent = Agent(model, name="weather_agent", instructions="Answer weather questions.", tools=[get_weather])
    example.answer = agent.run_sync(QUESTION).output
