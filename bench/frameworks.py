"""Overhead of framework instrumentation per framework step: a 5-step LangChain chain and a LlamaIndex
query, with no instrumentation, one hand-made span, genai-otel, OpenLLMetry's and OpenInference's
instrumentors for the same framework -- each variant in its own process.

    python bench/frameworks.py [--calls 300] [--rounds 5]     # bench venv: pip install -e '.[bench]'

The model and embeddings are the frameworks' own in-process fakes (LangChain's ``FakeListChatModel``,
LlamaIndex's ``MockLLM`` / ``MockEmbedding``): they run through exactly the callback / dispatcher paths a
real provider does, and keep network noise out of a measurement of the instrumentation itself.

* LangChain chain (5 steps): lambda -> prompt template -> chat model -> output parser -> lambda.
* LlamaIndex query: ``RetrieverQueryEngine`` over an in-memory ``VectorStoreIndex`` of 20 nodes (query
  embedding, top-2 retrieval, synthesis with one LLM call).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from overhead import install_sdk, measure_calls, variant_cli

VARIANTS = {
    "none": "no instrumentation",
    "bare_span": "one hand-made span around the call (floor)",
    "genai_otel": "genai-otel",
    "openllmetry": "OpenLLMetry opentelemetry-instrumentation-{package}",
    "openinference": "OpenInference openinference-instrumentation-{oi_package}",
}


def _instrument(variant: str, framework: str) -> None:
    if variant == "genai_otel":
        import genai_otel

        genai_otel.instrument(only=["langchain_core" if framework == "langchain" else "llama_index.core"])
    elif variant == "openllmetry":
        if framework == "langchain":
            from opentelemetry.instrumentation.langchain import LangchainInstrumentor as Instrumentor
        else:
            from opentelemetry.instrumentation.llamaindex import LlamaIndexInstrumentor as Instrumentor
        Instrumentor().instrument()
    elif variant == "openinference":
        if framework == "langchain":
            from openinference.instrumentation.langchain import LangChainInstrumentor as Instrumentor
        else:
            from openinference.instrumentation.llama_index import LlamaIndexInstrumentor as Instrumentor
        Instrumentor().instrument()


def _langchain_chain() -> Any:
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda

    chain = (
        RunnableLambda(lambda q: {"question": q.strip()})
        | ChatPromptTemplate.from_messages([("system", "Be brief."), ("user", "{question}")])
        | FakeListChatModel(responses=["Traces follow requests."])
        | StrOutputParser()
        | RunnableLambda(lambda text: text.upper())
    )
    return lambda: chain.invoke(" How do traces cross services? ")


def _llamaindex_query() -> Any:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM

    docs = [Document(text=f"Document {i} about tracing across services.", id_=f"d{i}") for i in range(20)]
    index = VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))
    engine = index.as_query_engine(llm=MockLLM(max_tokens=16), similarity_top_k=2)
    return lambda: engine.query("How do traces cross services?")


def _measure(variant: str, framework: str, calls: int, rounds: int) -> dict[str, float]:
    tracer = install_sdk(with_metrics=False)
    _instrument(variant, framework)
    call = _langchain_chain() if framework == "langchain" else _llamaindex_query()
    return measure_calls(variant, tracer, {"call": call}, calls, rounds)


def main() -> None:
    packages = {"langchain": ("langchain", "langchain"), "llamaindex": ("llamaindex", "llama-index")}
    groups = {
        framework: {k: v.format(package=p, oi_package=oi) for k, v in VARIANTS.items()}
        for framework, (p, oi) in packages.items()
    }
    variant_cli(__doc__, __file__, _measure, groups, ("call",))


if __name__ == "__main__":
    main()
