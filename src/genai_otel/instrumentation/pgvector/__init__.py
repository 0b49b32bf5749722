"""pgvector through psycopg 3: a database span (``db.system.name = postgresql``) for each statement
that uses vectors -- a pgvector distance operator (``<->``, ``<=>``, ``<#>``, ``<+>``) or a vector
parameter -- with the top-k from ``LIMIT``, the rows returned and the vector dimension. Other SQL is
left alone (the contrib psycopg instrumentation covers plain database spans; do not enable both for
vector statements). Sync and async cursors, ``execute`` and ``executemany``."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch
from genai_otel.instrumentation._vector import dimension_of, operation_patches
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "postgresql"
_DISTANCE = re.compile(r"<->|<=>|<#>|<\+>|<~>|<%>")
_VERB = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(SELECT|INSERT|UPDATE|DELETE|COPY)\b", re.IGNORECASE | re.DOTALL)
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+([A-Za-z_][\w.\"]*)", re.IGNORECASE)
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_LIMIT = re.compile(r"\bLIMIT\s+(\d+|%s|%\(\w+\)s)", re.IGNORECASE)


def _text(query: Any) -> str | None:
    if isinstance(query, str):
        return query
    if isinstance(query, bytes):
        return query.decode("utf-8", "replace")
    as_string = getattr(query, "as_string", None)  # psycopg.sql.Composable
    try:
        return as_string(None) if as_string else None
    except Exception:
        return None


def _is_vector(value: Any) -> bool:
    kind = type(value).__name__
    return kind in ("Vector", "HalfVector", "SparseVector", "ndarray") or (
        isinstance(value, (list, tuple)) and len(value) > 2 and all(isinstance(v, float) for v in value[:3])
    )


def _params(params: Any) -> list[Any]:
    if isinstance(params, dict):
        return list(params.values())
    return list(params) if isinstance(params, (list, tuple)) else []


def _vector_dimension(values: Sequence[Any]) -> int | None:
    for value in values:
        if _is_vector(value):
            to_list = getattr(value, "to_list", None)
            return dimension_of(to_list() if callable(to_list) else value)
    return None


@dataclass(frozen=True)
class _Statement:
    """What the SQL text alone says; computed once per distinct statement (apps repeat theirs)."""

    distance: bool
    operation: str
    table: str | None
    filtered: bool
    limit: str | None


@functools.lru_cache(maxsize=512)
def _classify(sql: str) -> _Statement:
    verb, table, limit = _VERB.search(sql), _TABLE.search(sql), _LIMIT.search(sql)
    return _Statement(
        distance=bool(_DISTANCE.search(sql)),
        operation=verb.group(1).upper() if verb else "query",
        table=table.group(1).strip('"') if table else None,
        filtered=bool(_WHERE.search(sql)),
        limit=limit.group(1) if limit else None,
    )


def _build(many: bool) -> Any:
    def build(handler: TelemetryHandler, cursor: Any, args: tuple, kwargs: dict) -> VectorDbInvocation | None:
        sql = _text(args[0] if args else kwargs.get("query"))
        if sql is None:
            return None
        params = args[1] if len(args) > 1 else kwargs.get("params_seq" if many else "params")
        # Only look into sequences: a generator given to executemany must reach psycopg untouched.
        batch = params if many and isinstance(params, (list, tuple)) else None
        values = _params(batch[0] if batch else (None if many else params))
        statement = _classify(sql)
        if not (statement.distance or any(_is_vector(v) for v in values)):
            return None  # not a vector statement
        info = getattr(getattr(cursor, "connection", None), "info", None)
        host = getattr(info, "host", None)
        remote = bool(host) and not str(host).startswith("/")  # a Unix socket path is no server address
        inv = VectorDbInvocation(
            system=SYSTEM,
            operation=statement.operation,
            collection=statement.table,
            namespace=getattr(info, "dbname", None),
            server_address=host if remote else None,
            server_port=int(info.port) if remote and getattr(info, "port", None) else None,
            vector_dimension=_vector_dimension(values),
            filtered=True if statement.filtered else None,
            batch_size=len(batch) if batch else None,
        )
        if statement.limit and statement.limit.isdigit():
            inv.top_k = int(statement.limit)
        elif statement.limit and values and isinstance(values[-1], int):
            inv.top_k = values[-1]  # LIMIT %s: by convention the last parameter
        return inv

    return build


def _result(inv: VectorDbInvocation, cursor: Any) -> None:
    if inv.operation == "SELECT":
        rows = getattr(cursor, "rowcount", -1)
        inv.returned_rows = rows if rows is not None and rows >= 0 else None


class PgvectorInstrumentor(GenAIInstrumentor):
    """Instruments psycopg 3 cursors for pgvector statements."""

    dependencies = ("psycopg >= 3.1",)

    def patches(self) -> Iterable[Patch]:
        methods = {
            "execute": CallSpec("pgvector.execute", _build(False), _result),
            "executemany": CallSpec("pgvector.executemany", _build(True), _result),
        }
        yield from operation_patches("psycopg", [("Cursor", False), ("AsyncCursor", True)], methods)
