"""genai-otel: OpenTelemetry for GenAI systems.

    import genai_otel
    genai_otel.instrument()      # patches every supported library that is installed
    ...
    genai_otel.uninstrument()    # restores the original functions

Under ``opentelemetry-instrument`` the same instrumentors load through their
``opentelemetry_instrumentor`` entry points; nothing needs to change in the app.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import TYPE_CHECKING, Any

from genai_otel._conflict import check_no_foreign_package

check_no_foreign_package()  # before anything else: a merged foreign package fails obscurely further down

from genai_otel.version import __version__  # noqa: E402

if TYPE_CHECKING:
    from genai_otel import messaging, propagation
    from genai_otel._default import HandlerArguments
    from genai_otel.agents import AgentLoopError, agent, current_agent_path, tool
    from genai_otel.config import Settings

_logger = logging.getLogger(__name__)
_active: dict[str, Any] = {}
_policy_installed = False
_HANDLER_MODULE = "genai_otel.telemetry.handler"

#: Public names imported on first use, so that ``import genai_otel`` stays cheap (issue 17): the agent/tool
#: API and the messaging helpers pull in the telemetry core, which an app that only calls instrument()
#: with nothing to instrument never needs.
_LAZY_ATTRIBUTES = {
    "AgentLoopError": "genai_otel.agents",
    "Settings": "genai_otel.config",
    "agent": "genai_otel.agents",
    "current_agent_path": "genai_otel.agents",
    "messaging": "genai_otel.messaging",
    "propagation": "genai_otel.propagation",
    "tool": "genai_otel.agents",
}

__all__ = [
    "AgentLoopError",
    "Settings",
    "__version__",
    "agent",
    "current_agent_path",
    "instrument",
    "instrumented",
    "messaging",
    "propagation",
    "tool",
    "uninstrument",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY_ATTRIBUTES.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_ATTRIBUTES))


def _load(path: str) -> type:
    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)


def instrument(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    settings: Settings | None = None,
    only: list[str] | None = None,
) -> list[str]:
    """Instrument every supported library that is installed; return the names instrumented.

    Providers default to the globally registered ones (never replaced). The global propagator is
    wrapped so trace context and agent baggage cross services under the baggage policy
    (:mod:`genai_otel.propagation`); ``genai_otel.agent``/``genai_otel.tool`` use these providers.
    ``only`` restricts the libraries (``["openai"]``); ``GENAI_OTEL_DISABLED_INSTRUMENTATIONS``
    excludes some. Libraries that are not installed are skipped without importing anything heavy.
    """
    from genai_otel import propagation
    from genai_otel._default import HandlerArguments
    from genai_otel.config import Settings
    from genai_otel.instrumentation import INSTRUMENTORS

    global _policy_installed
    settings = settings or Settings.from_env()
    propagation.install(settings)  # reference-counted: one per instrument() until uninstrument()
    if _policy_installed:
        propagation.uninstall()  # a repeated instrument(): the new settings, not a second reference
    _policy_installed = True
    _replace_default_handler(HandlerArguments(tracer_provider, meter_provider, logger_provider, settings))
    done = []
    for name, path in INSTRUMENTORS.items():
        if (only is not None and name not in only) or name in settings.disabled_instrumentations:
            continue
        if name in _active:
            done.append(name)
            continue
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except (ImportError, ValueError):  # a broken or shadowed installation counts as absent
            continue
        try:
            instrumentor = _load(path)()
            if instrumentor.is_instrumented_by_opentelemetry:
                done.append(name)
                continue
            instrumentor.instrument(
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
                logger_provider=logger_provider,
                settings=settings,
            )
        except Exception:
            _logger.warning("genai-otel could not instrument %s", name, exc_info=True)
            continue
        if instrumentor.is_instrumented_by_opentelemetry:
            _active[name] = instrumentor
            done.append(name)
    return done


def uninstrument() -> None:
    """Undo :func:`instrument`: every patched function is restored exactly, the propagator too."""
    from genai_otel import propagation

    global _policy_installed
    if _policy_installed:
        propagation.uninstall()
        _policy_installed = False
    _replace_default_handler(None)
    while _active:
        _name, instrumentor = _active.popitem()
        try:
            instrumentor.uninstrument()
        except Exception:
            _logger.warning("genai-otel could not uninstrument %s", _name, exc_info=True)


def _replace_default_handler(arguments: HandlerArguments | None) -> None:
    """Forget the default handler; the next one is built from ``arguments`` (if given) when first needed.

    Built on first use rather than here: the handler imports the telemetry core, which an app with nothing
    to instrument may never need (issue 17).
    """
    from genai_otel import _default

    with _default.lock:
        # Not imported (or not yet defining it): no handler was ever set, nothing to forget -- and
        # importing the module here would cost what deferring the handler saves.
        set_default_handler = getattr(sys.modules.get(_HANDLER_MODULE), "set_default_handler", None)
        if set_default_handler is not None:
            set_default_handler(None)
        _default.defer(arguments)


def instrumented() -> list[str]:
    """Names of the libraries :func:`instrument` currently instruments."""
    return sorted(_active)
