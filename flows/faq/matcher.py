"""Match a user's free-text question to a knowledge-base entry, or decide not to."""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

from flows.faq.declined import THEME_PREFIX, out_of_scope_themes
from flows.faq.english import common_english, english_frequencies
from flows.faq.index import Document, IndexTuning, InvertedIndex
from flows.faq.intent import entry_intents, intent_gap, intents
from flows.faq.language import language_of
from flows.faq.lexicon import (
    ANCHOR_WORDS,
    ANTONYMS,
    CONCEPTS,
    PHRASES,
    PLATFORM_FAMILIES,
    SECOND_PERSON,
    STOP_WORDS,
    SYNONYM_GROUPS,
    WEAK_WORDS,
)
from flows.faq.model import KbEntry, Lookup, Scored
from flows.faq.spelling import SpellingCorrector
from flows.faq.text import Analyzer, bigrams, tokenise


@dataclass(frozen=True, slots=True)
class Calibration:
    """Turns match statistics into confidences, and confidences into a decision.

    A candidate's confidence is ``fit * share``:

    * ``share`` is a softmax of the candidates' retrieval scores (BM25 plus bonuses for
      similarity to the closest phrasing and for question words only the answer explains, less
      a penalty for an entry about another platform than the question names), so two entries
      that match equally well split the confidence and neither is answered outright.
    * ``fit`` says whether the entry is about the question at all: a logistic function of its
      coverage (IDF-weighted share of the question's terms it contains), strength (how central
      those terms are to it), the share of question words the knowledge base has never seen,
      a platform clash, the candidate's share, the share of the question an out-of-scope
      theme explains and the entry does not (see ``out_of_scope``), the entry's concept gap,
      and whether the question asks only kinds of question the entry never asks (its intent
      gap, see ``flows.faq.intent``). A question the knowledge
      base does not cover tends to meet many entries on its generic words ("how", "tiktok",
      "account") and none on the words that carry its meaning, so its best match is
      incomplete and not far ahead of the rest; a paraphrase of an entry meets that entry on
      its distinctive words.

    Every number here, and the index's (``IndexTuning``), is refit from the data in the
    repository by ``benchmarks/faq_calibrate.py`` (retrieval weights by coordinate search; the
    fit's weights by a logistic regression of "the best candidate is the right entry" over the
    tuning questions, an out-of-scope question's best candidate being a negative; the decision
    thresholds by a grid search of the issue's targets), and copied from its output. The
    current hold-out (benchmarks/data/holdout/) is never part of it.
    """

    coverage_weight: float = 1.51
    strength_weight: float = 1.1
    # Per share of question words the knowledge base has never seen.
    unknown_weight: float = -0.29
    # When the question names only platforms other than the entry's.
    clash_weight: float = 0.02
    share_weight: float = 2.71
    bias: float = -2.68
    # How much the nearest-phrasing similarity (0..1) adds to the retrieval score.
    similarity_boost: float = 2.5
    # Retrieval-score bonus per share of the question explained only by the entry's answer:
    # the answer vouches for words no phrasing happens to use.
    answer_boost: float = 1.0
    # Retrieval-score penalty for an entry about another platform than the question names.
    clash_penalty: float = 2.0
    # Softmax temperature over the candidates' retrieval scores. The scores are not normalised
    # by the question's length on purpose: evidence adds up, so a one-word question ("code")
    # separates entries less than a full sentence does and ends in a choice, not an answer.
    temperature: float = 0.35
    # Below this fit the question is out of scope.
    fit_threshold: float = 0.5
    # At or above this confidence, and this far ahead of the runner-up, the best entry is
    # answered without asking.
    answer_threshold: float = 0.3
    answer_margin: float = 0.1
    # Similarity at which a question counts as a verbatim knowledge-base phrasing.
    verbatim_similarity: float = 0.9
    # Typo-corrected words count a little less: the correction might be wrong.
    corrected_weight: float = 0.8
    # Everyday words (see ``WEAK_WORDS``) count this much of their IDF.
    weak_weight: float = 0.5
    # A real English word the knowledge base never uses ("boss", "friday", "fired") is context,
    # not the topic: it counts this much of an unknown word, so it cannot sink a question.
    # Words of what the knowledge base deliberately does not cover ("viral", "verified") are
    # not context: the out-of-scope themes (``flows/faq/out_of_scope.yaml``) use them.
    context_weight: float = 0.3
    # Per share of the question (IDF-weighted) that an out-of-scope theme's questions explain
    # and the entry's do not ("block" in "how do I block someone on instagram"): that part of
    # the question is about something the knowledge base leaves out on purpose.
    off_topic_weight: float = -1.33
    # Below ``fit_threshold`` but at or above this fit, the best candidates are offered as a
    # choice ("Did you mean ...?") instead of declining.
    plausible_fit: float = 0.1
    # A candidate is offered beside the best one when its confidence is at least this share of
    # the best one's and its fit is plausible.
    choice_ratio: float = 0.03
    # Below ``fit_threshold``, the best candidate must contain this many of the question's terms
    # (everyday words aside) to be offered.
    plausible_terms: int = 2
    # ... counting only terms at least this rare (about a quarter of the entries or fewer on
    # the real knowledge base): "how", "tiktok" and "account" say little about the topic.
    distinct_idf: float = 1.4
    # A question only plausibly in scope (best fit under ``fit_threshold``) is declined when an
    # out-of-scope theme's confidence is at least this share of the best entry's (1.0: a tie).
    theme_ratio: float = 0.25
    # Per unit of an entry's concept gap (see ``CONCEPTS`` and ``_concept_gap``: how much more
    # the entry is about its main concept than about any concept the question names, times the
    # share of the question's distinctive words). The fit's weight, and a retrieval-score
    # penalty that lets an entry whose concept the question names overtake a neighbour that
    # only shares words with it (applied only when the question names some concept).
    concept_weight: float = -1.36
    concept_penalty: float = 4.0
    # When the question asks only kinds of question the entry never asks (see
    # ``flows.faq.intent``: "how do I change my username" against an entry that only says what
    # a valid username is): the fit's weight.
    intent_weight: float = -1.0
    # A best entry with that intent gap is answered outright only at or above this fit (above
    # 1: never); below it the entry is offered as a choice, so the person sees what it is about
    # before reading it as the answer to what they asked.
    gap_answer_fit: float = 0.8


