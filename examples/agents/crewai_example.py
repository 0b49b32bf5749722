"""A CrewAI crew of one agent with one tool, traced by genai-otel: ``invoke_workflow`` (the sequential
crew) over ``invoke_agent`` (the agent's task) over its model calls (``chat``, one span each: CrewAI's and
the openai SDK's merged) and the tool call (``execute_tool get_weather``).

    python examples/agents/crewai_example.py
"""

from __future__ import annotations

import os

# CrewAI's anonymous telemetry and its tracing service stay off (OTEL_SDK_DISABLED would silence ours too).
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from _otel import MODEL, QUESTION, Example, get_weather
from crewai import LLM, Agent, Crew, Process, Task
from crewai.tools import tool


def main() -> None:
    with Example("crewai example") as example:
        reporter = Agent(
            role="Weather reporter",
            goal="Report the weather",
            backstory="You know the weather everywhere.",
            tools=[tool("get_weather")(get_weather)],
            llm=LLM(model=f"openai/{MODEL}", base_url=example.openai_base_url),
            max_iter=3,
        )
        task = Task(description=QUESTION, expected_output="The weather", agent=reporter)
        crew = Crew(agents=[reporter], tasks=[task], process=Process.sequential, name="weather crew")
        example.answer = crew.kickoff().raw


if __name__ == "__main__":
    main()
