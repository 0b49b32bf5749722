"""Shared machinery for genai-otel instrumentors: patch targets, the generic call wrapper.

An instrumentor declares *what* to patch and *how to translate* a call (a :class:`CallSpec`);
this module does the wrapping, error isolation and span lifecycle once for all of them.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from wrapt import wrap_function_wrapper

from genai_otel import propagation
from genai_otel.agents import count_step
from genai_otel.config import Settings
from genai_otel.telemetry.handler import TelemetryHandler, adopt_default_handler, release_default_handler
from genai_otel.telemetry.invocation import Invocation
from genai_otel.telemetry.safety import report_internal_error, safely
from genai_otel.telemetry.streams import InstrumentedAsyncStream, InstrumentedStream, StreamAccumulator

_logger = logging.getLogger(__name__)

#: True while genai-otel owns the current model call: SDKs that emit their own GenAI spans
#: (anthropic, mistralai) skip theirs so the user sees one span per call.
SDK_SPAN_SUPPRESSED: ContextVar[bool] = ContextVar("genai_otel_sdk_span_suppressed", default=False)


@contextlib.contextmanager
def sdk_span_suppressed() -> Iterator[None]:
    token = SDK_SPAN_SUPPRESSED.set(True)
    try:
        yield
    finally:
        SDK_SPAN_SUPPRESSED.reset(token)


Wrapper = Callable[[Callable[..., Any], Any, tuple, dict], Any]


@dataclass(frozen=True)
class CallSpec:
    """How one SDK method becomes an invocation record.

    ``build(handler, instance, args, kwargs)`` returns the record (or ``None`` to skip);
    ``on_result(inv, result)`` copies a non-streamed response into it; ``accumulator(inv)`` makes the
    folder for a streamed response; ``is_stream(kwargs, result)`` says which case applies;
    ``around`` optionally returns a context manager entered for the duration of the SDK call.
    """

    name: str
    build: Callable[[TelemetryHandler, Any, tuple, dict], Invocation | None]
    on_result: Callable[[Any, Any], None]
    accumulator: Callable[[Any], StreamAccumulator] | None = None
    is_stream: Callable[[dict, Any], bool] = lambda kwargs, result: kwargs.get("stream") is True
    around: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext


def begin_invocation(
    handler: TelemetryHandler, spec: CallSpec, instance: Any, args: tuple, kwargs: dict, activate: bool = True
) -> Invocation | None:
    """Build the record and open its span; ``None`` when suppressed or when our code failed."""
    if not is_instrumentation_enabled():
        return None
    inv = safely(spec.name, spec.build, handler, instance, args, kwargs)
    if inv is None:
        return None
    inv = safely(spec.name, handler.start, inv, activate=activate)
    if inv is not None:
        loop_error = safely("loop_guard", count_step, handler, inv)
        if loop_error is not None:  # the user asked the guard to stop the run: raise into their code
            safely(spec.name, handler.fail, inv, loop_error)
            raise loop_error
    return inv


def _complete(
    handler: TelemetryHandler, spec: CallSpec, inv: Invocation, kwargs: dict, result: Any, stream_proxy: type
) -> Any:
    """Finish the record for a returned result; returns what the caller should get back."""
    try:
        if spec.accumulator is not None and spec.is_stream(kwargs, result):
            handler.deactivate(inv)
            return stream_proxy(result, handler, inv, spec.accumulator(inv))
        spec.on_result(inv, result)
    except Exception:
        report_internal_error(spec.name)
    safely(spec.name, handler.stop, inv)
    return result


def sync_wrapper(handler: TelemetryHandler, spec: CallSpec) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        inv = begin_invocation(handler, spec, instance, args, kwargs)
        if inv is None:
            return wrapped(*args, **kwargs)
        try:
            with spec.around():
                result = wrapped(*args, **kwargs)
        except BaseException as error:
            safely(spec.name, handler.fail, inv, error)
            raise
        return _complete(handler, spec, inv, kwargs, result, InstrumentedStream)

    return wrapper


def async_wrapper(handler: TelemetryHandler, spec: CallSpec) -> Wrapper:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        inv = begin_invocation(handler, spec, instance, args, kwargs)
        if inv is None:
            return await wrapped(*args, **kwargs)
        try:
            with spec.around():
                result = await wrapped(*args, **kwargs)
        except BaseException as error:
            safely(spec.name, handler.fail, inv, error)
            raise
        return _complete(handler, spec, inv, kwargs, result, InstrumentedAsyncStream)

    return wrapper


def async_generator_wrapper(handler: TelemetryHandler, spec: CallSpec) -> Wrapper:
    """For SDK methods that *are* async generators (called without ``await``): the span covers the
    iteration of the returned stream."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        inv = begin_invocation(handler, spec, instance, args, kwargs)
        if inv is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            safely(spec.name, handler.fail, inv, error)
            raise
        return _complete(handler, spec, inv, kwargs, result, InstrumentedAsyncStream)

    return wrapper


@dataclass(frozen=True)
class Patch:
    """``module:Class.method`` wrapped by ``factory(handler)``."""

    module: str
    attribute: str
    factory: Callable[[TelemetryHandler], Wrapper]


class GenAIInstrumentor(BaseInstrumentor):
    """Base class: subclasses list their dependencies and patches; wrapping/unwrapping lives here.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``, ``logger_provider`` and
    ``settings`` (a :class:`genai_otel.config.Settings`); providers default to the global ones.
    """

    dependencies: tuple[str, ...] = ()

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.dependencies

    def patches(self) -> Iterable[Patch]:
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        settings = kwargs.get("settings") or Settings.from_env()
        self.handler = TelemetryHandler(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
            settings=settings,
        )
        # Under `opentelemetry-instrument` no genai_otel.instrument() runs: each instrumentor sets up
        # what it would (the baggage policy, reference-counted; the agent/tool handler if none).
        propagation.install(settings)
        adopt_default_handler(self.handler)
        self._applied: list[Patch] = []
        for patch in self.patches():
            try:
                wrap_function_wrapper(patch.module, patch.attribute, patch.factory(self.handler))
                self._applied.append(patch)
            except (ImportError, AttributeError):
                # The installed SDK version lacks this API: nothing to patch there.
                _logger.debug("genai-otel: %s:%s not found, not instrumented", patch.module, patch.attribute)
        self._on_instrument()

    def _uninstrument(self, **kwargs: Any) -> None:
        for patch in reversed(getattr(self, "_applied", [])):
            owner_path, _, method = patch.attribute.rpartition(".")
            owner: Any = importlib.import_module(patch.module)
            for part in filter(None, owner_path.split(".")):
                owner = getattr(owner, part)
            unwrap(owner, method)
        self._applied = []
        self._on_uninstrument()
        release_default_handler(getattr(self, "handler", None))
        propagation.uninstall()

    def _on_instrument(self) -> None:
        """Hook for extra set-up beyond method patches."""

    def _on_uninstrument(self) -> None:
        """Hook undoing :meth:`_on_instrument`."""
