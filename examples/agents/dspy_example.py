"""A DSPy ReAct agent with one tool, traced by genai-otel: ``invoke_agent ReAct`` over its model calls
(``chat``, one span each) and the tool call (``execute_tool get_weather``).

    python examples/agents/dspy_example.py
"""

from __future__ import annotations

import os

# DSPy would fetch LiteLLM's model cost map over the network on the first call: use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")

import dspy
from _otel import QUESTION, Example, get_weather


def main() -> None:
    with Example("dspy example") as example:
        # ReAct chooses its tool in text fields, not through the API's tool calls: a plain chat model.
        lm = dspy.LM("openai/gpt-4o-mini", api_base=example.openai_base_url, cache=False)
        agent = dspy.ReAct("question -> answer", tools=[get_weather], max_iters=5)
        with dspy.context(lm=lm):
            example.answer = agent(question=QUESTION).answer


if __name__ == "__main__":
    main()
