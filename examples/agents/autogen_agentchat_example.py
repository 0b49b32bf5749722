"""An AutoGen AgentChat assistant with one tool, traced by genai-otel: the agent run, its two model calls
(each one span, merged with the openai SDK call) and the tool call, printed as a tree.

    python examples/agents/autogen_agentchat_example.py   # needs autogen-agentchat and autogen-ext[openai]
"""

from __future__ import annotations

import asyncio

from _otel import MODEL, QUESTION, Example, get_weather


async def ask(base_url: str) -> str:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_core.models import ModelFamily
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    # model_info: AutoGen needs the capabilities of a model name it does not know.
    model_client = OpenAIChatCompletionClient(
        model=MODEL,
        base_url=base_url,
        model_info={
            "vision": False,
            "function_calling": True,
            "json_output": False,
            "family": ModelFamily.UNKNOWN,
            "structured_output": False,
        },
    )
    agent = AssistantAgent(
        "weather_agent",
        model_client=model_client,
        tools=[get_weather],
        description="Answers weather questions",
        system_message="You report the weather.",
        reflect_on_tool_use=True,
    )
    result = await agent.run(task=QUESTION)
    await model_client.close()
    return result.messages[-1].to_text()


if __name__ == "__main__":
    with Example("autogen-agentchat example") as example:
        example.answer = asyncio.run(ask(example.openai_base_url))
