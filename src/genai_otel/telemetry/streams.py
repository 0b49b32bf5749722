"""Stream proxies: the span of a streamed call ends exactly once, when the stream is exhausted,
closed, fails midway, leaves its ``with`` block, or is garbage-collected unfinished.

The span is held by the proxy and ended explicitly. Until the first chunk has arrived it is made
current around each step of the iteration (attached and detached within one
``__next__``/``__anext__``, never across a ``yield``), so that SDKs which send their request lazily on
the first ``next()`` (ollama, cohere) make it a child of the model span, while a stream closed from
another task or thread cannot hit "Token was created in a different Context". Once a chunk has
arrived the request is on the wire, so later steps take the hot path: the SDK's ``next()``, a clock
read and the accumulator's ``feed`` -- no context switch, no allocation of our own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
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
    return owner.run_context if owner.run_context is not None else handler.context_for(owner)


# Bound once: the clock runs once per chunk.
_attach, _detach, _current = otel_context.attach, otel_context.detach, otel_context.get_current
_clock = time.perf_counter_ns


class _StreamState:
    __slots__ = ("context", "done", "feed", "handler", "inv", "iterator", "report")

    def __init__(self, handler: TelemetryHandler, inv: InferenceInvocation, accumulator: StreamAccumulator):
        self.handler = handler
        self.inv = inv
        self.feed = accumulator.feed  # bound once, called per chunk
        self.report = accumulator.apply
        self.done = False
        self.context = safely("stream context", _step_context, handler, inv)
        # The SDK's iterator, set once the first chunk has arrived: from then on steps take the hot path.
        self.iterator: Any = None

    def enter(self) -> Any:
        """Before a step that precedes the first chunk: the model span made current (a token), or None."""
        ctx = self.context
        return _attach(ctx) if ctx is not None and _current() is not ctx else None

    def first_chunk(self, chunk: Any) -> None:
        inv = self.inv
        inv.first_chunk_ns = inv.last_chunk_ns = _clock()
        inv.chunk_count += 1
        try:
            self.feed(chunk)
        except Exception:
            report_internal_error("stream chunk")

    def finish(self, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        safely("stream summary", self.report, self.inv)
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

    def __iter__(self) -> Iterator[Any]:
        # A generator rather than ``self``: a ``for`` loop then resumes a frame per chunk instead of calling
        # __next__ through the proxy (each wrapt attribute read costs about as much as the SDK's own step).
        # It holds the proxy, so an abandoned loop still ends the span (its close, then the proxy's __del__).
        return self._self_chunks()

    def _self_chunks(self) -> Iterator[Any]:
        state = self._self_state
        if state.iterator is None:
            try:
                chunk = self._self_first_next()
            except StopIteration:
                return
            yield chunk
        inv, feed = state.inv, state.feed
        # The chunk count and the last chunk's time are kept in locals while chunks flow and written to
        # the record once, when the loop ends however it ends: two attribute writes per chunk saved.
        count, last = inv.chunk_count, inv.last_chunk_ns
        try:
            for chunk in state.iterator:
                last = _clock()
                count += 1
                try:
                    feed(chunk)
                except Exception:
                    report_internal_error("stream chunk")
                yield chunk
        except GeneratorExit:  # the loop was abandoned: close(), __exit__ or __del__ end the span
            inv.chunk_count, inv.last_chunk_ns = count, last
            raise
        except BaseException as error:
            inv.chunk_count, inv.last_chunk_ns = count, last
            state.finish(error)
            raise
        inv.chunk_count, inv.last_chunk_ns = count, last
        state.finish(None)

    def __next__(self) -> Any:
        state = self._self_state
        iterator = state.iterator
        if iterator is None:
            return self._self_first_next()
        try:
            chunk = next(iterator)
        except StopIteration:
            state.finish(None)
            raise
        except BaseException as error:
            state.finish(error)
            raise
        # Hot path: one clock read, no allocation of our own.
        inv = state.inv
        inv.last_chunk_ns = _clock()
        inv.chunk_count += 1
        try:
            state.feed(chunk)
        except Exception:
            report_internal_error("stream chunk")
        return chunk

    def _self_first_next(self) -> Any:
        """Steps until the first chunk: with the model span current (lazy SDKs send the request here)."""
        state = self._self_state
        token = state.enter()
        try:
            # Most SDK streams are iterators; some (botocore's EventStream) are only iterable.
            wrapped = self.__wrapped__
            iterator = wrapped if hasattr(type(wrapped), "__next__") else iter(wrapped)
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
        state.iterator = iterator
        state.first_chunk(chunk)
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

    def __aiter__(self) -> InstrumentedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state  # the one proxy attribute read per chunk: wrapt reads are not cheap
        iterator = state.iterator
        if iterator is None:
            return await self._self_first_anext()
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            state.finish(None)
            raise
        except BaseException as error:
            state.finish(error)
            raise
        inv = state.inv
        inv.last_chunk_ns = _clock()
        inv.chunk_count += 1
        try:
            state.feed(chunk)
        except Exception:
            report_internal_error("stream chunk")
        return chunk

    async def _self_first_anext(self) -> Any:
        """Steps until the first chunk, with the model span current; attached and detached in this
        coroutine, which runs in one task's context throughout."""
        state = self._self_state
        token = state.enter()
        try:
            wrapped = self.__wrapped__
            iterator = wrapped if hasattr(type(wrapped), "__anext__") else wrapped.__aiter__()
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
        state.iterator = iterator
        state.first_chunk(chunk)
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
        await self._close_by("close", "aclose")

    async def aclose(self) -> None:
        await self._close_by("aclose", "close")

    async def _close_by(self, *methods: str) -> None:
        """Close the SDK's stream by the first of ``methods`` it has: SDK streams have ``close()``,
        async generators (google-genai's) only ``aclose()``."""
        try:
            wrapped = self.__wrapped__
            closer = next((getattr(wrapped, m) for m in methods if hasattr(wrapped, m)), None)
            if closer is not None:
                await closer()
        finally:
            self._self_state.finish(None)

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None:
            state.finish(None)


def finish_stream(stream: Any) -> None:
    """End the span of ``stream`` if it is one of our proxies (used by SDK helper wrappers)."""
    state = getattr(stream, "_self_state", None)
    if isinstance(state, _StreamState):
        state.finish(None)
