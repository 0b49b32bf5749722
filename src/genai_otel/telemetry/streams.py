"""Stream proxies: the span of a streamed call ends exactly once, when the stream is exhausted,
closed, fails midway, leaves its ``with`` block, or is garbage-collected unfinished.

The span is held by the proxy and ended explicitly. It is made current only around each step of the
iteration (attached and detached within one ``__next__``/``__anext__``, never across a ``yield``), so
that SDKs which send their request lazily on the first ``next()`` (ollama, cohere) make it a child
of the model span, while a stream closed from another task or thread cannot hit "Token was created
in a different Context".
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import wrapt
from opentelemetry import context as otel_context

from genai_otel.safety import report_internal_error, safely
from genai_otel.telemetry.handler import TelemetryHandler
from genai_otel.telemetry.invocation import InferenceInvocation


class StreamAccumulator(Protocol):
    """Provider-specific: folds chunks into the invocation record."""

    def feed(self, chunk: Any) -> None: ...

    def apply(self, inv: InferenceInvocation) -> None: ...


def _step_context(handler: TelemetryHandler, inv: InferenceInvocation) -> otel_context.Context | None:
    """The context each step of the stream runs in: the caller's context at the call, with the model
    span (or, for a record merged into a framework's, the owner's span) current. ``None``: no span."""
    owner = inv if inv.span is not None else inv.owner
    if owner is None or owner.span is None:
        return None
    return handler.context_for(owner)


# Bound once: these run twice per chunk.
_attach, _detach, _current = otel_context.attach, otel_context.detach, otel_context.get_current


class _StreamState:
    __slots__ = ("accumulator", "context", "done", "handler", "inv")

    def __init__(self, handler: TelemetryHandler, inv: InferenceInvocation, accumulator: StreamAccumulator):
        self.handler = handler
        self.inv = inv
        self.accumulator = accumulator
        self.done = False
        self.context = safely("stream context", _step_context, handler, inv)

    def on_chunk(self, chunk: Any) -> None:
        inv = self.inv
        now = time.perf_counter_ns()
        if not inv.first_chunk_ns:
            inv.first_chunk_ns = now
        inv.last_chunk_ns = now
        inv.chunk_count += 1
        try:  # inline rather than safely(): this runs once per chunk
            self.accumulator.feed(chunk)
        except Exception:
            report_internal_error("stream chunk")

    def finish(self, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        safely("stream summary", self.accumulator.apply, self.inv)
        if error is None:
            safely("stream end", self.handler.stop, self.inv)
        else:
            safely("stream end", self.handler.fail, self.inv, error)


class InstrumentedStream(wrapt.ObjectProxy):
    """Proxy for a synchronous SDK stream (iterator + context manager + ``close``)."""

    def __init__(
        self,
        wrapped: Any,
        handler: TelemetryHandler,
        inv: InferenceInvocation,
        accumulator: StreamAccumulator,
    ) -> None:
        super().__init__(wrapped)
        self._self_state = _StreamState(handler, inv, accumulator)
        # Most SDK streams are iterators; some (botocore's EventStream) are only iterable.
        self._self_iterator = wrapped if hasattr(type(wrapped), "__next__") else None

    def __iter__(self) -> InstrumentedStream:
        return self

    def __next__(self) -> Any:
        state = self._self_state
        # Hot path: the span is made current for this step only, and only when it is not already.
        ctx = state.context
        token = _attach(ctx) if ctx is not None and _current() is not ctx else None
        try:
            iterator = self._self_iterator
            if iterator is None:
                iterator = self._self_iterator = iter(self.__wrapped__)
            chunk = next(iterator)
        except StopIteration:
            state.finish(None)
            raise
        except BaseException as error:
            state.finish(error)
            raise
        finally:
            if token is not None:
                _detach(token)
        state.on_chunk(chunk)
        return chunk

    def __enter__(self) -> InstrumentedStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_state.finish(exc)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_state.finish(None)

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None:
            state.finish(None)


class InstrumentedAsyncStream(wrapt.ObjectProxy):
    """Proxy for an asynchronous SDK stream (async iterator + async context manager + ``close``)."""

    def __init__(
        self,
        wrapped: Any,
        handler: TelemetryHandler,
        inv: InferenceInvocation,
        accumulator: StreamAccumulator,
    ) -> None:
        super().__init__(wrapped)
        self._self_state = _StreamState(handler, inv, accumulator)
        self._self_iterator = wrapped if hasattr(type(wrapped), "__anext__") else None

    def __aiter__(self) -> InstrumentedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state
        # Attached and detached in this coroutine, which runs in one task's context throughout.
        ctx = state.context
        token = _attach(ctx) if ctx is not None and _current() is not ctx else None
        try:
            iterator = self._self_iterator
            if iterator is None:
                iterator = self._self_iterator = self.__wrapped__.__aiter__()
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            state.finish(None)
            raise
        except BaseException as error:
            state.finish(error)
            raise
        finally:
            if token is not None:
                _detach(token)
        state.on_chunk(chunk)
        return chunk

    async def __aenter__(self) -> InstrumentedAsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_state.finish(exc)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_state.finish(None)

    async def aclose(self) -> None:
        await self.close()

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None:
            state.finish(None)


def finish_stream(stream: Any) -> None:
    """End the span of ``stream`` if it is one of our proxies (used by SDK helper wrappers)."""
    state = getattr(stream, "_self_state", None)
    if isinstance(state, _StreamState):
        state.finish(None)
