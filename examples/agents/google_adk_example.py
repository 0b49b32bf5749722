"""A Google ADK agent with one tool, traced by genai-otel: the model asks for the weather, the tool answers,
the model replies. The Gemini client talks to the local model server (no API key needed).

    python examples/agents/google_adk_example.py
"""

from __future__ import annotations

import asyncio
import os

from _otel import MODEL, QUESTION, Example, get_weather

with Example("google-adk example") as example:
    from google.adk.agents import LlmAgent
    from google.adk.models.google_llm import Gemini
    from google.adk.runners import InMemoryRunner
    from google.genai import types

    os.environ.setdefault("GOOGLE_API_KEY", "local-example")
    agent = LlmAgent(
        name="weather_agent",
        model=Gemini(model=MODEL, base_url=example.url),
        instruction="Answer weather questions.",
        tools=[get_weather],
    )
    runner = InMemoryRunner(agent=agent, app_name="weather")

    async def ask() -> str:
        session = await runner.session_service.create_session(app_name="weather", user_id="example")
        message = types.Content(role="user", parts=[types.Part(text=QUESTION)])
        answer = ""
        async for event in runner.run_async(user_id="example", session_id=session.id, new_message=message):
            if event.is_final_response() and event.content and event.content.parts:
                answer = event.content.parts[0].text or ""
        return answer

    example.answer = asyncio.run(ask())
