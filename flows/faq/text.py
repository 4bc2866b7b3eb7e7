"""Text analysis for FAQ matching: normalise, tokenise, rewrite phrases, drop stop words, stem.

The same pipeline runs over the knowledge base and over questions, so every rewrite is symmetric.
Typo correction is question-only and lives in :mod:`flows.faq.spelling`; the matcher applies it
between tokenising and :meth:`Analyzer.terms_of_tokens`.
"""

from __future__ import annotations

import functools
import html
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence

import snowballstemmer

from flows.faq.lexicon import (
    CHAT_SHORTHAND,
    CONTRACTIONS,
    IS_CONTRACTIONS,
    PHRASES,
    STOP_WORDS,
    UNSTEMMED,
)

_TAG = re.compile(r"<[^>]+>")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
# "10,000" and "10.000" are one number; "10k" is shorthand for it.
_THOUSANDS = re.compile(r"(?<=\d)[,.](?=\d{3}\b)")
_KILO = re.compile(r"\b(\d+)k\b")
_TOKEN = re.compile(r"[a-z0-9]+")
# British -ise spellings of the verbs this domain uses, so "authorise" meets "authorize".
_BRITISH_ISE = re.compile(
    r"\b(authori|organi|recogni|customi|personali|priori|reali|utili|visuali|categori|monetiz|"
    r"minimi|maximi|apologi)s(e|ed|es|ing|ation|ations)\b"
)
_IS_CONTRACTION = re.compile(r"\b(" + "|".join(sorted(IS_CONTRACTIONS)) + r")'s\b")
# A clitic ("'s", "'re") only counts after a letter: at the start of a single-quoted word
# ("'spark code'", "'Send a QR code'") the apostrophe is a quote mark and the letters are the word.
_CONTRACTION = re.compile(
    "|".join(
        rf"(?<=[a-z]){re.escape(key)}\b" if key.startswith("'") else re.escape(key)
        for key in sorted(CONTRACTIONS, key=len, reverse=True)
    )
)
# Chat-style contractions typed without the apostrophe.
_BARE_NEGATIONS: dict[str, str] = {
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "cant": "can not",
    "couldnt": "could not",
    "shouldnt": "should not",
    "wouldnt": "would not",
    "wont": "will not",
    "hasnt": "has not",
    "havent": "have not",
    "hadnt": "had not",
    "aint": "is not",
}


def normalise(text: str) -> str:
    """Fold a text to lower-case ASCII-ish words: strip HTML, URLs, accents and apostrophe forms."""
    if "<" in text or "&" in text:
        text = html.unescape(_TAG.sub(" ", text))
    text = _URL.sub(" ", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().translate(_APOSTROPHES)
    text = _THOUSANDS.sub("", text)
    text = _KILO.sub(r"\g<1>000", text)
    text = _BRITISH_ISE.sub(r"\1z\2", text)
    text = _IS_CONTRACTION.sub(r"\1 is", text)
    text = _CONTRACTION.sub(lambda match: CONTRACTIONS[match.group(0)], text)
    return text.replace("_", " ")


def tokenise(text: str) -> list[str]:
    """Split a text into normalised surface tokens, expanding apostrophe-less negations and
    chat shorthand ("u", "abt")."""
    tokens: list[str] = []
    for token in _TOKEN.findall(normalise(text)):
        expansion = _BARE_NEGATIONS.get(token) or CHAT_SHORTHAND.get(token)
        if expansion is None:
            tokens.append(token)
        else:
            tokens.extend(expansion.split())
    return tokens


def _compile_phrases(table: dict[str, str]) -> dict[str, list[tuple[tuple[str, ...], list[str]]]]:
    """Index phrase rewrites by first token, longest pattern first, tokenised like the text."""
    by_first: dict[str, list[tuple[tuple[str, ...], list[str]]]] = {}
    for pattern, replacement in table.items():
        key = tuple(_TOKEN.findall(normalise(pattern)))
        value = _TOKEN.findall(normalise(replacement))
        if not key or list(key) == value:
            continue
        by_first.setdefault(key[0], []).append((key, value))
    for rules in by_first.values():
        rules.sort(key=lambda rule: len(rule[0]), reverse=True)
    return by_first


# Stems are remembered across analysers: stemming is deterministic and dominates the cost of
# building an index, which matters when an index is rebuilt (a knowledge-base reload, the
# leave-one-out benchmark). Past this many the cache starts over, so junk questions cannot
# grow it without bound.
_STEM_CACHE_LIMIT = 100_000
_STEMS: dict[str, str] = {}


@functools.cache
def _phrase_rules() -> dict[str, list[tuple[tuple[str, ...], list[str]]]]:
    return _compile_phrases(PHRASES)


class Analyzer:
    """Turns a text into stemmed content terms; shared by the index and the question side."""

    def __init__(self) -> None:
        self._stemmer = snowballstemmer.stemmer("english")
        self._phrases = _phrase_rules()

    def stem(self, word: str) -> str:
        """Stem one lower-case word, cached because a small vocabulary repeats endlessly."""
        stem = _STEMS.get(word)
        if stem is None:
            stem = word if word in UNSTEMMED else self._stemmer.stemWord(word)
            if len(_STEMS) >= _STEM_CACHE_LIMIT:
                _STEMS.clear()
            _STEMS[word] = stem
        return stem

    def rewrite(self, tokens: Sequence[str]) -> list[str]:
        """Apply the domain phrase rewrites (longest match first) to a token sequence."""
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            for pattern, replacement in self._phrases.get(tokens[i], ()):
                width = len(pattern)
                if tuple(tokens[i : i + width]) == pattern:
                    out.extend(replacement)
                    i += width
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def terms(self, text: str) -> list[str]:
        """Return the stemmed content terms of a text, in order."""
        return self.terms_of_tokens(tokenise(text))

    def terms_of_tokens(self, tokens: Sequence[str]) -> list[str]:
        """Return the stemmed content terms of already tokenised text, in order."""
        return [self.stem(token) for token in self.rewrite(tokens) if token not in STOP_WORDS]

    def stems_of(self, words: Iterable[str]) -> set[str]:
        """Stem a list of lexicon words the same way the text is stemmed (phrases rewritten)."""
        stems: set[str] = set()
        for word in words:
            stems.update(self.terms(word))
        return stems


def bigrams(terms: Sequence[str]) -> list[str]:
    """Adjacent term pairs, used as phrase evidence ("owner reject" is not "reject owner")."""
    return [f"{left} {right}" for left, right in itertools.pairwise(terms) if left != right]
