"""RAG over two vector stores, one command: ``python examples/rag/vector_stores.py``.

Ingests a few documents (embeddings from the local model server, through the real OpenAI SDK), stores
them in Chroma (embedded) and Qdrant (local mode), retrieves from both, and answers with a chat call.
Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` the trace is printed as a tree; with it, it is exported over OTLP.
"""

from __future__ import annotations

import os

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chroma: no product telemetry

import chromadb
import openai
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from qdrant_client import QdrantClient, models

import genai_otel
from genai_otel.console import render_tree
from genai_otel.testing.model_server import ModelServer

DOCUMENTS = {
    "otel": "OpenTelemetry carries trace context between services in the traceparent header.",
    "baggage": "Baggage carries key-value pairs such as a conversation id along the request path.",
    "rag": "Retrieval-augmented generation retrieves documents and adds them to the prompt.",
    "vectors": "Vector stores answer nearest-neighbour queries over embeddings.",
}


def setup() -> InMemorySpanExporter | None:
    provider = TracerProvider(resource=Resource.create({"service.name": "rag-vector-stores"}))
    memory = None
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    genai_otel.instrument()
    return memory


def main() -> None:
    memory = setup()
    with ModelServer() as server:
        llm = openai.OpenAI(base_url=server.openai_base_url, api_key="local")
        chroma = chromadb.EphemeralClient().get_or_create_collection("knowledge", embedding_function=None)
        qdrant = QdrantClient(":memory:")
        with genai_otel.agent("rag assistant", conversation_id="rag-demo"):
            # Ingest: embed once, store in both.
            vectors = [
                d.embedding
                for d in llm.embeddings.create(
                    model="text-embedding-3-small", input=list(DOCUMENTS.values())
                ).data
            ]
            chroma.add(ids=list(DOCUMENTS), embeddings=vectors, documents=list(DOCUMENTS.values()))
            qdrant.create_collection(
                "knowledge",
                vectors_config=models.VectorParams(size=len(vectors[0]), distance=models.Distance.COSINE),
            )
            qdrant.upsert(
                "knowledge",
                points=[
                    models.PointStruct(id=i, vector=v, payload={"key": k})
                    for i, (k, v) in enumerate(zip(DOCUMENTS, vectors, strict=True))
                ],
            )
            # Retrieve from both stores, then answer.
            question = "How does trace context travel between services?"
            [query] = [
                d.embedding
                for d in llm.embeddings.create(model="text-embedding-3-small", input=[question]).data
            ]
            from_chroma = chroma.query(query_embeddings=[query], n_results=2)["ids"][0]
            from_qdrant = [
                p.payload["key"] for p in qdrant.query_points("knowledge", query=query, limit=2).points
            ]
            context = "\n".join(DOCUMENTS[k] for k in dict.fromkeys(from_chroma + from_qdrant))
            answer = llm.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"{context}\n\nQuestion: {question}"}],
            )
    print(f"answer: {answer.choices[0].message.content[:100]}")
    if memory is not None:
        print("\n" + render_tree(memory.get_finished_spans()))
    trace.get_tracer_provider().shutdown()


if __name__ == "__main__":
    main()
