"""RAG with LlamaIndex, one command: ``python examples/rag/llamaindex_rag.py``.

Ingests a few documents into an embedded Chroma store (embeddings and answers from the local model server,
which speaks Ollama's API), then asks a query engine. genai-otel listens on LlamaIndex's instrumentation
dispatcher: the query, retrieval, synthesis and every model call become spans, and the Ollama SDK's calls
merge into LlamaIndex's model spans. Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` the trace is printed as a
tree; with it, it is exported over OTLP.
"""

from __future__ import annotations

from _otel import DOCUMENTS, QUESTION, finish, setup
from opentelemetry import trace

from genai_otel.testing.model_server import ModelServer


def main() -> None:
    memory = setup("rag-llamaindex")
    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.embeddings.ollama import OllamaEmbedding
    from llama_index.llms.ollama import Ollama
    from llama_index.vector_stores.chroma import ChromaVectorStore

    with ModelServer() as server:
        embed = OllamaEmbedding(model_name="nomic-embed-text", base_url=server.url)
        llm = Ollama(model="llama3.2", base_url=server.url, request_timeout=30)
        with trace.get_tracer("rag-example").start_as_current_span("rag llamaindex") as root:
            collection = chromadb.EphemeralClient().get_or_create_collection("knowledge")
            storage = StorageContext.from_defaults(
                vector_store=ChromaVectorStore(chroma_collection=collection)
            )
            index = VectorStoreIndex.from_documents(
                [Document(text=text, id_=key) for key, text in DOCUMENTS.items()],
                storage_context=storage,
                embed_model=embed,
            )
            answer = index.as_query_engine(llm=llm, similarity_top_k=2).query(QUESTION)
    finish(memory, str(answer), root)


if __name__ == "__main__":
    main()
