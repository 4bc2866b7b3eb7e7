"""Typo tolerance for questions: map a word that is no word at all to the nearest known word."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from rapidfuzz import process
from rapidfuzz.distance import OSA

# Corrections are remembered per token; past this many the cache starts over so a flood of
# random junk cannot grow memory without bound.
_CACHE_LIMIT = 50_000


def max_edits(length: int) -> int:
    """How many edits a word of this length may be away from its correction.

    Short words get none: at four letters one edit turns most words into other real words
    ("bake" -> "make"), and a wrong correction is worse than none. (Four-letter words may
    still have two letters swapped: see :meth:`SpellingCorrector._swapped`.)
    """
    if length <= 4:
        return 0
    if length <= 8:
        return 1
    return 2


class SpellingCorrector:
    """Corrects question tokens that are neither knowledge-base words nor English words.

    A real English word is left alone even when the knowledge base never uses it ("stuff" is
    not "staff", "fired" is not "fixed"): it is context, and the matcher weighs it as such.
    A non-word is corrected to the nearest knowledge-base word, or failing that the nearest
    common English word. Uses optimal-string-alignment distance, so a swapped pair of letters
    ("unlnik") is one edit. Ties go to the knowledge base's words, then to the more frequent.
    Each distinct word is looked up once.
    """

    def __init__(
        self,
        vocabulary: Counter[str],
        protected: Iterable[str] = (),
        english: Mapping[str, int] | None = None,
        english_targets: Iterable[str] = (),
    ) -> None:
        english = english or {}
        self._known = set(vocabulary) | set(protected) | set(english)
        self._kb = set(vocabulary)
        self._frequency: dict[str, int] = dict(english)
        # Corrections go to the knowledge base's words and to ``english_targets``, the common
        # English words (a typo of a rare word is rarely worth fixing, and the buckets stay small).
        targets = set(vocabulary)
        targets.update(english_targets)
        # Candidates bucketed by length: a word can only be within k edits of words whose length
        # differs by at most k, so each lookup scans a few buckets, not the whole vocabulary.
        # The knowledge base's words and the English ones are searched separately so that a
        # knowledge-base word wins a tie however many English words are as close.
        self._buckets: tuple[dict[int, list[str]], dict[int, list[str]]] = ({}, {})
        for word in sorted(targets):
            if len(word) >= 4 and word.isalpha():
                side = self._buckets[0 if word in self._kb else 1]
                side.setdefault(len(word), []).append(word)
        for word, count in vocabulary.items():
            self._frequency[word] = self._frequency.get(word, 0) + count
        self._cache: dict[str, str] = {}

    def is_word(self, token: str) -> bool:
        """Whether the token is a word the corrector knows (knowledge base, lexicon or English)."""
        return token in self._known

    def __contains__(self, word: str) -> bool:
        return word in self._known

    def correct(self, token: str) -> str:
        """Return the vocabulary word this token was probably meant to be, or the token itself."""
        if token in self._known:
            return token
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        fixed = self._nearest(token)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = fixed
        return fixed

    def _nearest(self, token: str) -> str:
        if not token.isalpha():
            return token
        limit = max_edits(len(token))
        if limit == 0:
            return self._swapped(token) if len(token) == 4 else token
        best: tuple[int, bool, int, str] | None = None
        for in_english, buckets in enumerate(self._buckets):
            # A knowledge-base word wins a tie on distance, so once one is found the (much
            # larger) English buckets are searched only for words strictly closer.
            cutoff = limit if best is None else best[0] - 1
            if cutoff < 1:
                break
            for length in range(len(token) - cutoff, len(token) + cutoff + 1):
                bucket = buckets.get(length)
                if not bucket:
                    continue
                for word, distance, _ in process.extract(
                    token, bucket, scorer=OSA.distance, score_cutoff=cutoff, limit=5
                ):
                    rank = (int(distance), bool(in_english), -self._frequency[word], word)
                    if best is None or rank < best:
                        best = rank
        return token if best is None else best[3]

    def _swapped(self, token: str) -> str:
        """A known word that differs from a short token by two adjacent letters swapped.

        The one short typo worth fixing ("cdoe", "lnik"): it keeps the letters, so it rarely
        turns one real word into another.
        """
        for i in range(len(token) - 1):
            candidate = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if candidate != token and candidate in self._kb:
                return candidate
        return token
