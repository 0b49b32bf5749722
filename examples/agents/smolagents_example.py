"""A smolagents ToolCallingAgent with one tool, traced by genai-otel: the model asks for the weather, the
tool answers, the model gives the final answer. Runs against the local model server (no API key needed).

    python examples/agents/smolagents_example.py
"""

from __future__ import annotations

from _otel import MODEL, QUESTION, Example
from _otel import get_weather as weather_in

with Example("smolagents example") as example:
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city to look up.
        """
        return weather_in(city)

    model = OpenAIServerModel(MODEL, api_base=example.openai_base_url)
    agent = ToolCallingAgent(
        tools=[get_weather], model=model, name="weather_agent", max_steps=3, verbosity_level=-1
    )
    example.answer = agent.run(QUESTION)
