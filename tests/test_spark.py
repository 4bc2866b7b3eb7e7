"""Spark codes end to end: a creator makes, lists, extends and deletes codes, advertisers apply
them, and the clock expires them across a restart, through a real Application, a real database
(SQLite and PostgreSQL) and the Bot API double. Each test asserts what people would see."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from bot.local_api import Person
from flows import spark
from flows.usecases import Actor
from storage.uow import Database
from tests.conftest import BACKENDS, Clock, World

VIDEO_ID = "7301234567890123456"
VIDEO_URL = f"https://www.tiktok.com/@owen.makes/video/{VIDEO_ID}?is_from_webapp=1"
CODE = re.compile(r"#[A-Za-z0-9+/]{63}=")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def count(person: Person, marker: str) -> int:
    return sum(marker in m.plain for m in person.inbox)


async def make_code(owen: Person, period: str = "30 days") -> str:
    """/code for Owen's video, a period pressed; the code as his chat shows it."""
    await owen.send(f"/code {VIDEO_URL}")
    await owen.press(period)
    found = CODE.findall(owen.last.plain)
    assert len(found) == 1, owen.last.plain
    return found[0]


async def test_the_code_lifecycle(world: World, clock: Clock, ada: Person, owen: Person,
                                  eve: Person) -> None:
    # Commands are in the menu.
    assert ("apply", "Apply a creator's Spark code: /apply #code") in world.api.commands
    assert {"code", "codes"} <= {name for name, _ in world.api.commands}

    # The creator: what is not a video says why; a video gets the period question.
    await owen.send("/code")
    assert "followed by your TikTok video's address" in owen.last.plain
    await owen.send("/code https://vm.tiktok.com/ZMabc123/")
    assert "short share link" in owen.last.plain
    await owen.send(f"/code {VIDEO_URL}")
    question = owen.last
    assert "Spark code for @owen.makes's video 7301234567890123456" in question.plain
    assert question.labels == ["7 days", "30 days", "60 days", "1 year (365 days)"]
    await owen.press("30 days")
    made = owen.last
    code = CODE.findall(made.plain)[0]
    assert "valid 30 days, until 22 Dec 2026, 12:00 UTC" in made.plain
    assert f"<code>{code}</code>" in made.text  # tap to copy
    settled = next(m for m in owen.inbox if m.message_id == question.message_id)
    assert not settled.has_buttons and "30 days" in settled.plain
    # The period buttons stop working once answered: no second code.
    await owen.press_data(question.buttons[0][0].callback_data or "", question.message_id)
    assert owen.last_answer == "That question was already answered."
    assert count(owen, "Your Spark code") == 1

    # The advertiser: a wrong format, then applied, with the video, creator and end.
    await ada.send("/apply")
    assert "followed by the Spark code" in ada.last.plain
    await ada.send(f"/apply {code[:40]}")
    assert "Error 4013 (auth_code_format_error)" in ada.last.plain
    assert "Copy the whole code again" in ada.last.plain
    await ada.send(f"/apply {code}")
    applied = ada.last.plain
    assert "Authorization applied" in applied
    assert "Post: @owen.makes's video 7301234567890123456" in applied
    assert "Creator: Owen (@owen_creator)" in applied
    assert "Authorized until 22 Dec 2026, 12:00 UTC" in applied
    assert "Use other authorized account or post" in applied
    assert "Ada (@ada_ads) applied your Spark code for @owen.makes's video" in owen.last.plain

    # One advertiser only; the creator can't apply their own.
    await eve.send(f"/apply {code}")
    assert "already used by another advertiser" in eve.last.plain
    await owen.send(f"/apply {code}")
    assert "This is your own code" in owen.last.plain

    # The creator lists the code (copyable) and extends it.
    await owen.send("/codes")
    listing = owen.last
    assert f"<code>{code}</code>" in listing.text
    assert "30 days · works until 22 Dec 2026, 12:00 UTC, applied by Ada (@ada_ads)" \
        in listing.plain
    assert listing.labels == ["⏳ Extend 1", "🗑 Delete 1"]
    old_delete = listing.buttons[0][1].callback_data or ""
    clock.advance(timedelta(days=2))
    await owen.press("Extend 1")
    await owen.press("1 year (365 days)")
    assert owen.last_answer == "Done: the code for video 7301234567890123456 now works until " \
                               "24 Nov 2027, 12:00 UTC."
    assert "1 year (365 days) · works until 24 Nov 2027, 12:00 UTC" in owen.last.plain
    assert "was extended: it works for you until 24 Nov 2027, 12:00 UTC" in ada.last.plain
    # A button drawn before the extension is refused, and the list redrawn as it stands.
    await owen.press_data(old_delete, listing.message_id)
    assert owen.last_answer == "That code changed since; here is your list as it stands."
    assert "Delete the code" not in owen.last.plain

    # Delete, asked first; then applying it answers auth_code_not_found.
    await owen.press("Delete 1")
    assert "Ada (@ada_ads) applied it" in owen.last.plain
    confirm = owen.last
    await owen.press("Yes, delete it")
    assert owen.last_answer == "Deleted: the code for video 7301234567890123456 no longer works."
    assert "You have no Spark codes" in owen.last.plain
    assert "was deleted by the creator" in ada.last.plain
    await owen.press_data(confirm.buttons[0][0].callback_data or "", confirm.message_id)
    assert owen.last_answer == "That code changed since; here is your list as it stands."
    await ada.send(f"/apply {code}")
    assert "auth_code_not_found" in ada.last.plain and "deleted" in ada.last.plain
    await eve.send(f"/apply {code}")
    assert "auth_code_not_found" in eve.last.plain


