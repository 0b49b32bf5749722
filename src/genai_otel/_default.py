"""What :func:`genai_otel.instrument` gave the default handler, held until that handler is built (issue 17).

The default handler (behind the agent/tool API) imports the telemetry core, which an app with nothing to
instrument may never use: ``instrument()`` leaves its providers and settings here instead, and
:mod:`genai_otel.telemetry.handler` builds the handler from them on first use or when the first
instrumentor loads. A foundation module, so that ``instrument()`` importing it imports nothing more.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from genai_otel.config import Settings


class HandlerArguments(NamedTuple):
    """The providers and settings ``instrument()`` was given, for the default handler."""

    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any
    settings: Settings


#: Guards the pending arguments together with the handler built from them, so that threads using the
#: default handler for the first time at once build one handler, from the arguments. Reentrant: a
#: provider is user code, and may itself come back here while the handler is being built.
lock = threading.RLock()
_pending: HandlerArguments | None = None


def defer(arguments: HandlerArguments | None) -> None:
    """Have the next default handler built from ``arguments`` (``None``: on the global providers)."""
    global _pending
    with lock:
        _pending = arguments


def take() -> HandlerArguments | None:
    """The pending arguments, which are no longer pending."""
    global _pending
    with lock:
        arguments, _pending = _pending, None
        return arguments
