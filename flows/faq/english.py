"""The English word list typo correction checks against, so real words are never "corrected".

The list is symspellpy's English frequency dictionary (82,765 words with Google Books counts,
SCOWL-filtered), read as plain data: symspellpy itself is not imported or used.
"""

from __future__ import annotations

import functools
from importlib import resources

_PACKAGE = "symspellpy"
_FILE = "frequency_dictionary_en_82_765.txt"


@functools.cache
def english_frequencies() -> dict[str, int]:
    """Lower-case English words and their corpus counts; read once per process."""
    words: dict[str, int] = {}
    with resources.files(_PACKAGE).joinpath(_FILE).open(encoding="utf-8") as lines:
        for line in lines:
            word, _, count = line.rstrip().partition(" ")
            if word and count.isdigit():
                words[word] = int(count)
    return words


@functools.cache
def common_english(limit: int) -> tuple[str, ...]:
    """The ``limit`` most frequent English words, most frequent first."""
    words = english_frequencies()
    return tuple(sorted(words, key=words.__getitem__, reverse=True)[:limit])
