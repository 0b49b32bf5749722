"""RAG with LangChain, one command: ``python examples/rag/langchain_rag.py``.

Ingests a few documents into an embedded Chroma store (embeddings from the local model server through
``langchain-openai``), then answers a question with an LCEL chain: retriever -> prompt -> chat model ->
parser. genai-otel's LangChain callback handler turns every run into a span, and the OpenAI SDK's calls
merge into LangChain's model spans: one span per model call. Without ``OTEL_EXPORTER_OTLP_ENDPOINT``
the trace is printed as a tree; with it, it is exported over OTLP.
"""

from __future__ import annotations

import tempfile

from _otel import DOCUMENTS, QUESTION, finish, setup
from opentelemetry import trace

from genai_otel.testing.model_server import ModelServer


def main() -> None:
    memory = setup("rag-langchain")
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings

    with ModelServer() as server, tempfile.TemporaryDirectory() as store_dir:
        local = {"base_url": server.openai_base_url, "api_key": "local"}
        embeddings = OpenAIEmbeddings(
            model="text-embedding-3-small", check_embedding_ctx_length=False, **local
        )  # no tokenizer download
        llm = ChatOpenAI(model="gpt-4o-mini", **local)
        with trace.get_tracer("rag-example").start_as_current_span("rag langchain") as root:
            store = Chroma("knowledge", embedding_function=embeddings, persist_directory=store_dir)
            store.add_documents([Document(page_content=text, id=key) for key, text in DOCUMENTS.items()])
            prompt = ChatPromptTemplate.from_messages(
                [("system", "Answer from the context."), ("user", "{context}\n\nQuestion: {question}")]
            )
            chain = (
                {
                    "context": store.as_retriever(search_kwargs={"k": 2})
                    | (lambda docs: "\n".join(d.page_content for d in docs)),
                    "question": RunnablePassthrough(),
                }
                | prompt
                | llm
                | StrOutputParser()
            )
            answer = chain.invoke(QUESTION)
    finish(memory, answer, root)


if __name__ == "__main__":
    main()
