"""RAG with Haystack, one command: ``python examples/rag/haystack_rag.py``.

Ingests a few documents into an embedded Chroma document store (embeddings from the local model server
through Haystack's OpenAI embedders), then runs a pipeline: text embedder -> Chroma retriever -> prompt
builder -> chat generator. genai-otel is Haystack's tracing backend here: the pipeline and every component
become spans mapped by kind, and the OpenAI SDK's calls merge into Haystack's model spans. Without
``OTEL_EXPORTER_OTLP_ENDPOINT`` the trace is printed as a tree; with it, it is exported over OTLP.
"""

from __future__ import annotations

from _otel import DOCUMENTS, QUESTION, finish, setup
from opentelemetry import trace

from genai_otel.testing.model_server import ModelServer


def main() -> None:
    memory = setup("rag-haystack")
    from haystack import Document, Pipeline
    from haystack.components.builders import ChatPromptBuilder
    from haystack.components.embedders import OpenAIDocumentEmbedder, OpenAITextEmbedder
    from haystack.components.generators.chat import OpenAIChatGenerator
    from haystack.dataclasses import ChatMessage
    from haystack.utils import Secret
    from haystack_integrations.components.retrievers.chroma import ChromaEmbeddingRetriever
    from haystack_integrations.document_stores.chroma import ChromaDocumentStore

    with ModelServer() as server:
        local = {"api_key": Secret.from_token("local"), "api_base_url": server.openai_base_url}
        with trace.get_tracer("rag-example").start_as_current_span("rag haystack") as root:
            store = ChromaDocumentStore(collection_name="knowledge")
            embedded = OpenAIDocumentEmbedder(
                model="text-embedding-3-small", progress_bar=False, **local
            ).run([Document(content=text, id=key) for key, text in DOCUMENTS.items()])
            store.write_documents(embedded["documents"])

            rag = Pipeline()
            rag.add_component("embedder", OpenAITextEmbedder(model="text-embedding-3-small", **local))
            rag.add_component("retriever", ChromaEmbeddingRetriever(document_store=store, top_k=2))
            template = [
                ChatMessage.from_system("Answer from the context."),
                ChatMessage.from_user("{% for d in documents %}{{ d.content }}\n{% endfor %}Question: {{q}}"),
            ]
            rag.add_component("prompt", ChatPromptBuilder(template=template, required_variables="*"))
            rag.add_component("llm", OpenAIChatGenerator(model="gpt-4o-mini", **local))
            rag.connect("embedder.embedding", "retriever.query_embedding")
            rag.connect("retriever.documents", "prompt.documents")
            rag.connect("prompt.prompt", "llm.messages")
            result = rag.run({"embedder": {"text": QUESTION}, "prompt": {"q": QUESTION}})
    finish(memory, result["llm"]["replies"][0].text, root)


if __name__ == "__main__":
    main()
