"""Shared machinery for genai-otel instrumentors: patch targets, the generic call wrapper.

An instrumentor declares *what* to patch and *how to translate* a call (a :class:`CallSpec`);
this module does the wrapping, error isolation and span lifecycle once for all of them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.dependencies import DependencyConflict
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from wrapt import register_post_import_hook, wrap_function_wrapper

from genai_otel import propagation
from genai_otel.config import Settings
from genai_otel.instrumentation._registry import dependency_conflicts
from genai_otel.safety import report_internal_error, safely
from genai_otel.telemetry.agent_runs import count_step
from genai_otel.telemetry.handler import TelemetryHandler, adopt_default_handler, release_default_handler
from genai_otel.telemetry.invocation import Invocation
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


try:  # the keys behind is_instrumentation_enabled(), read off a context the caller already has
    from opentelemetry.instrumentation.utils import (
        _SUPPRESS_INSTRUMENTATION_KEY,
        _SUPPRESS_INSTRUMENTATION_KEY_PLAIN,
    )

    def _instrumentation_enabled(context: otel_context.Context) -> bool:
        suppressed = context.get(_SUPPRESS_INSTRUMENTATION_KEY)
        return not (suppressed or context.get(_SUPPRESS_INSTRUMENTATION_KEY_PLAIN))

except ImportError:  # a version that keeps them elsewhere: its own function

    def _instrumentation_enabled(context: otel_context.Context) -> bool:
        return is_instrumentation_enabled()


def begin_invocation(
    handler: TelemetryHandler, spec: CallSpec, instance: Any, args: tuple, kwargs: dict, activate: bool = True
) -> Invocation | None:
    """Build the record and open its span; ``None`` when suppressed or when our code failed."""
    # The caller's context, read once: suppression, the span's parent and the agent run all come from it
    # (each API lookup of the current context is three Python calls).
    context = otel_context.get_current()
    if not _instrumentation_enabled(context):
        return None
    # Once per SDK call: our errors are caught inline (what ``safely`` does, without its call overhead).
    try:
        inv = spec.build(handler, instance, args, kwargs)
        if inv is None:
            return None
        inv = handler.start(inv, activate=activate, context=context)
    except Exception:
        report_internal_error(spec.name)
        return None
    try:
        loop_error = count_step(handler, inv, context)
    except Exception:
        report_internal_error("loop_guard")
        return inv
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
    try:
        handler.stop(inv)
    except Exception:
        report_internal_error(spec.name)
    return result


def sync_wrapper(handler: TelemetryHandler, spec: CallSpec) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        inv = begin_invocation(handler, spec, instance, args, kwargs)
        if inv is None:
            return wrapped(*args, **kwargs)
        try:
            if spec.around is contextlib.nullcontext:  # most specs: no context manager to enter per call
                result = wrapped(*args, **kwargs)
            else:
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
    """``module:Class.method`` wrapped by ``factory(handler)``; ``applies(owner, method)``, when given,
    decides on the imported module whether this version's attribute is the one to wrap."""

    module: str
    attribute: str
    factory: Callable[[TelemetryHandler], Wrapper]
    applies: Callable[[Any, str], bool] | None = None


# Dependency checks by requirement tuple: importlib.metadata lookups, made once per process.
_dependency_checks: dict[tuple[str, ...], str | None] = {}


def dependency_conflict(dependencies: Collection[str]) -> str | None:
    """Why ``dependencies`` (requirement strings) do not hold here, or ``None`` when they do."""
    key = tuple(dependencies)
    if key not in _dependency_checks:
        conflict = dependency_conflicts(key)
        _dependency_checks[key] = None if conflict is None else str(conflict)
    return _dependency_checks[key]


