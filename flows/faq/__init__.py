"""FAQ retrieval: match a free-text question to a knowledge-base entry, or decline.

Pure Python (stdlib, snowballstemmer, rapidfuzz); the caller loads the knowledge base and builds
:class:`FaqMatcher` once.
"""

from flows.faq.matcher import FaqMatcher
from flows.faq.model import Decision, KbEntry, Lookup, Scored

__all__ = ["Decision", "FaqMatcher", "KbEntry", "Lookup", "Scored"]
