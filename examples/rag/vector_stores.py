"""RAG over two vector stores, one command: ``python examples/rag/vector_stores.py``.

Ingests a few documents (embeddings from the local model server, through the real OpenAI SDK), stores
them in Chroma (embedded) and Qdrant (local mode), retrieves from both, and answers with a chat call.
Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` the trace is printed as a tree; with it, it is exported over OTLP.
"""

from __future__ import annotations

import chromadb
import openai
from _otel import DOCUMENTS, QUESTION, finish, setup
from qdrant_client import QdrantClient, models

import genai_otel
from genai_otel.testing.model_server import ModelServer


def main() -> None:
    memory = setup("rag-vector-stores")
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
            question = QUESTION
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
    finish(memory, answer.choices[0].message.content)


if __name__ == "__main__":
    main()
