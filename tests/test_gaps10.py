"""The last gaps of issue 10 (platforms), each as a user would notice it, through a real
Application on the Bot API double, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.local_api import Person
from flows import teams
from flows.records import RequestRow
from storage.uow import Database, UnitOfWork
from tests.conftest import BACKENDS, World, pass_prerequisites, send_request
from tests.test_spark import make_code


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def claims_of(world: World, user_id: int) -> list[tuple[str, str]]:
    async with world.deps.db.unit_of_work() as uow:
        return [(c.platform, c.handle) for c in await uow.claims.of_owner(user_id)]


# --- 1. Every form of /claim ----------------------------------------------------------------------
# (what the owner sends, a line of the reply, what is claimed: (platform, handle) or None)
CLAIMS = [
    ("/claim instagram", "/claim instagram @yourhandle", None),
    ("/claim Instagram", "/claim instagram @yourhandle", None),
    ("/claim facebook", "/claim facebook yourpage", None),
    ("/claim tiktok", "with your TikTok username or profile link", None),
    ("/claim", "/claim instagram @yourhandle", None),
    ("/claim myspace @someone", "/claim facebook yourpage", None),
    ("/claim instagram @one two", "/claim instagram @yourhandle", None),
    ("/claim instagram bad!name", "this one has !", None),
    ("/claim facebook abc", "/claim facebook yourpage", None),
    ("/claim https://www.instagram.com/p/C1a2b3/", "/claim instagram @yourhandle", None),
    ("/claim @instagram", "@instagram is now yours", ("tiktok", "instagram")),
    ("/claim @tik.one", "@tik.one is now yours", ("tiktok", "tik.one")),
    ("/claim tik.two", "@tik.two is now yours", ("tiktok", "tik.two")),
    ("/claim tiktok @tik.three", "@tik.three is now yours", ("tiktok", "tik.three")),
    ("/claim TikTok https://www.tiktok.com/@tik.four", "@tik.four is now yours",
     ("tiktok", "tik.four")),
    ("/claim https://www.tiktok.com/@tik.five?lang=en", "@tik.five is now yours",
     ("tiktok", "tik.five")),
    ("/claim instagram @insta.one", "@insta.one is now yours", ("instagram", "insta.one")),
    ("/claim instagram insta.two", "@insta.two is now yours", ("instagram", "insta.two")),
    ("/claim https://instagram.com/insta.three", "@insta.three is now yours",
     ("instagram", "insta.three")),
    ("/claim facebook acme.shoes", "acme.shoes is now yours", ("facebook", "acme.shoes")),
    ("/claim facebook https://www.facebook.com/Acme.Boots", "Acme.Boots is now yours",
     ("facebook", "Acme.Boots")),
    ("/claim https://facebook.com/acme.hats/", "acme.hats is now yours", ("facebook", "acme.hats")),
    ("/claim facebook 100064212345678", "Page ID 100064212345678 is now yours",
     ("facebook", "100064212345678")),
    ("/claim https://www.facebook.com/profile.php?id=100064212345679",
     "Page ID 100064212345679 is now yours", ("facebook", "100064212345679")),
]


async def test_every_form_of_claim(world: World) -> None:
    """A bare platform word gets that platform's usage and claims nothing (it used to claim the
    TikTok account @instagram); an address names its own platform."""
    for number, (command, said, claimed) in enumerate(CLAIMS):
        person = world.person(5000 + number, f"Owner{number}")
        await person.send(command)
        reply = person.inbox[0].plain
        assert reply.startswith(said) if claimed else said in reply, (command, reply)
        assert len(person.inbox) == 1, command
        assert await claims_of(world, person.user_id) == ([claimed] if claimed else []), command


# --- 3. A Spark code pasted without /apply --------------------------------------------------------

async def test_a_pasted_spark_code_says_how_to_apply_it_and_applies_nothing(
        world: World, ada: Person, owen: Person) -> None:
    code = await make_code(owen)
    await ada.send(code)
    said = ada.last
    assert "looks like a TikTok Spark Ads authorization code" in said.plain
    assert f"<code>/apply {code}</code>" in said.text  # tap to copy
    await ada.send(code.removeprefix("#"))  # the "#" left behind when copying
    assert f"/apply {code}" in ada.last.plain
    async with world.deps.db.unit_of_work() as uow:
        row = await uow.spark_codes.by_code(code)
    assert row is not None and row.applied_by is None  # nothing applied
    assert not any("Authorization applied" in m.plain for m in ada.inbox)
    assert not any("applied" in m.plain for m in owen.inbox[-1:])

    # Text that is not a whole code (one character short) is not taken for one.
    await ada.send(code[:-2] + "=")
    assert "Spark Ads authorization code" not in ada.last.plain

    # In the middle of a request, the question is asked again and the answer still awaited.
    await pass_prerequisites(ada)
    asked = ada.last.plain
    await ada.send(code)
    assert "looks like a TikTok Spark Ads authorization code" in ada.inbox[-2].plain
    assert ada.last.plain == asked
    await ada.send("Acme Ads")
    assert "Which TikTok account should be linked?" in ada.last.plain

    await ada.send(f"/apply {code}")
    assert "Authorization applied" in ada.last.plain


# --- 4. Teams: the recap of confirmed checks, and the first request's admin ----------------------

ROLE_CHECK = "Admin or Operator access on that ad account"


async def test_the_recap_says_the_role_is_known_instead_of_asking_it_again(
        world: World, ada: Person, eve: Person) -> None:
    # Eve confirmed the checks but has no team: the recap still lists the role.
    await pass_prerequisites(eve)
    await eve.send("/cancel")
    await eve.send("/link")
    await eve.press("TikTok")
    assert "Is all of this still true?" in eve.last.plain
    assert ROLE_CHECK in eve.last.plain

    # Ada's first request made her the admin of Acme Ads: the recap says so, and asks the rest.
    await send_request(ada)
    await ada.send("/link")
    await ada.press("TikTok")
    recap = ada.last.plain
    assert "Ad account role: you are an admin of Acme Ads in Linkpilot, so I won't ask" in recap
    assert ROLE_CHECK not in recap
    assert "a TikTok For Business login with an Ads Manager ad account" in recap
    assert "the TikTok account to link is a Business account" in recap
    # Reviewing asks the other checks only.
    await ada.press("Review")
    await ada.press("Yes")
    assert "Ad account role: you are an admin of Acme Ads" in ada.last.plain
    assert "Business account" in ada.last.plain


# Two first requests for one ad account at the same moment, each in its own process (its own
# `Database`, so its own connection): the database serialises them, and only one becomes admin.
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ADA, OWEN, EVE = 1001, 2002, 3003


async def _at_once(url: str, attempts: list[Callable[[UnitOfWork], Awaitable[None]]], *,
                   meet_after: str = "") -> list[BaseException | None]:
    """Run each attempt in a unit of work of its own process, released together.

    With `meet_after` (a method of the teams repository; PostgreSQL only, as SQLite's writers
    queue from BEGIN), every attempt has made its first read with that method before any of
    them goes on: the interleaving a check-then-insert loses. The real repository answers;
    each attempt only waits for the others after its first such read."""
    started = asyncio.Barrier(len(attempts))
    have_read = asyncio.Barrier(len(attempts))
    processes = [Database(url) for _ in attempts]

    async def one(attempt: Callable[[UnitOfWork], Awaitable[None]], process: Database) -> None:
        await started.wait()
        async with process.unit_of_work() as uow:
            if meet_after:
                read = getattr(uow.teams, meet_after)
                waited = False

                async def read_then_meet(*args: Any) -> Any:
                    nonlocal waited
                    found = await read(*args)
                    if not waited:
                        waited = True
                        await have_read.wait()
                    return found

                setattr(uow.teams, meet_after, read_then_meet)
            await attempt(uow)
            await uow.commit()

    try:
        return list(await asyncio.gather(*(one(a, p) for a, p in zip(attempts, processes,
                                                                     strict=True)),
                                         return_exceptions=True))
    finally:
        for process in processes:
            await process.dispose()


async def _requests(db: Database, *requesters: int) -> list[RequestRow]:
    """One committed TikTok request for Acme Ads from each requester."""
    made = []
    async with db.unit_of_work() as uow:
        for user_id in (ADA, OWEN, EVE):
            await uow.users.seen(user_id, f"User{user_id}", None, NOW)
        for number, user_id in enumerate(requesters):
            made.append(await uow.requests.create(
                key=f"k{user_id}-{number}", requester_id=user_id, platform="tiktok",
                handle=f"brand{number}", handle_key=f"brand{number}", ad_account="Acme Ads",
                scopes=["existing_posts"], visibility=None, owner_id=None, now=NOW,
                expires_at=NOW + timedelta(days=7)))
        await uow.commit()
    return made


async def _team(db: Database) -> list[tuple[int, str]]:
    async with db.unit_of_work() as uow:
        account = await uow.teams.find(teams.name_key("Acme Ads"))
        assert account is not None
        return [(m.user_id, m.role) for m in await uow.teams.members(account.id)]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.mark.parametrize("empty_team", [False, True], ids=["new", "left_empty"])
async def test_two_first_requests_at_once_make_one_admin(db: Database, empty_team: bool) -> None:
    """A new ad account, or one whose only member left with /deleteme: of two first requests
    sent at once, one makes its sender admin and the other leaves its sender out of the team."""
    if empty_team:
        (eves,) = await _requests(db, EVE)
        async with db.unit_of_work() as uow:
            await teams.request_made(uow, eves, NOW)
            await teams.forget_person(uow, EVE)
            await uow.commit()
        assert await _team(db) == []
    adas, owens = await _requests(db, ADA, OWEN)

    def first(request: RequestRow) -> Callable[[UnitOfWork], Awaitable[None]]:
        async def go(uow: UnitOfWork) -> None:
            await teams.request_made(uow, request, NOW)
        return go

    # On a team left empty, both can read "no members" before either writes (PostgreSQL);
    # a new ad account's row is inserted by one while the other's insert waits for it.
    pg = db.engine.dialect.name == "postgresql"
    assert await _at_once(db.url, [first(adas), first(owens)],
                          meet_after="members" if empty_team and pg else "") == [None, None]
    members = await _team(db)
    assert len(members) == 1 and members[0][1] == "admin", members
    assert members[0][0] in (ADA, OWEN)


@pytest.mark.parametrize("empty_team", [False, True], ids=["new", "left_empty"])
async def test_two_new_teams_of_one_name_at_once_make_one_admin(db: Database,
                                                                empty_team: bool) -> None:
    """/team new with one name from two people at once: one founds the team, the other is told
    it exists."""
    if empty_team:
        (eves,) = await _requests(db, EVE)
        async with db.unit_of_work() as uow:
            await teams.request_made(uow, eves, NOW)
            await teams.forget_person(uow, EVE)
            await uow.commit()
    else:
        await _requests(db)

    def found(user_id: int) -> Callable[[UnitOfWork], Awaitable[None]]:
        async def go(uow: UnitOfWork) -> None:
            await teams.new_ad_account(uow, user_id, "Acme Ads", NOW)
        return go

    # Both look the name up (PostgreSQL), then: a new one is inserted by one while the other's
    # insert waits for it; on a team left empty, both read "no members" before either writes.
    pg = db.engine.dialect.name == "postgresql"
    results = await _at_once(db.url, [found(ADA), found(OWEN)],
                             meet_after=("members" if empty_team else "find") if pg else "")
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "TeamRefused"]
    refused = next(r for r in results if r is not None)
    assert isinstance(refused, teams.TeamRefused) and refused.reason == "exists"
    members = await _team(db)
    assert len(members) == 1 and members[0][1] == "admin", members


# --- 5. A Page by username and by ID: two accounts, each shown as typed --------------------------

async def test_a_page_by_username_and_by_id_are_two_accounts_shown_as_typed(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim facebook Acme.Shoes")
    await owen.send("/claim https://www.facebook.com/profile.php?id=100064212345678")
    await owen.send("/owned")
    owned = owen.last.plain
    assert "Acme.Shoes (Facebook Page)" in owned
    assert "Page ID 100064212345678 (Facebook Page)" in owned
    assert "@Acme.Shoes" not in owned and "@100064212345678" not in owned
    assert sorted(await claims_of(world, owen.user_id)) == [("facebook", "100064212345678"),
                                                            ("facebook", "Acme.Shoes")]


async def test_verify_with_a_bare_platform_word_names_no_account(world: World,
                                                                 owen: Person) -> None:
    """`/verify instagram` is about Owen's Instagram claims, not a TikTok account @instagram."""
    await owen.send("/claim @owen.makes")
    await owen.send("/verify instagram")  # no Instagram claim: how to use /verify
    assert "Send /verify @yourhandle" in owen.last.plain
    await owen.send("/claim instagram owen.makes")
    await owen.send("/verify instagram")  # the one Instagram claim (logins are off here)
    assert "not set up on this bot" in owen.last.plain