class GenAIInstrumentor(BaseInstrumentor):
    """Base class: subclasses list their dependencies and patches; wrapping/unwrapping lives here.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``, ``logger_provider`` and
    ``settings`` (a :class:`genai_otel.config.Settings`); providers default to the global ones.

    Nothing is imported to instrument: each patch is applied by a post-import hook on its module, at
    once when the app already imported it, else when it first does (before the importing statement
    binds any name, so ``from module import function`` gets the wrapped function). :meth:`_on_instrument`
    likewise runs when the library (:attr:`library_module`) is imported.
    """

    dependencies: tuple[str, ...] = ()
    #: The module whose import runs :meth:`_on_instrument`; ``None``: the library this instrumentor
    #: is registered for in :data:`genai_otel.instrumentation.INSTRUMENTORS`, else at once.
    library_module: str | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.dependencies

    def _check_dependency_conflicts(self) -> DependencyConflict | None:
        # BaseInstrumentor's check (instrument() without skip_dep_check: genai_otel.instrument()), with
        # the versions read fast: importlib.metadata parses every METADATA file (issue 17).
        return dependency_conflicts(self.instrumentation_dependencies())

    def patches(self) -> Iterable[Patch]:
        raise NotImplementedError

    def instrument(self, **kwargs: Any) -> Any:
        """Instrument the library; see :class:`BaseInstrumentor`.

        ``opentelemetry-instrument`` passes ``skip_dep_check=True`` after checking only the distribution's
        requirements: the library's presence and version range are checked here instead, and an
        instrumentor whose library is absent or out of range does nothing (a debug log says why).
        """
        if kwargs.get("skip_dep_check") and not self.is_instrumented_by_opentelemetry:
            conflict = dependency_conflict(self.instrumentation_dependencies())
            if conflict is not None:
                _logger.debug("genai-otel: %s not instrumented: %s", type(self).__name__, conflict)
                return None
        return super().instrument(**kwargs)

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
        if not hasattr(self, "_state_lock"):
            self._state_lock = threading.RLock()
            self._generation = 0
        with self._state_lock:
            # wrapt cannot unregister a hook: each carries the generation it was made for, and one that
            # fires after uninstrument() (or for an earlier instrument()) finds it stale and does nothing.
            self._generation += 1
            self._applied: list[tuple[Any, str]] = []
            self._set_up = False
            generation = self._generation
        by_module: dict[str, list[Patch]] = {}
        for patch in self.patches():
            by_module.setdefault(patch.module, []).append(patch)
        for module, patches in by_module.items():
            register_post_import_hook(self._patch_hook(generation, patches), module)
        if type(self)._on_instrument is not GenAIInstrumentor._on_instrument:
            library = self._library()
            if library is None:
                self._set_up_hook(generation)(None)
            else:
                register_post_import_hook(self._set_up_hook(generation), library)

    def _library(self) -> str | None:
        if self.library_module is not None:
            return self.library_module
        from genai_otel.instrumentation import INSTRUMENTORS

        path = f"{type(self).__module__}:{type(self).__qualname__}"
        return next((name for name, value in INSTRUMENTORS.items() if value == path), None)

    def _patch_hook(self, generation: int, patches: list[Patch]) -> Callable[[ModuleType], None]:
        def on_import(module: ModuleType) -> None:
            # Runs inside the app's import statement: nothing may escape from here.
            try:
                with self._state_lock:
                    if generation != self._generation:
                        return
                    for patch in patches:
                        self._apply(module, patch)
            except Exception:
                report_internal_error(f"patch {patches[0].module}")

        return on_import

    def _apply(self, module: ModuleType, patch: Patch) -> None:
        owner_path, _, method = patch.attribute.rpartition(".")
        try:
            owner: Any = module
            for part in filter(None, owner_path.split(".")):
                owner = getattr(owner, part)
            getattr(owner, method)
        except AttributeError:
            # The installed SDK version lacks this API: nothing to patch there.
            _logger.debug("genai-otel: %s:%s not found, not instrumented", patch.module, patch.attribute)
            return
        if patch.applies is not None and not patch.applies(owner, method):
            return
        if any(done is owner and name == method for done, name in self._applied):
            return  # re-exported: the same class reached through another module is wrapped once
        wrap_function_wrapper(owner, method, patch.factory(self.handler))
        self._applied.append((owner, method))

    def _set_up_hook(self, generation: int) -> Callable[[ModuleType | None], None]:
        def on_import(module: ModuleType | None) -> None:
            with self._state_lock:
                if generation != self._generation or self._set_up:
                    return
                try:
                    self._on_instrument()
                except Exception:
                    # Runs inside the app's import statement: report, undo what can be, never raise.
                    report_internal_error(f"{type(self).__name__} set-up")
                    safely(f"{type(self).__name__} set-up undo", self._on_uninstrument)
                    return
                self._set_up = True

        return on_import

    def _uninstrument(self, **kwargs: Any) -> None:
        lock = getattr(self, "_state_lock", None) or threading.RLock()
        with lock:
            self._generation = getattr(self, "_generation", 0) + 1  # hooks still pending now do nothing
            for owner, method in reversed(getattr(self, "_applied", [])):
                unwrap(owner, method)
            self._applied = []
            set_up, self._set_up = getattr(self, "_set_up", False), False
            if set_up:
                self._on_uninstrument()
        release_default_handler(getattr(self, "handler", None))
        propagation.uninstall()

    def _on_instrument(self) -> None:
        """Hook for extra set-up beyond method patches; runs when the library is first imported."""

    def _on_uninstrument(self) -> None:
        """Hook undoing :meth:`_on_instrument` (called only if it ran)."""
