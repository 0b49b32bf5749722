"""Run generators with an OpenTelemetry context current only while they run.

A span made current across a ``yield`` leaks into the consumer and fails to detach when the
generator is closed from another task ("Token was created in a different Context"). These drivers
attach the context for each step and detach it before handing the item out, and call
``finish(error)`` exactly once when the generator ends, fails or is closed early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

from opentelemetry import context as otel_context

Finish = Callable[[BaseException | None], None]
Observe = Callable[[Any], None]


def _noop(_item: Any) -> None:
    return None


def drive_sync(
    gen: Any, context: otel_context.Context, finish: Finish, observe: Observe = _noop
) -> Generator:
    method, arg = gen.send, None
    while True:
        token = otel_context.attach(context)
        try:
            item = method(arg)
        except StopIteration as stop:
            finish(None)
            return stop.value
        except BaseException as error:
            finish(error)
            raise
        finally:
            otel_context.detach(token)
        observe(item)
        try:
            arg = yield item
            method = gen.send
        except GeneratorExit:
            gen.close()
            finish(None)
            raise
        except BaseException as error:
            method, arg = gen.throw, error


async def drive_async(
    agen: Any, context: otel_context.Context, finish: Finish, observe: Observe = _noop
) -> AsyncIterator[Any]:
    method, arg = agen.asend, None
    while True:
        token = otel_context.attach(context)
        try:
            item = await method(arg)
        except StopAsyncIteration:
            finish(None)
            return
        except BaseException as error:
            finish(error)
            raise
        finally:
            otel_context.detach(token)
        observe(item)
        try:
            arg = yield item
            method = agen.asend
        except GeneratorExit:
            await agen.aclose()
            finish(None)
            raise
        except BaseException as error:
            method, arg = agen.athrow, error
