"""What the agent-framework integrations share beyond runs and messages: the OpenAI-style request settings
their model configs and clients carry."""

from __future__ import annotations

#: OpenAI-style request settings (a model config's fields, a client's create arguments) -> the request
#: fields of a chat record; ``max_completion_tokens`` is the newer name of ``max_tokens``.
OPENAI_REQUEST_SETTINGS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
}
