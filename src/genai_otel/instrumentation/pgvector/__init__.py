"""pgvector through psycopg 3: a database span (``db.system.name = postgresql``) for each statement
that uses vectors -- a pgvector distance operator (``<->``, ``<=>``, ``<#>``, ``<+>``) or a vector
parameter -- with the top-k from ``LIMIT``, the rows returned and the vector dimension. Other SQL is
left alone (the contrib psycopg instrumentation covers plain database spans; do not enable both for
vector statements). Sync and async cursors, ``execute`` and ``executemany``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch
from genai_otel.instrumentation._vector import dimension_of, operation_patches
from genai_otel.telemetry import TelemetryHandler, VectorDbInvocation

SYSTEM = "postgresql"
_DISTANCE = re.compile(r"<->|<=>|<#>|<\+>|<~>|<%>")
_VERB = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(SELECT|INSERT|UPDATE|DELETE|COPY)\b", re.IGNORECASE | re.DOTALL)
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+([A-Za-z_][\w.\"]*)", re.IGNORECASE)
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


def _build(many: bool) -> Any:
    def build(handler: TelemetryHandler, cursor: Any, args: tuple, kwargs: dict) -> VectorDbInvocation | None:
        sql = _text(args[0] if args else kwargs.get("query"))
        params = args[1] if len(args) > 1 else kwargs.get("params_seq" if many else "params")
        batch = list(params) if many and params is not None else None
        values = _params(batch[0] if batch else params)
        if sql is None or not (_DISTANCE.search(sql) or any(_is_vector(v) for v in values)):
            return None  # not a vector statement
        verb = _VERB.search(sql)
        table = _TABLE.search(sql)
        info = getattr(getattr(cursor, "connection", None), "info", None)
        inv = VectorDbInvocation(
            system=SYSTEM,
            operation=verb.group(1).upper() if verb else "query",
            collection=table.group(1).strip('"') if table else None,
            namespace=getattr(info, "dbname", None),
            server_address=getattr(info, "host", None)
            if not str(getattr(info, "host", "")).startswith("/")
            else None,
            server_port=int(info.port) if getattr(info, "port", None) else None,
            vector_dimension=_vector_dimension(values),
            filtered=True if re.search(r"\bWHERE\b", sql, re.IGNORECASE) else None,
            batch_size=len(batch) if batch else None,
        )
        if inv.server_address is None:
            inv.server_port = None
        limit = _LIMIT.search(sql)
        if limit and limit.group(1).isdigit():
            inv.top_k = int(limit.group(1))
        elif limit and values and isinstance(values[-1], int):
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