@dataclass(frozen=True, slots=True)
class _Evidence:
    """How an entry explains a question (see :meth:`FaqMatcher._evidence`)."""

    # IDF-weighted share of the question's terms the entry contains (answer-only terms half)
    coverage: float
    # share of the question found only in the entry's answer, not its title or phrasings
    answer_only: float
    # IDF-weighted centrality of the question's terms in the entry, as a share
    strength: float
    # distinctive question terms (see ``Calibration.distinct_idf``) the entry's title,
    # phrasings or summary contain
    matched: int = 0
    # per question term, how fully the entry's title or phrasings contain it (0..1)
    covers: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class _Candidate:
    """An entry after reranking: its confidence and the evidence behind it."""

    entry_id: str
    confidence: float
    fit: float
    similarity: float
    # question terms the entry's questions contain (see ``_Evidence.matched``)
    matched: int = 0
    # an out-of-scope theme, not an entry
    declined: bool = False
    # the fit's inputs, in the order of ``FIT_FEATURES``
    features: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Ranking:
    """An English question's reranked candidates and what the decision needs besides them."""

    candidates: tuple[_Candidate, ...]
    # a domain word occurs (or the question addresses the bot about the bot)
    has_anchor: bool
    # every word of the question is known to the knowledge base
    all_known: bool
    # the question names a platform (TikTok, Instagram...) and not the bot ("you", "this bot",
    # "Linkpilot", "here")
    platform_not_bot: bool = False


# The inputs of the fit's logistic function, named as the ``Calibration`` weights that
# multiply them (``bias`` aside); benchmarks/faq_calibrate.py refits those weights.
FIT_FEATURES = (
    "coverage_weight",
    "strength_weight",
    "unknown_weight",
    "clash_weight",
    "share_weight",
    "off_topic_weight",
    "concept_weight",
    "intent_weight",
)
# A synonym at least this close counts as naming a concept ("hook up" for "link").
_CONCEPT_SYNONYM = 0.8


@dataclass(frozen=True, slots=True)
class _Impacts:
    """A question term's contribution per entry, best first, capped at ``_IMPACT_CAP`` entries.

    ``values`` maps each listed entry to its contribution; ``complete`` says no entry was cut.
    """

    ordered: tuple[tuple[int, float], ...]
    values: dict[int, float]
    complete: bool


@dataclass(frozen=True, slots=True)
class _Group:
    """One question term and the indexed terms that may stand in for it."""

    term: str
    # (indexed term, synonym weight, factor = synonym weight * IDF used for the stand-in)
    members: tuple[tuple[str, float, float], ...]
    idf: float
    # 1, or less for a typo-corrected word
    weight: float


