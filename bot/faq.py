"""The knowledge base as the bot uses it: entries read from the database into a matcher."""

from __future__ import annotations

import logging
from datetime import datetime

from flows.faq import FaqMatcher, KbEntry, Lookup
from storage.knowledge import BUNDLED_KB, load_kb
from storage.uow import Database, UnitOfWork

logger = logging.getLogger(__name__)


class FaqService:
    """Answers questions from the stored knowledge base (read into an in-memory matcher).

    The store is checked per question (:meth:`refresh`, one small read), so what `linkpilot kb
    learn` or `kb load` writes from another process is answered from the next question on.
    """

    def __init__(self) -> None:
        self.matcher = FaqMatcher([])
        self.entries: list[KbEntry] = []
        self.categories: list[tuple[str, str]] = []
        self.revision: tuple[int, datetime | None] | None = None

    async def load(self, db: Database, now: datetime) -> None:
        """Read the stored knowledge base; import the bundled file if the store is empty."""
        async with db.unit_of_work() as uow:
            rows = await uow.knowledge.entries()
        if not rows:
            added, _, _ = await load_kb(db, BUNDLED_KB, now)
            logger.info("knowledge base was empty: imported %d bundled entries", added)
        async with db.unit_of_work() as uow:
            await self._read(uow)

    async def refresh(self, uow: UnitOfWork) -> None:
        """Read the knowledge base again if the store changed since it was last read."""
        if await uow.knowledge.revision() != self.revision:
            await self._read(uow)

    async def _read(self, uow: UnitOfWork) -> None:
        revision = await uow.knowledge.revision()
        rows = await uow.knowledge.entries()
        categories = await uow.knowledge.categories()
        learned = await uow.knowledge.learned()
        # Phrasings an operator accepted (`linkpilot kb learn`) join their entry's own, so the
        # same question is answered outright from now on.
        extra: dict[str, list[str]] = {}
        for entry_id, question in learned:
            extra.setdefault(entry_id, []).append(question)
        entries = [
            KbEntry(id=r.id, title=r.title, phrasings=_merged(r.phrasings, extra.get(r.id, [])),
                    answer=r.answer, platform=r.platform, category=r.category,
                    related=tuple(r.related), sources=tuple(r.sources))
            for r in rows
        ]
        # Built before anything is replaced, so a lookup never sees half of each.
        matcher = FaqMatcher(entries)
        self.entries, self.categories, self.matcher = entries, categories, matcher
        self.revision = revision
        logger.info("knowledge base: %d entries in %d categories, %d learned phrasings",
                    len(matcher), len(categories), len(learned))

    def lookup(self, question: str) -> Lookup:
        return self.matcher.lookup(question)

    def entry(self, entry_id: str) -> KbEntry | None:
        try:
            return self.matcher.entry(entry_id)
        except KeyError:
            return None

    def topics(self, category: str) -> list[tuple[str, str]]:
        """(id, title) of a category's entries, in file order."""
        return [(e.id, e.title) for e in self.entries if e.category == category]

    def category_title(self, category: str) -> str | None:
        return dict(self.categories).get(category)


def _merged(phrasings: list[str], learned: list[str]) -> tuple[str, ...]:
    """An entry's phrasings followed by the learned ones it does not already have."""
    seen = {p.casefold() for p in phrasings}
    out = list(phrasings)
    for question in learned:
        if question.casefold() not in seen:
            seen.add(question.casefold())
            out.append(question)
    return tuple(out)
