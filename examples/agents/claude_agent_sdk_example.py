"""Claude Agent SDK: a Claude Code agent with one in-process tool, traced by genai-otel.

The SDK runs the Claude Code CLI, pointed here at the local model server (or at ``ANTHROPIC_BASE_URL``):
the trace shows ``invoke_agent claude-code`` with its model calls and the ``get_weather`` tool call.

    python examples/agents/claude_agent_sdk_example.py
"""

from __future__ import annotations

import asyncio
import os

from _otel import QUESTION, Example, get_weather

#: A Claude model name the local model server answers by calling the declared tool, then in text.
CLAUDE_MODEL = "claude-sonnet-tool"


async def ask(base_url: str) -> str:
    from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, create_sdk_mcp_server, query, tool

    @tool("get_weather", "Current weather for a city", {"city": str})
    async def weather(args: dict) -> dict:
        return {"content": [{"type": "text", "text": get_weather(args["city"])}]}

    options = ClaudeAgentOptions(
        model=os.environ.get("CLAUDE_MODEL", CLAUDE_MODEL),
        system_prompt="You answer weather questions with the get_weather tool.",
        mcp_servers={"weather": create_sdk_mcp_server("weather", tools=[weather])},
        tools=[],  # no built-in tools: only ours
        allowed_tools=["mcp__weather__get_weather"],
        env={
            "ANTHROPIC_BASE_URL": os.environ.get("ANTHROPIC_BASE_URL", base_url),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "ENABLE_TOOL_SEARCH": "false",
        },
    )
    answer = ""
    async for message in query(prompt=QUESTION, options=options):
        if isinstance(message, ResultMessage):
            answer = message.result or ""
    return answer


if __name__ == "__main__":
    with Example("claude-agent-sdk example") as example:
        example.answer = asyncio.run(ask(example.url))
