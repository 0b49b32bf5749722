"""The researcher agent: an HTTP service (FastAPI) that answers with retrieval-augmented generation.

Its incoming request continues the supervisor's trace (FastAPI instrumentation + genai-otel's
propagator); its agent span extends the agent path carried in baggage.
"""

from __future__ import annotations

import math
import os

import uvicorn
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel

import genai_otel

from common import chat, openai_client, setup_telemetry

DOCUMENTS = {
    "doc-otel": "OpenTelemetry propagates trace context between services with the W3C traceparent header.",
    "doc-baggage": "Baggage carries key-value pairs such as a conversation id along the request path.",
    "doc-queues": "For message queues the context travels inside message headers or entry fields.",
    "doc-loops": "A loop guard bounds how many agent hops a single trace may take.",
}

setup_telemetry("researcher")
client = openai_client()
app = FastAPI()
_index: dict[str, list[float]] = {}


class Question(BaseModel):
    question: str


def _embed(texts: list[str]) -> list[list[float]]:
    result = client.embeddings.create(model="text-embedding-3-small", input=texts)
    return [item.embedding for item in result.data]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / ((math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))) or 1.0)


@genai_otel.tool("search_documents", description="Nearest documents to a question by embedding similarity")
def search_documents(question: str, top_k: int = 2) -> list[str]:
    if not _index:
        _index.update(zip(DOCUMENTS, _embed(list(DOCUMENTS.values())), strict=True))
    [query] = _embed([question])
    ranked = sorted(_index, key=lambda doc_id: _cosine(query, _index[doc_id]), reverse=True)
    return ranked[:top_k]


@app.post("/research")
def research(body: Question) -> dict:
    with genai_otel.agent("researcher", description="Answers from the document store"):
        doc_ids = search_documents(body.question)
        context = "\n".join(DOCUMENTS[d] for d in doc_ids)
        answer = chat(client, f"Context:\n{context}\n\nQuestion: {body.question}")
        return {"answer": answer, "documents": doc_ids}


FastAPIInstrumentor.instrument_app(app)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["RESEARCHER_PORT"]), log_level="warning")
