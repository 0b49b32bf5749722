"""Stream proxies: the span of a streamed call ends exactly once, when the stream is exhausted,
closed, fails midway, leaves its ``with`` block, or is garbage-collected unfinished.

The span is held by the proxy and ended explicitly -- it is never made current inside the
iteration, so a stream closed from another task or thread cannot hit "Token was created in a
different Context".
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import wrapt

from genai_otel.telemetry.handler import TelemetryHandler
from genai_otel.telemetry.invocation import InferenceInvocation
from genai_otel.telemetry.safety import report_internal_error, safely


class StreamAccumulator(Protocol):
    """Provider-specific: folds chunks into the invocation record."""

    def feed(self, chunk: Any) -> None: ...

    def apply(self, inv: InferenceInvocation) -> None: ...


class _StreamState:
    __slots__ = ("accumulator", "done", "handler", "inv")

    def __init__(self, handler: TelemetryHandler, inv: InferenceInvocation, accumulator: StreamAccumulator):
        self.handler = handler
        self.inv = inv
        self.accumulator = accumulator
        self.done = False

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
        iterator = self._self_iterator
        if iterator is None:
            iterator = self._self_iterator = iter(self.__wrapped__)
        try:
            chunk = next(iterator)
        except StopIteration:
            self._self_state.finish(None)
            raise
        except BaseException as error:
            self._self_state.finish(error)
            raise
        self._self_state.on_chunk(chunk)
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
        iterator = self._self_iterator
        if iterator is None:
            iterator = self._self_iterator = self.__wrapped__.__aiter__()
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            self._self_state.finish(None)
            raise
        except BaseException as error:
            self._self_state.finish(error)
            raise
        self._self_state.on_chunk(chunk)
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