async def test_codes_expire_across_a_restart_telling_both_sides(
        world: World, clock: Clock, ada: Person, owen: Person, eve: Person) -> None:
    code = await make_code(owen, "7 days")
    unused = await make_code(owen, "7 days")
    await ada.send(f"/apply {code}")
    await world.stop()
    clock.advance(timedelta(days=8))  # the bot was down when they fell due
    await world.boot()
    await world.sweep()
    assert count(owen, "expired on 29 Nov 2026, 12:00 UTC") == 2
    assert count(owen, "Ada (@ada_ads) can't use it for new ads any more") == 1
    assert count(ada, "expired on 29 Nov 2026, 12:00 UTC (Ads Manager answers error 4025") == 1
    await world.sweep()  # once only
    await world.flush()
    assert count(owen, "expired on") == 2 and count(ada, "expired on") == 1
    await eve.send(f"/apply {unused}")
    assert "Error 4025 (auth_code_expired)" in eve.last.plain
    assert "ended on 29 Nov 2026, 12:00 UTC" in eve.last.plain
    assert "Ask the creator to extend it" in eve.last.plain
    await owen.send("/codes")
    assert count(owen, "expired on 29 Nov 2026, 12:00 UTC, not applied yet") == 1
    # Extended, it works again for its advertiser and no one else.
    await owen.press("Extend 1")  # the newest first: the unused code
    await owen.press("7 days")
    await eve.send(f"/apply {unused}")
    assert "Authorization applied" in eve.last.plain
    await ada.send(f"/apply {code}")
    assert "Error 4025" in ada.last.plain


async def test_privacy_covers_codes(world: World, ada: Person, owen: Person,
                                    eve: Person) -> None:
    await owen.send("/privacy")
    assert "Spark codes: the code (readable, so its creator can copy it again" \
        in owen.last.plain
    used = await make_code(owen)
    unused = await make_code(owen)
    await ada.send(f"/apply {used}")
    await owen.send("/deleteme")
    assert "the Spark codes you made that nobody applied" in owen.last.plain
    await owen.press("Yes, erase my data")
    assert "1 unused Spark code deleted" in owen.last.plain
    await eve.send(f"/apply {unused}")
    assert "auth_code_not_found" in eve.last.plain
    await ada.send("/codes")
    assert "video 7301234567890123456 from a deleted user" in ada.last.plain
    await ada.send(f"/apply {used}")
    assert "Creator: a deleted user" in ada.last.plain


async def test_two_advertisers_applying_at_once_one_wins(
        world: World, clock: Clock, ada: Person, owen: Person, eve: Person) -> None:
    """Two processes on one database, each applying the same code for a different advertiser:
    the conditional update lets exactly one of them have it."""
    code = await make_code(owen)
    second = Database(world.settings.database_url)

    async def apply(db: Database, who: Person) -> str:
        async with db.unit_of_work() as uow:
            try:
                await spark.apply_code(uow, Actor(who.user_id, str(who.user["first_name"]),
                                                     who.user.get("username")), code, clock())
            except spark.CodeRefused as refused:
                return refused.reason
            await uow.commit()
            return "applied"

    try:
        results = await asyncio.gather(apply(world.deps.db, ada), apply(second, eve))
    finally:
        await second.dispose()
    assert sorted(results) == ["applied", "taken"]
    await owen.send("/codes")
    winner = "Ada (@ada_ads)" if results[0] == "applied" else "Eve (@eve)"
    assert f"applied by {winner}" in owen.last.plain


async def test_an_expiry_notice_refused_for_now_arrives_once_later(
        world: World, clock: Clock, ada: Person, owen: Person) -> None:
    code = await make_code(owen, "7 days")
    await ada.send(f"/apply {code}")
    clock.advance(timedelta(days=7))
    world.api.fail_next("sendMessage", 500, "Internal Server Error", chat_id=ada.user_id)
    await world.sweep()
    assert count(owen, "expired on") == 1
    assert count(ada, "expired on") == 0
    for _ in range(3):
        clock.advance(timedelta(minutes=10))
        await world.flush()
    assert count(ada, "expired on") == 1
