"""Per-query overhead of vector-store instrumentation: Chroma (embedded) and Qdrant (local mode),
no instrumentation vs a hand-made span vs genai-otel vs OpenLLMetry's instrumentor for the same store,
each variant in its own process.

    python bench/vector_stores.py [--calls 1000] [--rounds 5]     # bench venv: pip install -e '.[bench]'

A query is a top-5 nearest-neighbour search over 200 stored 8-dimensional vectors.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from overhead import install_sdk, measure_calls, variant_cli

VARIANTS = {
    "none": "no instrumentation",
    "bare_span": "one hand-made span (floor)",
    "genai_otel": "genai-otel",
    "openllmetry": "OpenLLMetry opentelemetry-instrumentation-{store}",
}
DIM, STORED = 8, 200


def vector(seed: int) -> list[float]:
    return [((seed * 7 + i * 3) % 11) / 10.0 for i in range(DIM)]


def _instrument(variant: str, store: str) -> None:
    if variant == "genai_otel":
        import genai_otel

        genai_otel.instrument(only=["chromadb" if store == "chroma" else "qdrant_client"])
    elif variant == "openllmetry":
        if store == "chroma":
            from opentelemetry.instrumentation.chromadb import ChromaInstrumentor as Instrumentor
        else:
            from opentelemetry.instrumentation.qdrant import QdrantInstrumentor as Instrumentor
        Instrumentor().instrument()


def _query(store: str) -> Any:
    if store == "chroma":
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb

        collection = chromadb.EphemeralClient().create_collection("bench", embedding_function=None)
        collection.add(ids=[str(i) for i in range(STORED)], embeddings=[vector(i) for i in range(STORED)])
        return lambda: collection.query(query_embeddings=[vector(3)], n_results=5)
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    client.create_collection(
        "bench", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )
    client.upsert("bench", points=[models.PointStruct(id=i, vector=vector(i)) for i in range(STORED)])
    return lambda: client.query_points("bench", query=vector(3), limit=5)


def _measure(variant: str, store: str, calls: int, rounds: int) -> dict[str, float]:
    tracer = install_sdk(with_metrics=False)
    _instrument(variant, store)
    return measure_calls(variant, tracer, {"query": _query(store)}, calls, rounds)


def main() -> None:
    groups = {
        store: {k: v.format(store=package) for k, v in VARIANTS.items()}
        for store, package in (("chroma", "chromadb"), ("qdrant", "qdrant"))
    }
    variant_cli(__doc__, __file__, _measure, groups, ("query",))


if __name__ == "__main__":
    main()
