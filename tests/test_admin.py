"""Operator tools (issue 11): `/admin` through a real Application and `linkpilot admin` on the
command line, on SQLite and PostgreSQL. Every operator action is audited; anyone else meets
the usual "unknown command"; a person an operator blocked gets one polite fixed reply."""

from __future__ import annotations

import asyncio
import getpass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.local_api import Person
from bot.settings import Settings
from storage.repositories import REQUESTS
from storage.trust import CLAIM_EVENTS, OPERATOR_ACTIONS
from tests.conftest import BACKENDS, World, send_request

OPERATOR = 9009
UNKNOWN = "I don't know that command. /help lists what I can do."
BANNED = ("Sorry, this bot is not available to you. If you think this is a mistake, contact "
          "its operator.")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    telegram_bot_token=None, flood_messages=100_000,
                    operator_ids=f"{OPERATOR}, 1")


@pytest.fixture
def opal(world: World) -> Person:
    """The operator."""
    return world.person(OPERATOR, "Opal", "opal_ops")


async def actions(world: World) -> list[tuple[str, str, str]]:
    async with world.deps.db.engine.connect() as conn:
        rows = await conn.execute(OPERATOR_ACTIONS.select().order_by(OPERATOR_ACTIONS.c.id))
        return [(r.operator, r.action, r.target) for r in rows]


async def claim_history(world: World) -> list[tuple[str, int | None, str]]:
    async with world.deps.db.engine.connect() as conn:
        rows = await conn.execute(CLAIM_EVENTS.select().order_by(CLAIM_EVENTS.c.id))
        return [(r.event, r.owner_id, r.actor) for r in rows]


async def test_anyone_but_an_operator_meets_the_usual_unknown_command(
        world: World, eve: Person, owen: Person) -> None:
    await owen.send("/claim @owen.makes")
    for text in ("/admin", "/admin claim @owen.makes", "/admin block 2002"):
        assert [m.plain for m in await eve.send(text)] == [UNKNOWN]
    assert [m.plain for m in await eve.send("/nonsense")] == [UNKNOWN]
    assert await actions(world) == []


async def test_an_operator_finds_a_claim_and_its_history(world: World, opal: Person,
                                                          owen: Person) -> None:
    replies = await opal.send("/admin claim @owen.makes")
    assert replies[0].plain.startswith("tiktok @owen.makes: not claimed")
    await owen.send("/claim @Owen.Makes")
    await opal.send("/admin claim tiktok @owen.makes")
    shown = opal.last.plain
    assert "tiktok @owen.makes: claimed by user 2002, unverified" in shown
    assert "claim     owner=2002  by user:2002" in shown
    assert await actions(world) == [(f"operator:{OPERATOR}", "claim", "tiktok:@owen.makes")] * 2
    # A profile address names its own platform, as in /claim.
    await opal.send("/admin claim https://www.instagram.com/owen.makes/")
    assert opal.last.plain.startswith("instagram @owen.makes: not claimed")


async def test_releasing_a_claim_lets_a_new_owner_claim_it(world: World, opal: Person,
                                                           owen: Person, eve: Person,
                                                           ada: Person) -> None:
    await eve.send("/claim @owen.makes")
    await send_request(ada)
    card = eve.last
    assert card.has_buttons
    await opal.send("/admin release @owen.makes")
    assert "released (was user 3003); 1 waiting request(s)" in opal.last.plain
    assert "An operator released your claim on @owen.makes" in eve.last.plain
    assert not next(m for m in eve.inbox if m.message_id == card.message_id).has_buttons
    assert "was released by the bot's operator" in ada.last.plain
    assert "one-time approval link" in ada.last.plain
    # Eve's old card decides nothing now.
    await eve.press_data(card.buttons[0][0].callback_data or "", card.message_id)
    async with world.deps.db.engine.connect() as conn:
        assert [r.status for r in await conn.execute(REQUESTS.select())] == ["pending"]
    # The real owner claims it, and the waiting request comes to him.
    await owen.send("/claim @owen.makes")
    assert "@owen.makes is now yours here" in owen.inbox[-2].plain
    assert "Ada (@ada_ads) asks to use your TikTok account @owen.makes" in owen.last.plain
    assert await claim_history(world) == [("claim", eve.user_id, f"user:{eve.user_id}"),
                                          ("release", None, f"operator:{OPERATOR}"),
                                          ("claim", owen.user_id, f"user:{owen.user_id}")]
    # Releasing what is not claimed changes nothing, and says so.
    await opal.send("/admin release @nobody.here")
    assert opal.last.plain == "tiktok @nobody.here: not claimed, nothing released"
    assert [a[1] for a in await actions(world)] == ["release", "release"]