# The answer's opening in bold: a one-line summary of the answer.
_LEAD = re.compile(r"<b>(.*?)</b>", re.DOTALL)
# The knowledge-base category of the entries about Linkpilot itself.
BOT_CATEGORY = "bot"
# Surface words that put a question to the bot itself ("u" is read as "you").
_ADDRESSES_BOT = frozenset(
    {"you", "your", "yours", "yourself", "bot", "linkpilot", "assistant", "here"}
)
# Candidates kept for the confidence stage.
_TOP_K = 10
# Candidates whose score is completed exactly before the top K are taken.
_EXACT_POOL = 64
# Per question term, only the entries where it weighs most generate candidates. A term in
# thousands of entries barely separates them; its exact contribution is still added for the
# pooled candidates. Knowledge bases smaller than this are scored exactly.
_IMPACT_CAP = 768
# Question terms whose impact lists are kept; past this the cache starts over.
_IMPACT_CACHE_LIMIT = 4096
# Typos are corrected towards the knowledge base's words and this many common English words.
_ENGLISH_TARGETS = 10_000
# A question is a sentence or two; a pasted wall of text is cut here so it cannot stall the bot.
_MAX_QUESTION_CHARS = 1000
_MAX_QUESTION_TOKENS = 64


class FaqMatcher:
    """Lexical FAQ retrieval: BM25-style scoring over titles and phrasings, calibrated decisions.

    The index is built once. A lookup walks the (capped) postings of the question's terms,
    completes the scores of a small pool of candidates, reranks the best few (similarity to
    their closest phrasing, words only their answer explains, platform clashes) and turns the
    result into a decision. ``tuning`` and ``calibration`` replace the fitted defaults; they
    exist for benchmarks and experiments, not for production use.
    """

    def __init__(
        self,
        entries: Iterable[KbEntry],
        *,
        tuning: IndexTuning | None = None,
        calibration: Calibration | None = None,
        out_of_scope: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._entries: tuple[KbEntry, ...] = tuple(entries)
        themes = out_of_scope_themes() if out_of_scope is None else out_of_scope
        self._by_id: dict[str, KbEntry] = {}
        for entry in self._entries:
            if entry.id in self._by_id:
                raise ValueError(f"duplicate knowledge-base entry id: {entry.id!r}")
            self._by_id[entry.id] = entry
        self._calibration = calibration or Calibration()
        self._analyzer = Analyzer()
        vocabulary: Counter[str] = Counter()
        documents: list[Document] = []
        for entry in self._entries:
            questions = []
            for text in (entry.title, *entry.phrasings):
                tokens = tokenise(text)
                vocabulary.update(tokens)
                questions.append(self._analyzer.terms_of_tokens(tokens))
            answer = tokenise(entry.answer)
            vocabulary.update(answer)
            lead = _LEAD.match(entry.answer.lstrip())
            lead_terms = self._analyzer.terms(lead.group(1)) if lead else []
            documents.append(
                Document(questions, self._analyzer.terms_of_tokens(answer), lead_terms)
            )
        # The out-of-scope themes compete as entries of their own, after the real ones.
        self._ids = [entry.id for entry in self._entries]
        for theme, examples in themes.items():
            questions = []
            for text in examples:
                tokens = tokenise(text)
                vocabulary.update(tokens)
                questions.append(self._analyzer.terms_of_tokens(tokens))
            documents.append(Document(questions, ()))
            self._ids.append(THEME_PREFIX + theme)
        self._index = InvertedIndex(documents, tuning)
        self._english = english_frequencies()
        self._speller = SpellingCorrector(
            self._vocabulary(vocabulary),
            protected=STOP_WORDS,
            english=self._english,
            english_targets=common_english(_ENGLISH_TARGETS),
        )
        self._synonyms = self._build_synonyms()
        self._antonyms = self._build_antonyms()
        self._anchors = self._build_anchors()
        self._weak = frozenset(self._analyzer.stems_of(WEAK_WORDS))
        self._platform_terms = {
            stem: family
            for word, family in PLATFORM_FAMILIES.items()
            for stem in self._analyzer.stems_of([word])
        }
        self._entry_platforms = tuple(
            PLATFORM_FAMILIES.get(e.platform) for e in self._entries
        ) + (None,) * len(themes)
        self._unknown_idf = self._index.unknown_idf()
        # Entries about Linkpilot itself, and the words that address it.
        self._about_bot = frozenset(e.id for e in self._entries if e.category == BOT_CATEGORY)
        self._second_person = frozenset(self._analyzer.stems_of(SECOND_PERSON))
        self._impacts: dict[str, _Impacts] = {}
        self._concepts = self._build_concepts(len(themes))
        # The kinds of question each entry asks (themes ask none: they are never gapped).
        self._intents = tuple(
            entry_intents((e.title, *e.phrasings)) for e in self._entries
        ) + (frozenset(),) * len(themes)

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, entry_id: str) -> KbEntry:
        """Return the entry with this id; raises KeyError for an unknown id."""
        return self._by_id[entry_id]

    # ----------------------------------------------------------------------------------------
    # building

    @staticmethod
    def _vocabulary(words: Counter[str]) -> Counter[str]:
        """Surface words typos are corrected towards: the knowledge base's plus the lexicon's."""
        lexicon: list[str] = [*PHRASES, *PHRASES.values(), *ANCHOR_WORDS]
        for _, group in SYNONYM_GROUPS:
            lexicon.extend(group)
        for text in lexicon:
            for token in tokenise(text):
                words[token] += 1
        return words

    def _build_synonyms(self) -> dict[str, dict[str, float]]:
        """Stemmed soft-synonym table: term -> {stand-in term: weight}."""
        table: dict[str, dict[str, float]] = {}
        for weight, words in SYNONYM_GROUPS:
            stems = self._analyzer.stems_of(words)
            for stem in stems:
                row = table.setdefault(stem, {})
                for other in stems:
                    if other != stem and row.get(other, 0.0) < weight:
                        row[other] = weight
        return table

    def _build_antonyms(self) -> dict[str, frozenset[str]]:
        """Stemmed opposite-action table: term -> terms that mean the opposite."""
        table: dict[str, set[str]] = {}
        for left, right in ANTONYMS:
            for a in self._analyzer.stems_of([left]):
                for b in self._analyzer.stems_of([right]):
                    table.setdefault(a, set()).add(b)
                    table.setdefault(b, set()).add(a)
        return {term: frozenset(opposites) for term, opposites in table.items()}

    def _build_concepts(
        self, theme_count: int
    ) -> tuple[tuple[tuple[frozenset[str], float], ...], ...]:
        """Per indexed document, the concepts its questions are about, with their shares.

        A concept is a set of terms (see ``CONCEPTS``); an entry's share of it is the share of
        its title and phrasings that contain one of them. Themes have none.
        """
        concepts = [
            frozenset(term for word in words for term in self._analyzer.terms(word))
            for words in CONCEPTS.values()
        ]
        self._concept_terms = frozenset().union(*concepts)
        table = []
        for entry in self._entries:
            sentences = [
                frozenset(self._analyzer.terms(text)) for text in (entry.title, *entry.phrasings)
            ]
            own = []
            for terms in concepts:
                share = sum(1 for s in sentences if not s.isdisjoint(terms)) / len(sentences)
                if share > 0:
                    own.append((terms, share))
            table.append(tuple(own))
        return (*table, *((),) * theme_count)

    def _concept_gap(self, named: frozenset[str], doc: int) -> float:
        """How much more the entry is about its main concept than about any the question names.

        An entry's concepts are weighed by the share of its questions naming them; the gap is
        the largest share less the largest among the concepts the question names (0 when the
        question names the entry's main concept, or the entry is about none).
        """
        own = self._concepts[doc]
        if not own:
            return 0.0
        top = max(share for _, share in own)
        met = max((share for terms, share in own if not terms.isdisjoint(named)), default=0.0)
        return top - met

    def _names_main_concept(self, named: frozenset[str], doc: int) -> bool:
        """Whether the question names a concept most of the entry's questions name."""
        return any(
            share >= 0.5 and not terms.isdisjoint(named) for terms, share in self._concepts[doc]
        )

    def _build_anchors(self) -> frozenset[str]:
        """Terms that mark a question as belonging to this domain.

        The curated anchor words, plus numbers and codes the knowledge base itself mentions
        (error codes such as 4025, limits such as 800).
        """
        anchors = set(self._analyzer.stems_of(ANCHOR_WORDS))
        # Small numbers ("2 plus 2") are everywhere; three digits and up are codes and limits.
        anchors.update(t for t in self._index.postings if sum(ch.isdigit() for ch in t) >= 3)
        return frozenset(anchors)

    # ----------------------------------------------------------------------------------------
    # lookup

    def lookup(self, question: str) -> Lookup:
        """Find the entry that answers a question and decide whether to answer, offer or decline."""
        question = question[:_MAX_QUESTION_CHARS]
        language = language_of(question)
        if language != "en":
            return Lookup("decline", None, (), language=language)
        return self.decide(self.rank(question))

    def rank(self, question: str) -> Ranking:
        """The candidates of an English question, before any decision.

        ``lookup`` is ``decide(rank(question))`` for English; the two halves exist apart so
        that benchmarks/faq_calibrate.py can try many decision parameters on one ranking.
        """
        return self._ranked(question[:_MAX_QUESTION_CHARS])

    def decide(self, ranking: Ranking) -> Lookup:
        """Answer, offer or decline, on a ranking made by :meth:`rank`."""
        if not ranking.candidates:
            return Lookup("decline", None, ())
        return self._decide(
            list(ranking.candidates),
            has_anchor=ranking.has_anchor,
            all_known=ranking.all_known,
            platform_not_bot=ranking.platform_not_bot,
        )

    def fit_features(self, question: str) -> list[tuple[str, tuple[float, ...]]]:
        """The best candidates of an English question with the fit's inputs (see
        ``FIT_FEATURES``), best first; what benchmarks/faq_calibrate.py fits the weights on."""
        ranking = self._ranked(question[:_MAX_QUESTION_CHARS])
        return [(cand.entry_id, cand.features) for cand in ranking.candidates]

    def _ranked(self, question: str) -> Ranking:
        """The reranked candidates, whether a domain word occurs, whether every word is known,
        whether the question names the bot."""
        terms, corrected, english = self._question_terms(question)
        groups = self._groups(terms, corrected, english)
        if not any(group.members for group in groups):
            return Ranking((), False, False)
        top = self._retrieve(groups, bigrams(terms))
        platforms = frozenset(p for t in terms if (p := self._platform_terms.get(t)) is not None)
        ranked = self._rerank(groups, top, platforms, intents(question))
        has_anchor = not self._anchors.isdisjoint(terms)
        if not has_anchor and ranked and ranked[0].entry_id in self._about_bot:
            # A question put to the bot itself ("what do you keep about me?") is in the domain
            # when what it asks is what an entry about the bot answers: the second person is
            # its domain word.
            has_anchor = not self._second_person.isdisjoint(terms)
        # (only read when it can matter: the best candidate is about the bot)
        platform_not_bot = (
            bool(platforms)
            and bool(ranked)
            and ranked[0].entry_id in self._about_bot
            and _ADDRESSES_BOT.isdisjoint(tokenise(question))
        )
        return Ranking(
            tuple(ranked), has_anchor, all(group.members for group in groups), platform_not_bot
        )

    def _question_terms(
        self, question: str
    ) -> tuple[list[str], frozenset[str], frozenset[str]]:
        """Analyse a question: typo-fix, rewrite, stem.

        Also reports which terms were corrected, and the stems of the question's real English
        words (the candidates for context words).
        """
        tokens = tokenise(question)[:_MAX_QUESTION_TOKENS]
        fixed = [self._speller.correct(token) for token in tokens]
        corrected = frozenset(
            self._analyzer.stem(new) for old, new in zip(tokens, fixed, strict=True) if old != new
        )
        english = frozenset(self._analyzer.stem(t) for t in fixed if t in self._english)
        terms = self._analyzer.terms_of_tokens(fixed)
        return list(dict.fromkeys(terms)), corrected, english

    def _groups(
        self, terms: list[str], corrected: frozenset[str], english: frozenset[str] = frozenset()
    ) -> list[_Group]:
        """Expand each question term into the indexed terms that can match it."""
        index = self._index
        groups: list[_Group] = []
        for term in terms:
            candidates: list[tuple[str, float]] = []
            if term in index.postings:
                candidates.append((term, 1.0))
            for other, weight in self._synonyms.get(term, {}).items():
                if other in index.postings:
                    candidates.append((other, weight))
            if term in index.postings:
                idf = index.idf[term]
            elif candidates:
                # A word the entries never use but whose synonyms they do: weigh it like the
                # rarest stand-in, which is what it will be matched through.
                idf = max(index.idf[m] for m, _ in candidates)
            else:
                idf = self._unknown_idf
            # A stand-in never counts for more than its own rarity: "grant" must not lend its
            # high IDF to "approve", which half the entries use.
            members = tuple(
                (member, synonym_weight, synonym_weight * min(idf, index.idf[member]))
                for member, synonym_weight in candidates
            )
            weight = self._calibration.corrected_weight if term in corrected else 1.0
            if term in self._weak:
                weight *= self._calibration.weak_weight
            if not members and term in english:
                weight *= self._calibration.context_weight
            groups.append(_Group(term, members, idf, weight))
        return groups

    def _impacts_of(self, group: _Group) -> _Impacts:
        """The group's per-entry contributions (best stand-in per entry), cached per term."""
        impacts = self._impacts.get(group.term)
        if impacts is not None:
            return impacts
        postings = self._index.postings
        if len(group.members) == 1:
            member, _, factor = group.members[0]
            values = {doc: factor * value for doc, value in postings[member].items()}
        else:
            values = {}
            for member, _, factor in group.members:
                for doc, value in postings[member].items():
                    value *= factor
                    if value > values.get(doc, 0.0):
                        values[doc] = value
        complete = len(values) <= _IMPACT_CAP
        ordered = (
            tuple(values.items())
            if complete
            else tuple(heapq.nlargest(_IMPACT_CAP, values.items(), key=itemgetter(1)))
        )
        impacts = _Impacts(ordered, values if complete else dict(ordered), complete)
        if len(self._impacts) >= _IMPACT_CACHE_LIMIT:
            self._impacts.clear()
        self._impacts[group.term] = impacts
        return impacts

    def _exact(self, group: _Group, doc: int) -> float:
        """The group's contribution to one entry, looked up in the full postings."""
        postings = self._index.postings
        return max(factor * postings[member].get(doc, 0.0) for member, _, factor in group.members)

    def _retrieve(self, groups: list[_Group], pairs: list[str]) -> list[tuple[int, float]]:
        """The best ``_TOP_K`` entries by BM25-style score, best first.

        Each term's impact list generates candidates; a term whose list was capped then adds
        its exact contribution to the pooled candidates it had not reached, so the pool is
        scored exactly. Small knowledge bases never hit the cap and are scored exactly.
        """
        scores: dict[int, float] = {}
        capped: list[tuple[_Group, _Impacts]] = []
        for group in groups:
            if not group.members:
                continue
            impacts = self._impacts_of(group)
            weight = group.weight
            get = scores.get
            for doc, value in impacts.ordered:
                scores[doc] = get(doc, 0.0) + weight * value
            if not impacts.complete:
                capped.append((group, impacts))
        if capped and len(scores) > _EXACT_POOL:
            pool = dict(heapq.nlargest(_EXACT_POOL, scores.items(), key=itemgetter(1)))
        else:
            pool = scores
        for group, impacts in capped:
            for doc in pool:
                if doc not in impacts.values:
                    pool[doc] += group.weight * self._exact(group, doc)
        bigram_postings = self._index.bigram_postings
        for pair in pairs:
            for doc, value in bigram_postings.get(pair, {}).items():
                if doc in pool:
                    pool[doc] += value
        top = heapq.nlargest(_TOP_K, pool.items(), key=itemgetter(1))
        # The out-of-scope class always competes: a theme with fewer matching words than the
        # entries' generic ones ("hacked" against "instagram", "email", "change") still joins
        # the reranking, where similarity and fit judge it like any candidate.
        real = len(self._entries)
        if not any(doc >= real for doc, _ in top):
            themes = [(doc, score) for doc, score in pool.items() if doc >= real]
            if themes:
                top.append(max(themes, key=itemgetter(1)))
        return top

    def _similarity(self, groups: list[_Group], doc: int, norm: float) -> float:
        """Cosine similarity between the question and the entry's closest title or phrasing.

        Unlike the entry-level score this penalises a phrasing for the words it has and the
        question lacks, so "link tiktok account" prefers "link a TikTok account" over "can't
        see the option to link a TikTok account". A phrasing that uses the opposite of a
        question word ("remove" for "add") loses that word's weight instead of gaining it.
        """
        idf = self._index.idf
        terms = self._index.sentence_terms[doc]
        totals: dict[int, float] = {}  # per sentence that holds any term, in group order
        for group in groups:
            values: dict[int, float] = {}
            for member, _, factor in group.members:
                for sentence, weight in terms.get(member, ()):
                    if factor * weight > values.get(sentence, 0.0):
                        values[sentence] = factor * weight
            for opposite in self._antonyms.get(group.term, ()):
                for sentence, weight in terms.get(opposite, ()):
                    if sentence not in values:  # the first opposite a sentence holds counts
                        values[sentence] = -min(group.idf, idf[opposite]) * weight
            for sentence, value in values.items():
                if value:
                    totals[sentence] = totals.get(sentence, 0.0) + group.weight * value
        best = max(0.0, *totals.values()) if totals else 0.0
        return best / norm if norm else 0.0

    def _evidence(self, groups: list[_Group], doc: int) -> _Evidence:
        """How well an entry explains the question: IDF-weighted shares of the question's terms.

        A question term counts as explained when the entry's title or phrasings contain it (or
        a stand-in, at the stand-in's weight), and half when only the answer does. An unknown
        word weighs in the denominator: that is what sinks "how do I change my car's oil".
        """
        index = self._index
        postings, in_questions = index.postings, index.in_questions
        top_strength = index.max_strength
        total = covered = answer_only = strength = 0.0
        matched = 0
        covers = []
        for group in groups:
            mass = group.weight * group.idf
            total += mass
            best_cover = best_answer = best_strength = 0.0
            for member, _, factor in group.members:
                value = postings[member].get(doc)
                if value is None:
                    continue
                share = factor / group.idf
                if doc in in_questions.get(member, ()):
                    best_cover = max(best_cover, share)
                else:
                    best_answer = max(best_answer, share)
                best_strength = max(best_strength, share * value / top_strength)
            matched += (
                best_cover > 0
                and group.term not in self._weak
                and group.idf >= self._calibration.distinct_idf
            )
            covered += mass * max(best_cover, 0.5 * best_answer)
            answer_only += mass * max(0.0, best_answer - best_cover)
            strength += mass * best_strength
            covers.append(best_cover)
        if total == 0:
            return _Evidence(0.0, 0.0, 0.0, covers=tuple(covers))
        return _Evidence(covered / total, answer_only / total, strength / total, matched,
                         tuple(covers))

    def _off_topic_share(
        self, groups: list[_Group], doc: int, own: tuple[float, ...],
        themes: list[tuple[float, ...]]
    ) -> float:
        """The IDF-weighted share of the question a theme explains and the entry (whose
        per-term cover is `own`, see `_Evidence.covers`) does not."""
        if doc >= len(self._entries):
            return 0.0
        total = stray = 0.0
        for i, group in enumerate(groups):
            mass = group.weight * group.idf
            total += mass
            stray += mass * max(0.0, max(theme[i] for theme in themes) - own[i])
        return stray / total if total else 0.0

    def _platform_clash(self, platforms: frozenset[str], doc: int) -> bool:
        """Whether the question names only platforms other than the entry's own."""
        own = self._entry_platforms[doc]
        return bool(platforms) and own is not None and own not in platforms

    def _rerank(
        self,
        groups: list[_Group],
        top: list[tuple[int, float]],
        platforms: frozenset[str],
        asks: frozenset[str] = frozenset(),
    ) -> list[_Candidate]:
        """Score the best few entries in full and turn the scores into confidences."""
        if not top:
            return []
        c = self._calibration
        norm = math.sqrt(sum((g.weight * g.idf) ** 2 for g in groups))
        unknown = sum(g.weight for g in groups if not g.members) / (
            sum(g.weight for g in groups) or 1.0
        )
        # The terms the question names, with its close synonyms, for the concepts' sake.
        named = frozenset(
            member
            for group in groups
            for member, synonym_weight, _ in group.members
            if synonym_weight >= _CONCEPT_SYNONYM
        )
        # The penalty reorders entries only between concepts: when the question names none, it
        # would merely favour the entries that have no concept ("tiktok account" is no more
        # about the linking limits than about linking). The fit still sees the gap.
        penalty = c.concept_penalty if not named.isdisjoint(self._concept_terms) else 0.0
        # A question of generic words only ("tiktok account") is vague, not about something
        # else: a missing concept counts in proportion to the question's distinctive words.
        mass = sum(g.weight * g.idf for g in groups)
        distinctive = sum(
            g.weight * g.idf
            for g in groups
            if g.idf >= c.distinct_idf and g.term not in self._weak
        ) / (mass or 1.0)
        real = len(self._entries)
        rows: list[tuple[float, _Evidence, float, float, float, int]] = []
        for doc, raw in top:
            evidence = self._evidence(groups, doc)
            similarity = self._similarity(groups, doc, norm)
            clash = 1.0 if self._platform_clash(platforms, doc) else 0.0
            gap = self._concept_gap(named, doc) * distinctive
            score = (
                raw
                + c.similarity_boost * similarity
                + c.answer_boost * evidence.answer_only
                - c.clash_penalty * clash
                - penalty * gap
            )
            rows.append((score, evidence, similarity, clash, gap, doc))
        # What the out-of-scope themes among the candidates explain, per question term.
        themes = [row[1].covers for row in rows if row[5] >= real]
        best_score = max(row[0] for row in rows)
        weights = [math.exp((row[0] - best_score) / c.temperature) for row in rows]
        total = sum(weights)
        candidates = []
        for (_, evidence, similarity, clash, gap, doc), weight in zip(
            rows, weights, strict=True
        ):
            share = weight / total
            strays = (self._off_topic_share(groups, doc, evidence.covers, themes)
                      if themes else 0.0)
            features = (
                evidence.coverage, evidence.strength, unknown, clash, share, strays, gap,
                intent_gap(asks, self._intents[doc]) if doc < real else 0.0,
            )
            z = c.bias + sum(
                getattr(c, name) * value
                for name, value in zip(FIT_FEATURES, features, strict=True)
            )
            fit = 1.0 / (1.0 + math.exp(-z))
            candidates.append(
                _Candidate(self._ids[doc], fit * share, fit, similarity,
                           evidence.matched + self._names_main_concept(named, doc),
                           declined=doc >= real, features=features)
            )
        candidates.sort(key=lambda cand: cand.confidence, reverse=True)
        return candidates

    def _decide(
        self,
        ranked: list[_Candidate],
        *,
        has_anchor: bool,
        all_known: bool = True,
        platform_not_bot: bool = False,
    ) -> Lookup:
        """Answer a confident best, offer plausible candidates, decline what is out of scope."""
        c = self._calibration
        entries = [cand for cand in ranked if not cand.declined]
        candidates = tuple(Scored(cand.entry_id, cand.confidence) for cand in entries[:3])
        # The best match is something deliberately not covered ("how do I get verified").
        if not ranked or ranked[0].declined:
            return Lookup("decline", None, candidates)
        best = ranked[0]
        # A question that (nearly) repeats a phrasing of the knowledge base is in the domain by
        # definition, even without a domain word: "what can you do", "help". Not when it adds
        # words the knowledge base never uses: "what is the meaning of life".
        in_domain = has_anchor or (all_known and best.similarity >= c.verbatim_similarity)
        # An unsure match must rest on more than one word: "connect my printer to wifi" meets
        # the linking entries on "connect" alone.
        plausible = best.fit >= c.fit_threshold or (
            best.fit >= c.plausible_fit and best.matched >= c.plausible_terms
        )
        if not in_domain or not plausible:
            return Lookup("decline", None, candidates)
        # The runner-up may be an out-of-scope theme: a close one keeps the answer a choice.
        runner_up = ranked[1].confidence if len(ranked) > 1 else 0.0
        gapped = bool(best.features) and best.features[-1] > 0
        # An entry about Linkpilot itself answers a question put to Linkpilot: "how do I delete
        # my data from tiktok" names a platform and not the bot, so it is offered, not answered.
        # A question that names neither ("help", "delete my data") is put to the bot.
        unaddressed = best.entry_id in self._about_bot and platform_not_bot
        if (
            not unaddressed
            and best.fit >= (c.gap_answer_fit if gapped else c.fit_threshold)
            and best.confidence >= c.answer_threshold
            and best.confidence - runner_up >= c.answer_margin
        ):
            return Lookup("answer", candidates[0], candidates)
        # Only plausible (the best entry's fit is under the threshold), and something
        # deliberately not covered is nearly as likely: decline rather than offer buttons that
        # cannot be what the person asked ("how to report a fake account on instagram" meets
        # an Instagram entry on "account" and "instagram", but the safety theme explains it).
        # An entry that fits keeps its choice however close a theme is ("verify the link").
        theme = next((cand for cand in ranked if cand.declined), None)
        if (
            theme is not None
            and best.fit < c.fit_threshold
            and theme.confidence >= best.confidence * c.theme_ratio
        ):
            return Lookup("decline", None, candidates)
        # Unsure, but plausible: offer the candidates that are (QnA Maker's "Did you mean").
        floor = best.confidence * c.choice_ratio
        choices = tuple(
            Scored(cand.entry_id, cand.confidence)
            for cand in entries[:3]
            if cand is best or (cand.confidence >= floor and cand.fit >= c.plausible_fit)
        )
        return Lookup("choose", choices[0], candidates, choices)
