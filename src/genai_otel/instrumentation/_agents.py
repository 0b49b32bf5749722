"""What the agent-framework integrations share beyond runs and messages: running the wrapped call in its
span's context, and the OpenAI-style request settings their model configs and clients carry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context

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


@contextmanager
def current(context: otel_context.Context, fail: Callable[[BaseException], None]) -> Iterator[None]:
    """Run the block with ``context`` current (detached again in this frame, whatever happens); an error
    in it ``fail``s the run and goes on to the caller unchanged."""
    token = otel_context.attach(context)
    try:
        yield
    except BaseException as error:
        fail(error)
        raise
    finally:
        otel_context.detach(token)
