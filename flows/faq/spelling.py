"""Typo tolerance for questions: map an unknown word to the nearest known word."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

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
    """Corrects question tokens against the knowledge base's own vocabulary.

    Uses optimal-string-alignment distance, so a swapped pair of letters ("unlnik") is one edit.
    Ties go to the more frequent word. Only words missing from the vocabulary are looked at, and
    each distinct word is looked up once.
    """

    def __init__(self, vocabulary: Counter[str], protected: Iterable[str] = ()) -> None:
        self._known = set(vocabulary) | set(protected)
        self._frequency = vocabulary
        # Candidates bucketed by length: a word can only be within k edits of words whose length
        # differs by at most k, so each lookup scans a few buckets, not the whole vocabulary.
        self._by_length: dict[int, list[str]] = {}
        for word in vocabulary:
            if len(word) >= 4 and word.isalpha():
                self._by_length.setdefault(len(word), []).append(word)
        self._cache: dict[str, str] = {}

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
        best: tuple[int, int, str] | None = None
        for length in range(len(token) - limit, len(token) + limit + 1):
            bucket = self._by_length.get(length)
            if not bucket:
                continue
            for word, distance, _ in process.extract(
                token, bucket, scorer=OSA.distance, score_cutoff=limit, limit=5
            ):
                rank = (int(distance), -self._frequency[word], word)
                if best is None or rank < best:
                    best = rank
        return token if best is None else best[2]

    def _swapped(self, token: str) -> str:
        """A known word that differs from a short token by two adjacent letters swapped.

        The one short typo worth fixing ("cdoe", "lnik"): it keeps the letters, so it rarely
        turns one real word into another.
        """
        for i in range(len(token) - 1):
            candidate = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if candidate != token and candidate in self._frequency:
                return candidate
        return token
