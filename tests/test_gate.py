"""The operator block's gate (issue 11) on the hot path: one read before the handlers, shared
with the person's link conversation. A block holds from the next update wherever it was made;
the conversation the gate read is the one the handler sees, and never a stale one after a
write. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.local_api import Person
from bot.settings import Settings
from flows.records import ConversationRow
from storage.uow import Database
from tests.conftest import BACKENDS, World

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADA = 1001
OPERATOR = 9009
BANNED = ("Sorry, this bot is not available to you. If you think this is a mistake, contact "
          "its operator.")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    telegram_bot_token=None, flood_messages=100_000,
                    operator_ids=str(OPERATOR))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, lambda: NOW)
    await database.migrate()
    async with database.unit_of_work() as uow:
        await uow.users.seen(ADA, "Ada", None, NOW)
        await uow.commit()
    try:
        yield database
    finally:
        await database.dispose()


async def test_the_gate_reads_the_conversation_the_handler_then_sees(db: Database) -> None:
    async with db.unit_of_work() as uow:
        assert await uow.bans.turned_away(ADA, ["link"]) is False
        assert await uow.conversations.load(ADA, "link") is None
        saved = await uow.conversations.save(ConversationRow(ADA, "link", "", {}, 0),
                                             "platform", {"a": 1}, NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.bans.turned_away(ADA, ["link"]) is False
        assert await uow.conversations.load(ADA, "link") == saved
        after = await uow.conversations.save(saved, "prerequisite", {"a": 2}, NOW)
        # Read again after a write: the row as written, not the one the gate read.
        assert await uow.conversations.load(ADA, "link") == after
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.bans.turned_away(ADA, ["link"]) is False
        await uow.conversations.delete(ADA, "link")
        assert await uow.conversations.load(ADA, "link") is None
        await uow.bans.add(ADA, "operator:1", NOW)
        assert await uow.bans.turned_away(ADA, ["link"]) is True
        await uow.commit()


async def test_the_gate_reads_every_conversation_it_is_asked_for_present_or_not(
        db: Database) -> None:
    flows = ["link", "prerequisites"]
    async with db.unit_of_work() as uow:
        assert await uow.bans.turned_away(ADA, flows) is False
        assert await uow.conversations.load(ADA, "prerequisites") is None
        known = await uow.conversations.save(ConversationRow(ADA, "prerequisites", "", {}, 0),
                                             "known", {"platforms": ["tiktok"]}, NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.bans.turned_away(ADA, flows) is False
        assert await uow.conversations.load(ADA, "prerequisites") == known
        assert await uow.conversations.load(ADA, "link") is None
        link = await uow.conversations.save(ConversationRow(ADA, "link", "", {}, 0),
                                            "platform", {}, NOW)
        await uow.bans.add(ADA, "operator:1", NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:  # two rows found, and the block still seen
        assert await uow.bans.turned_away(ADA, flows) is True
        assert await uow.conversations.load(ADA, "link") == link
        assert await uow.conversations.load(ADA, "prerequisites") == known


@pytest.fixture
def opal(world: World) -> Person:
    return world.person(OPERATOR, "Opal", "opal_ops")


async def test_a_block_mid_conversation_keeps_it_for_after_the_unblock(
        world: World, ada: Person, opal: Person) -> None:
    await ada.send("/link")
    await ada.press("TikTok")
    question = ada.last
    await opal.send(f"/admin block {ada.user_id}")
    await ada.press("Yes", question)
    assert ada.last_answer == BANNED
    assert [m.plain for m in await ada.send("Acme Ads")] == [BANNED]
    await opal.send(f"/admin unblock {ada.user_id}")
    # The conversation waited where it was: the same question's button still answers it.
    await ada.press("Yes", question)
    assert ada.last_answer != BANNED
    await ada.send("/status")
    assert "Before you start: check 2 of 3" in ada.last.plain  # one step on, none lost
