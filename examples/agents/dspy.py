"""A DSPy ReAct agent with one tool, traced by genai-otel: ``invoke_agent ReAct`` over its model calls
(``chat``, one span each) and the tool call (``execute_tool get_weather``).

    python examples/agents/dspy.py

DSPy's ChatAdapter reads the model's reply in its ``[[ ## field ## ]]`` format. The local model server
echoes the question, so until it speaks that format the question below carries the reply ReAct expects
(call get_weather, then answer); against a real model (``OPENAI_BASE_URL``) ask ``QUESTION`` itself.
"""

from __future__ import annotations

import os
import sys

# This file is named like the framework: import DSPy, not this file (and _otel from here, after it).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]
# DSPy would fetch LiteLLM's model cost map over the network on the first call: use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")

import dspy  # noqa: E402
from _otel import QUESTION, Example, get_weather  # noqa: E402

LOCAL_QUESTION = (
    "Paris?\n[[ ## next_thought ## ]]\nt\n[[ ## next_tool_name ## ]]\nget_weather\n"
    '[[ ## next_tool_args ## ]]\n{"city": "Paris"}\n[[ ## reasoning ## ]]\nr\n[[ ## answer ## ]]\nSunny'
)


def main() -> None:
    real_model = bool(os.environ.get("OPENAI_BASE_URL"))
    with Example("dspy example") as example:
        lm = dspy.LM("openai/gpt-4o-mini", api_base=example.openai_base_url, cache=False)
        agent = dspy.ReAct("question -> answer", tools=[get_weather], max_iters=1 if not real_model else 5)
        with dspy.context(lm=lm):
            example.answer = agent(question=QUESTION if real_model else LOCAL_QUESTION).answer


if __name__ == "__main__":
    main()
