"""Inverted index over knowledge-base entries, with BM25-style term weights precomputed."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from flows.faq.text import bigrams


@dataclass(frozen=True, slots=True)
class IndexTuning:
    """Weights of the scoring function; defaults were set on the development questions."""

    # Saturation of the question field. Its term frequency is the share of an entry's title and
    # phrasings that contain the term, so a term in every phrasing (the topic's core) counts
    # fully and a term in one phrasing out of ten counts about a third.
    question_k: float = 0.2
    # The answer field is long prose: classic BM25 saturation and length normalisation, weighted
    # lightly because answers mention many things they are not about.
    answer_k1: float = 1.2
    answer_b: float = 0.75
    answer_weight: float = 0.1
    # Bigram evidence from the question field only.
    bigram_weight: float = 0.5
    # The title counts as this many phrasings: it is the canonical wording of the question.
    title_weight: float = 2.0
    # The answer's summary line (its opening in bold) counts as this many phrasings: it states
    # the topic in the answer's own words, which a new wording of the question often shares.
    lead_weight: float = 0.0


@dataclass(frozen=True, slots=True)
class Document:
    """One entry as the index sees it: its question sentences and answer, already analysed.

    ``questions[0]`` is the title, the rest are the phrasings; ``lead`` is the answer's summary
    line, indexed with them (see ``IndexTuning.lead_weight``).
    """

    questions: Sequence[Sequence[str]]
    answer: Sequence[str]
    # The answer's summary line (its opening in bold), if any.
    lead: Sequence[str] = ()


class InvertedIndex:
    """Postings per term, each posting holding the term's precomputed weight in that entry.

    A posting holds the term's strength in the entry,
    ``question_strength + answer_weight * answer_strength``; the question multiplies it by the
    IDF of its own word (which may be a synonym of the indexed one), so nothing about the
    entry is recomputed at lookup time. Bigram postings already include their IDF.
    """

    def __init__(self, documents: Sequence[Document], tuning: IndexTuning | None = None) -> None:
        self.tuning = tuning or IndexTuning()
        self.size = len(documents)
        self.postings: dict[str, dict[int, float]] = {}
        self.bigram_postings: dict[str, dict[int, float]] = {}
        self.idf: dict[str, float] = {}
        # Entries whose title, phrasings or answer summary (not just the answer body) contain
        # the term.
        self.in_questions: dict[str, set[int]] = {}
        # Per entry, each title/phrasing as a unit-length IDF-weighted term vector, for the
        # nearest-phrasing similarity that reranks the best few entries; stored inverted,
        # term -> (sentence number, weight), so that the similarity visits only the sentences
        # that hold a question's term.
        self.sentence_terms: list[dict[str, list[tuple[int, float]]]] = []
        self._build(documents)

    def _build(self, documents: Sequence[Document]) -> None:
        t = self.tuning
        question_share: list[dict[str, float]] = []
        bigram_share: list[dict[str, float]] = []
        answer_tf: list[Counter[str]] = []
        document_frequency: Counter[str] = Counter()
        bigram_frequency: Counter[str] = Counter()
        for doc in documents:
            unigram_counts: defaultdict[str, float] = defaultdict(float)
            bigram_counts: defaultdict[str, float] = defaultdict(float)
            total = 0.0
            sentences = [
                (s, t.title_weight if i == 0 else 1.0) for i, s in enumerate(doc.questions)
            ]
            if t.lead_weight and doc.lead:
                sentences.append((doc.lead, t.lead_weight))
            for sentence, weight in sentences:
                if not sentence:
                    continue
                total += weight
                for term in set(sentence):
                    unigram_counts[term] += weight
                for pair in set(bigrams(sentence)):
                    bigram_counts[pair] += weight
            total = total or 1.0
            share = {term: count / total for term, count in unigram_counts.items()}
            pair_share = {term: count / total for term, count in bigram_counts.items()}
            question_share.append(share)
            bigram_share.append(pair_share)
            answer_counts = Counter(doc.answer)
            answer_tf.append(answer_counts)
            document_frequency.update(set(share) | set(answer_counts))
            bigram_frequency.update(pair_share.keys())

        n = max(self.size, 1)
        self.idf = {term: bm25_idf(n, df) for term, df in document_frequency.items()}
        bigram_idf = {term: bm25_idf(n, df) for term, df in bigram_frequency.items()}
        average_answer = sum(sum(tf.values()) for tf in answer_tf) / n or 1.0

        for doc_id, (share, tf) in enumerate(zip(question_share, answer_tf, strict=True)):
            length_norm = 1 - t.answer_b + t.answer_b * sum(tf.values()) / average_answer
            for term in share:
                self.in_questions.setdefault(term, set()).add(doc_id)
            for term in share.keys() | tf.keys():
                strength = saturate(share.get(term, 0.0), t.question_k)
                count = tf.get(term, 0)
                if count:
                    saturated = count * (t.answer_k1 + 1) / (count + t.answer_k1 * length_norm)
                    strength += t.answer_weight * saturated
                self.postings.setdefault(term, {})[doc_id] = strength
        for doc_id, pair_share in enumerate(bigram_share):
            for term, value in pair_share.items():
                weight = t.bigram_weight * bigram_idf[term] * saturate(value, t.question_k)
                self.bigram_postings.setdefault(term, {})[doc_id] = weight
        for doc in documents:
            vectors = []
            for sentence in doc.questions:
                weights = {term: self.idf[term] for term in sentence}
                norm = math.sqrt(sum(w * w for w in weights.values()))
                if norm:
                    vectors.append({term: w / norm for term, w in weights.items()})
            inverted: dict[str, list[tuple[int, float]]] = {}
            for number, vector in enumerate(vectors):
                for term, weight in vector.items():
                    inverted.setdefault(term, []).append((number, weight))
            self.sentence_terms.append(inverted)

    @property
    def max_strength(self) -> float:
        """The largest strength a term can have in one entry (full question share + answer)."""
        t = self.tuning
        return 1.0 + t.answer_weight * (t.answer_k1 + 1)

    def unknown_idf(self) -> float:
        """The weight of a question word the knowledge base has never seen (as if df were 1)."""
        return bm25_idf(max(self.size, 1), 1)


def saturate(value: float, k: float) -> float:
    """Map a share in [0, 1] to [0, 1] with diminishing returns (1 stays 1)."""
    return value * (1 + k) / (value + k) if value > 0 else 0.0


def bm25_idf(size: int, document_frequency: int) -> float:
    """Robertson-Sparck Jones IDF in the always-positive form used by Lucene's BM25."""
    return math.log(1 + (size - document_frequency + 0.5) / (document_frequency + 0.5))
