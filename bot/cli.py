"""The `linkpilot` command: run the bot, chat in a terminal, query and load the knowledge base."""

from __future__ import annotations

import os

# PTB 22 warns about its future timedelta API unless this is set; opt in to the new behaviour.
os.environ.setdefault("PTB_TIMEDELTA", "true")

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("linkpilot")


def configure_logging(level: str) -> None:
    """Our own modules at `level`; chatty libraries one step quieter."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "apscheduler", "telegram.ext.Application", "aiosqlite", "transitions",
                  "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The limiter logs a traceback for every 429 it hands back; the dispatcher logs one line.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)


def run_bot(settings: Settings, webhook: bool = False) -> None:
    """Long-poll Telegram (or the Bot API server at TELEGRAM_API_BASE_URL), or with `webhook`
    serve as one webhook worker of several."""
    from telegram.error import InvalidToken

    from bot.app import build_application, serve, serve_webhook

    token = settings.require_token()
    if webhook:
        settings.require_webhook_secret()
        settings.webhook_address()
    # Polling, this process is the only one on the database (Telegram serves getUpdates to
    # one consumer); webhook workers share it.
    application = build_application(settings, token=token, rate_limit=True, alone=not webhook)
    try:
        asyncio.run(serve_webhook(application) if webhook else serve(application))
    except InvalidToken:
        raise SettingsError("Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?); get "
                            "the current token from @BotFather.") from None


def faq_json(settings: Settings, question: str) -> dict[str, object]:
    """What the bot would do with a question, as `linkpilot faq` prints it.

    ``decision`` is "answer", "choose" or "decline"; ``id`` is the answered entry (else null);
    ``choices`` are the entries the bot would offer as buttons (empty unless it chooses).
    Candidates the person would never see are not listed.
    """
    from bot.context import utc_now
    from bot.faq import FaqService
    from storage.uow import Database

    async def lookup() -> dict[str, object]:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            service = FaqService()
            await service.load(db, utc_now())
            found = service.lookup(question)
        finally:
            await db.dispose()
        best = found.best if found.decision == "answer" else None
        entry = service.entry(best.entry_id) if best else None
        return {
            "decision": found.decision,
            "id": entry.id if entry else None,
            "choices": [c.entry_id for c in found.choices] if found.decision == "choose" else [],
            "score": round(found.best.score, 4) if found.best else None,
            "language": found.language,
            "answer": entry.answer if entry else None,
        }

    return asyncio.run(lookup())


def kb_load(settings: Settings, path: Path) -> str:
    from bot.context import utc_now
    from storage.knowledge import load_kb
    from storage.uow import Database

    async def load() -> str:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            added, updated, removed = await load_kb(db, path, utc_now())
        finally:
            await db.dispose()
        return f"knowledge base loaded from {path}: {added} added, {updated} updated, " \
               f"{removed} removed"

    return asyncio.run(load())


def kb_misses(settings: Settings, limit: int) -> list[str]:
    """Questions to grow the knowledge base with: picked suggestions first, then misses."""
    from storage.uow import Database

    async def misses() -> list[str]:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            async with db.unit_of_work() as uow:
                picked = await uow.knowledge.questions(["chosen"], limit)
                missed = await uow.knowledge.questions(["miss", "none_fit"], limit)
        finally:
            await db.dispose()
        lines: list[str] = []
        if picked:
            lines.append("candidate phrasings (a suggestion people picked; accept with "
                         "`linkpilot kb learn ENTRY_ID QUESTION`):")
            lines += [f"{r.count:>4}  {r.outcome:<8}  {r.entry_id or '-':<36}  {r.question}"
                      for r in picked]
        if missed:
            lines.append("not answered (resolve with `linkpilot kb learn ENTRY_ID QUESTION`):")
            lines += [f"{r.count:>4}  {r.outcome:<8}  {r.entry_id or '-':<36}  {r.question}"
                      for r in missed]
        return lines

    return asyncio.run(misses())


def kb_learn(settings: Settings, entry_id: str, question: str) -> str:
    """Accept a question as a phrasing of an entry (stored without the person who asked)."""
    from bot.context import utc_now
    from storage.uow import Database

    async def learn() -> str:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            async with db.unit_of_work() as uow:
                ids = {e.id for e in await uow.knowledge.entries()}
                if entry_id not in ids:
                    raise KbLearnError(f"no knowledge-base entry {entry_id!r} "
                                       "(load the knowledge base with `linkpilot kb load`)")
                settled = await uow.knowledge.learn(question.strip(), entry_id, utc_now())
                await uow.commit()
        finally:
            await db.dispose()
        return (f"learned: {question.strip()!r} is now a phrasing of {entry_id} "
                f"({settled} logged asks settled; a running bot answers it from the next question)")

    if not question.strip():
        raise KbLearnError("the question is empty")
    return asyncio.run(learn())


def admin_command(settings: Settings, words: list[str]) -> str:
    """(issue 11) Run one operator command on the database, audited as `cli:<login name>`.
    Messages it owes (to a released claim's owner and its advertisers) are sent by the running
    bot's dispatcher."""
    import getpass

    from bot.admin import run_admin
    from bot.context import utc_now
    from bot.settings import operators
    from storage.uow import Database

    async def run() -> str:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            async with db.unit_of_work() as uow:
                said = await run_admin(uow, f"cli:{getpass.getuser()}"[:64], words, utc_now(),
                                       protected=operators(settings))
                await uow.commit()
        finally:
            await db.dispose()
        return said

    return asyncio.run(run())


class KbLearnError(ValueError):
    """`linkpilot kb learn` was given an unknown entry or an empty question."""


def parser() -> argparse.ArgumentParser:
    from storage.knowledge import BUNDLED_KB

    p = argparse.ArgumentParser(prog="linkpilot", description=__doc__)
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("run", help="serve Telegram users (the default; needs TELEGRAM_BOT_TOKEN)")
    run.add_argument("--webhook", action="store_true",
                     help="take updates by webhook at WEBHOOK_LISTEN (needs WEBHOOK_SECRET); "
                          "several workers may share one PostgreSQL database")
    sub.add_parser("chat", help="talk to the bot in this terminal, no token or network needed")
    faq = sub.add_parser("faq", help="print what the bot would do with a question, as JSON")
    faq.add_argument("question")
    kb = sub.add_parser("kb", help="manage the stored knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    load = kb_sub.add_parser("load", help="import or update entries from a data file")
    load.add_argument("path", nargs="?", type=Path, default=BUNDLED_KB)
    misses = kb_sub.add_parser("misses", help="questions it could not answer, and picks")
    misses.add_argument("--limit", type=int, default=50)
    learn = kb_sub.add_parser("learn", help="accept a question as a phrasing of an entry")
    learn.add_argument("entry_id")
    learn.add_argument("question")
    # Trust (issue 11): the operator's commands, as /admin offers them in Telegram.
    admin = sub.add_parser("admin", help="operator tools: claim, release, audit, block, unblock")
    admin.add_argument("words", nargs=argparse.REMAINDER,
                       help="claim [platform] @handle | release [platform] @handle | "
                            "audit REQUEST | block USER_ID | unblock USER_ID")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `linkpilot` console script.

    Mistakes an operator can fix (settings, DATABASE_URL, the SQLite folder, a knowledge base
    file) end the process with exit code 2 and one line on stderr starting `linkpilot: `.
    Ctrl-C in the chat (or in faq/kb) ends it with 130 and nothing on stderr; `run` stops on
    Ctrl-C by itself.
    """
    from storage.db import DatabaseUrlError, check_database_url
    from storage.knowledge import KbFileError

    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        # Once, before any subcommand opens the database: a bad URL, a missing driver or an
        # unusable SQLite folder is reported here rather than as a traceback from deep inside.
        check_database_url(settings.database_url)
    except (SettingsError, DatabaseUrlError) as exc:
        return fail(str(exc))
    configure_logging(settings.log_level if args.command in (None, "run") else "WARNING")
    try:
        if args.command in (None, "run"):
            run_bot(settings, webhook=getattr(args, "webhook", False))
        elif args.command == "chat":
            from bot.chat import run_chat

            asyncio.run(run_chat(settings))
        elif args.command == "admin":
            from bot.admin import Usage

            try:
                print(admin_command(settings, args.words))
            except Usage as exc:
                return fail(f"admin: {exc}")
        elif args.command == "faq":
            print(json.dumps(faq_json(settings, args.question), ensure_ascii=False))
        elif args.kb_command == "load":
            print(kb_load(settings, args.path))
        elif args.kb_command == "learn":
            try:
                print(kb_learn(settings, args.entry_id, args.question))
            except KbLearnError as exc:
                print(f"linkpilot: {exc}", file=sys.stderr)
                return 1
        else:
            print("\n".join(kb_misses(settings, args.limit)) or "no questions logged yet")
    except KeyboardInterrupt:
        return 130  # Ctrl-C: the chat has said goodbye; a traceback would say nothing useful
    except SettingsError as exc:
        return fail(str(exc))
    except KbFileError as exc:
        return fail(f"knowledge base not loaded: {exc}")
    return 0


def fail(message: str) -> int:
    """Report an error the operator can fix: one line on stderr, exit code 2."""
    print(f"linkpilot: {' '.join(message.split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