async def test_an_operator_reads_a_requests_audit_trail(world: World, opal: Person,
                                                         owen: Person, ada: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await owen.press("Approve")
    async with world.deps.db.engine.connect() as conn:
        key = (await conn.execute(REQUESTS.select())).first().key
    await opal.send(f"/admin audit {key}")
    lines = opal.last.plain.splitlines()
    assert lines[0].startswith(f"request {key} (#1): tiktok @owen.makes, ad account Acme Ads, "
                               "requester 1001, owner 2002, now authorized")
    assert "create   - -> pending  by 1001" in lines[1]
    assert "approve  pending -> authorized  by 2002" in lines[2]
    await opal.send("/admin audit 1")
    assert opal.last.plain.splitlines()[0].startswith(f"request {key} (#1)")
    await opal.send("/admin audit nosuchkey")
    assert opal.last.plain == "no request 'nosuchkey'"
    assert [a[1:] for a in await actions(world)] == [("audit", key), ("audit", "1"),
                                                      ("audit", "nosuchkey")]


async def test_a_blocked_person_gets_a_polite_fixed_reply_until_unblocked(
        world: World, opal: Person, eve: Person) -> None:
    await eve.send("/link")
    question = eve.last
    await opal.send(f"/admin block {eve.user_id}")
    assert opal.last.plain == f"user {eve.user_id} blocked: every update gets a fixed reply"
    assert [m.plain for m in await eve.send("/link")] == [BANNED]
    assert [m.plain for m in await eve.send("how do spark codes work?")] == [BANNED]
    await eve.press_data(question.buttons[0][0].callback_data or "", question.message_id)
    assert eve.last_answer == BANNED
    await opal.send(f"/admin block {eve.user_id}")
    assert "already blocked" in opal.last.plain
    # Operators can't be blocked, even by another operator.
    await opal.send("/admin block 1")
    assert "nothing changed" in opal.last.plain
    await opal.send(f"/admin unblock {eve.user_id}")
    assert opal.last.plain == f"user {eve.user_id} unblocked"
    await eve.send("/link")
    assert eve.last.plain != BANNED and eve.last.has_buttons
    assert [a[1:] for a in await actions(world)] == [
        ("block", str(eve.user_id)), ("block", str(eve.user_id)), ("block", "1"),
        ("unblock", str(eve.user_id))]


async def test_a_blocked_person_can_still_read_and_erase_what_is_kept_about_them(
        world: World, opal: Person, eve: Person) -> None:
    await eve.send("/link")
    await opal.send(f"/admin block {eve.user_id}")
    assert [m.plain for m in await eve.send("/help")] == [BANNED]
    await eve.send("/privacy")
    assert eve.last.plain != BANNED and "/deleteme" in eve.last.plain
    await eve.send("/deleteme")
    assert eve.last.plain != BANNED
    await eve.press("Yes")
    assert "your personal data is erased" in eve.last.plain
    async with world.deps.db.unit_of_work() as uow:
        assert await uow.conversations.load(eve.user_id, "link") is None  # the draft is gone
        person = await uow.users.get(eve.user_id)
        assert person is not None and person.deleted
    # Everything else stays blocked.
    assert [m.plain for m in await eve.send("/link")] == [BANNED]


async def test_bad_admin_input_gets_one_line_and_the_usage(world: World, opal: Person) -> None:
    for text, why in (("/admin", "expected one of: claim, release, audit, block, unblock"),
                      ("/admin block abc", "block takes a Telegram user id (digits)"),
                      ("/admin claim @bad name", "claim takes [platform] @handle"),
                      ("/admin claim myspace @x", "claim takes [platform] @handle"),
                      # A bare platform word names no account (not a TikTok user "@instagram").
                      ("/admin claim instagram", "claim takes [platform] @handle"),
                      ("/admin release facebook", "release takes [platform] @handle"),
                      ("/admin release @no\u202eway", "is not a tiktok username")):
        replies = await opal.send(text)
        assert len(replies) == 1 and why in replies[0].plain and "usage: /admin" in \
            replies[0].plain
    assert await actions(world) == []


# --- the same on the command line ----------------------------------------------------------------

async def test_linkpilot_admin_runs_the_same_commands_offline(
        world: World, owen: Person, ada: Person, settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("OPERATOR_IDS", settings.operator_ids)  # the bot's .env, shared
    world.clock.now = datetime.now(UTC)  # the command line runs on the real clock
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    capsys.readouterr()

    async def cli(*args: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await cli("admin", "claim", "@owen.makes")
    assert (code, err) == (0, "") and "claimed by user 2002, unverified" in out
    code, out, err = await cli("admin", "block", "x")
    assert (code, out) == (2, "")
    assert err == "linkpilot: admin: block takes a Telegram user id (digits)\n"
    code, out, err = await cli("admin")
    assert code == 2 and err.startswith("linkpilot: admin: expected one of")
    code, out, err = await cli("admin", "release", "@owen.makes")
    assert (code, err) == (0, "") and "released (was user 2002)" in out
    # The running bot's dispatcher sends what the command owes (the command wrote it at the
    # real time; the bot's clock catches up).
    world.clock.now = datetime.now(UTC) + timedelta(minutes=1)
    await world.flush()
    assert "An operator released your claim on @owen.makes" in owen.last.plain
    assert "was released by the bot's operator" in ada.last.plain
    async with world.deps.db.engine.connect() as conn:
        key = (await conn.execute(REQUESTS.select())).first().key
    code, out, err = await cli("admin", "audit", key)
    assert (code, err) == (0, "") and out.startswith(f"request {key} (#1): tiktok @owen.makes")
    assert "release  pending -> pending  by system" in out
    code, out, err = await cli("admin", "block", str(ada.user_id))
    assert (code, err) == (0, "") and f"user {ada.user_id} blocked" in out
    assert [m.plain for m in await ada.send("/accounts")] == [BANNED]
    code, out, err = await cli("admin", "block", str(OPERATOR))
    assert code == 0 and "nothing changed" in out
    code, out, err = await cli("admin", "unblock", str(ada.user_id))
    assert (code, err) == (0, "") and out == f"user {ada.user_id} unblocked\n"
    assert [m.plain for m in await ada.send("/accounts")] != [BANNED]
    who = f"cli:{getpass.getuser()}"
    assert await actions(world) == [
        (who, "claim", "tiktok:@owen.makes"), (who, "release", "tiktok:@owen.makes"),
        (who, "audit", key), (who, "block", str(ada.user_id)), (who, "block", str(OPERATOR)),
        (who, "unblock", str(ada.user_id))]
