"""Splitting OTLP requests to fit the next hop's message limit (4 MiB by default for the Collector and
Jaeger), on resource / scope / item boundaries: each span, log record or metric stays whole and keeps its
resource and scope. Only requests over the limit are split, so the common path costs one length check."""

from __future__ import annotations

from typing import Any

from genai_otel.processor.signals import Signal

#: A length-delimited field costs its tag (1 byte here) and a varint length (at most 5 bytes for < 4 GiB):
#: counting 6 per nesting level makes the size estimate an upper bound.
_FIELD_OVERHEAD = 6


def _shell(message: Any, skip: str) -> Any:
    """A copy of ``message`` without its repeated child list ``skip`` (a resource or scope and its
    schema url), so children can be added one by one."""
    shell = type(message)()
    for descriptor, value in message.ListFields():
        if descriptor.name == skip:
            continue
        if descriptor.message_type is not None:
            getattr(shell, descriptor.name).CopyFrom(value)
        else:
            setattr(shell, descriptor.name, value)
    return shell


class _Packer:
    """Builds requests item by item, grouping consecutive items of one resource and scope."""

    def __init__(self, kind: Signal) -> None:
        self.kind = kind
        self.done: list[tuple[bytes, int]] = []
        self._start()

    def _start(self) -> None:
        self.request = self.kind.request()
        self.size = 0
        self.count = 0
        self._resource_key: Any = None
        self._scope_key: Any = None

    def add(
        self, resource: Any, scope: Any, item: Any, costs: tuple[int, int, int], limit: int | None
    ) -> None:
        r_cost, s_cost, i_cost = costs
        need = (
            i_cost
            + (0 if scope is self._scope_key else s_cost)
            + (0 if resource is self._resource_key else r_cost)
        )
        if limit is not None and self.count and self.size + need > limit:
            self.flush()
            need = r_cost + s_cost + i_cost
        if resource is not self._resource_key:
            self._resources = getattr(self.request, self.kind.resources)
            self._resource = self._resources.add()
            self._resource.CopyFrom(_shell(resource, self.kind.scopes))
            self._resource_key, self._scope_key = resource, None
        if scope is not self._scope_key:
            self._scope = getattr(self._resource, self.kind.scopes).add()
            self._scope.CopyFrom(_shell(scope, self.kind.items))
            self._scope_key = scope
        getattr(self._scope, self.kind.items).add().CopyFrom(item)
        self.size += need
        self.count += 1

    def flush(self) -> None:
        if self.count:
            self.done.append((self.request.SerializeToString(), self.count))
        self._start()


def _items(request: Any, kind: Signal) -> list[tuple[Any, Any, Any, tuple[int, int, int]]]:
    out = []
    for resource in getattr(request, kind.resources):
        r_cost = _shell(resource, kind.scopes).ByteSize() + _FIELD_OVERHEAD
        for scope in getattr(resource, kind.scopes):
            s_cost = _shell(scope, kind.items).ByteSize() + _FIELD_OVERHEAD
            for item in getattr(scope, kind.items):
                out.append((resource, scope, item, (r_cost, s_cost, item.ByteSize() + _FIELD_OVERHEAD)))
    return out


def split_request(
    request: Any, kind: Signal, limit: int
) -> tuple[list[tuple[bytes, int]], list[tuple[bytes, int]]]:
    """``request`` as serialized requests of at most ``limit`` bytes, in order, each with its item count;
    and, apart, the items that alone exceed ``limit`` (each as its own request): those cannot be sent."""
    packer, too_big = _Packer(kind), []
    for resource, scope, item, costs in _items(request, kind):
        if sum(costs) > limit:  # the estimate is an upper bound: check the real size before giving up
            alone = _Packer(kind)
            alone.add(resource, scope, item, costs, None)
            alone.flush()
            if len(alone.done[0][0]) > limit:
                too_big.append(alone.done[0])
                continue
            packer.flush()
            packer.done.append(alone.done[0])
            continue
        packer.add(resource, scope, item, costs, limit)
    packer.flush()
    return packer.done, too_big


def halve_request(data: bytes, kind: Signal) -> list[tuple[bytes, int]]:
    """A serialized request as two requests of about half the items each (one when it has one item):
    for a next hop whose limit is smaller than ours."""
    items = _items(kind.parse(data), kind)
    if len(items) < 2:
        return [(data, len(items))]
    halves = []
    for part in (items[: len(items) // 2], items[len(items) // 2 :]):
        packer = _Packer(kind)
        for resource, scope, item, costs in part:
            packer.add(resource, scope, item, costs, None)
        packer.flush()
        halves.extend(packer.done)
    return halves
