"""RAG evaluators: is an answer grounded in what was retrieved, is what was retrieved relevant to the query,
does the answer address the question, and did retrieval find the documents a dataset expects.

All four are lexical (content-word overlap): deterministic, no model, microseconds per span. Their
semantic counterparts (an embedding model instead of word overlap) are in
:mod:`genai_otel.evaluation.semantic`. What each needs is in its docstring; without it, no result.
"""

from __future__ import annotations

from genai_otel import semconv
from genai_otel.evaluation import evidence
from genai_otel.evaluation.api import EvaluationResult, Expectation, SpanView, TraceView


def _is_answer(span: SpanView) -> bool:
    return span.operation in evidence.ANSWER_OPERATIONS and semconv.GEN_AI_OUTPUT_MESSAGES in span.attributes


def rag_question(span: SpanView, trace: TraceView, expectation: Expectation | None) -> str | None:
    """The question a RAG answer answers: the query of the last retrieval before it (the prompt's user
    message also carries the documents), else the dataset's input, else the last user message."""
    for retrieval in reversed(evidence.retrievals_before(span, trace)):
        query = evidence.retrieval_query(retrieval)
        if query:
            return query
    return (expectation.input if expectation else None) or evidence.question(span)


class Groundedness:
    """Is a model's answer supported by the context retrieved before it? (faithfulness)

    Needs: a ``chat`` span with ``gen_ai.output.messages`` and a ``retrieval`` span in the same trace that
    ended before it; content capture on. The context is the retrieved documents' text when the retrieval
    recorded it, else the prompt the model was given (where RAG apps put the documents). Each sentence of
    the answer is supported when at least ``support`` of its content words occur in the context; ``score``
    is the supported share, ``label`` ``grounded`` when it is at least ``passing``, else ``ungrounded``.
    """

    name = "groundedness"

    def __init__(self, support: float = 0.7, passing: float = 1.0) -> None:
        self.support, self.passing = support, passing

    def applies_to(self, span: SpanView) -> bool:
        return _is_answer(span)

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        answer, context = evidence.answer(span), evidence.context(span, trace)
        if not answer or not context:
            return None
        known = {word for text in context for word in evidence.words(text)}
        claims = [(s, words) for s in evidence.sentences(answer) if (words := evidence.words(s))]
        if not claims:
            return None
        unsupported = [s for s, words in claims if evidence.coverage(words, known) < self.support]
        score = 1 - len(unsupported) / len(claims)
        if score >= self.passing:
            return EvaluationResult(self.name, score, "grounded", f"{len(claims)} sentences supported")
        return EvaluationResult(
            self.name,
            score,
            "ungrounded",
            f"{len(unsupported)} of {len(claims)} sentences not in the context: {unsupported[0][:200]!r}",
        )


class ContextRelevance:
    """Are the retrieved documents relevant to the query? One result per ``retrieval`` span.

    Needs: the retrieval's ``gen_ai.retrieval.documents`` with each document's text (``content``) and the
    query (``gen_ai.retrieval.query.text``, or the dataset's input); content capture on. The retrieval spans
    of genai-otel's instrumentations record document ids and scores only (the conventions' shape), so this
    judges retrievals recorded with text (your own, or datasets). A document is relevant when it holds at
    least ``relevant`` of the query's content words; ``score`` is the relevant share of documents."""

    name = "context_relevance"

    def __init__(self, relevant: float = 0.5, passing: float = 0.5) -> None:
        self.relevant, self.passing = relevant, passing

    def applies_to(self, span: SpanView) -> bool:
        return span.operation == semconv.OPERATION_RETRIEVAL

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        query = evidence.retrieval_query(span) or (expectation.input if expectation else None)
        texts = [d for d in evidence.documents(span) if d.text]
        asked = evidence.words(query) if query else []
        if not texts or not asked:
            return None
        shares = [evidence.coverage(asked, set(evidence.words(d.text or ""))) for d in texts]
        score = sum(share >= self.relevant for share in shares) / len(shares)
        per_document = ", ".join(
            f"{d.id or i}: {share:.2f}" for i, (d, share) in enumerate(zip(texts, shares, strict=True))
        )
        label = "relevant" if score >= self.passing else "irrelevant"
        return EvaluationResult(self.name, score, label, f"query words per document: {per_document}")


class AnswerRelevance:
    """Does the answer address the question? ``score``: the share of the question's content words the
    answer takes up; ``label`` ``relevant`` at ``passing`` or more.

    Needs: a ``chat`` span with ``gen_ai.output.messages`` and a question -- the query of a retrieval before
    it, the dataset's input, or the last user message; content capture on. Lexical: an answer in other words
    scores low (the semantic variant does not)."""

    name = "answer_relevance"

    def __init__(self, passing: float = 0.5) -> None:
        self.passing = passing

    def applies_to(self, span: SpanView) -> bool:
        return _is_answer(span)

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        answer, asked = evidence.answer(span), rag_question(span, trace, expectation)
        question_words = evidence.words(asked) if asked else []
        if not answer or not question_words:
            return None
        score = evidence.coverage(question_words, set(evidence.words(answer)))
        label = "relevant" if score >= self.passing else "irrelevant"
        return EvaluationResult(self.name, score, label, f"{score:.0%} of the question's words answered")


class RetrievalHitRate:
    """Did retrieval return the documents the dataset expects? ``score``: the share of
    ``Expectation.expected_documents`` among the retrieved document ids; ``label`` ``hit`` (all), ``partial``
    or ``miss``.

    Needs: a ``retrieval`` span with ``gen_ai.retrieval.documents`` (ids; content capture on) and an
    expectation listing expected documents."""

    name = "retrieval_hit_rate"

    def applies_to(self, span: SpanView) -> bool:
        return span.operation == semconv.OPERATION_RETRIEVAL

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        expected = expectation.expected_documents if expectation else ()
        returned = evidence.documents(span)
        if not expected or not returned:
            return None
        ids = {d.id for d in returned}
        found = [doc for doc in expected if doc in ids]
        score = len(found) / len(expected)
        label = "hit" if score == 1 else "partial" if found else "miss"
        missing = [doc for doc in expected if doc not in ids]
        return EvaluationResult(
            self.name, score, label, f"missing: {missing}" if missing else "all expected found"
        )
