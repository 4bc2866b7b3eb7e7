"""Teams (issue 10) through a real PTB Application, a real database (SQLite and PostgreSQL) and
the Bot API double: what admins, operators and analysts see and may do, invite links, and the
migration that puts existing requests into teams."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text

from bot.local_api import Person, SentMessage
from storage.repositories import REQUESTS
from storage.teams import AD_ACCOUNT_REQUESTS, AD_ACCOUNTS, MEMBERSHIPS
from storage.uow import Database
from tests.conftest import BACKENDS, Clock, World, database_before, send_request
from tests.test_scenarios import statuses

INVITE = re.compile(r"https://t\.me/linkpilot_bot\?start=(inv_[\w-]+)")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bea(world: World) -> Person:
    """Ada's colleague."""
    return world.person(5005, "Bea", "bea")


async def open_team(person: Person, name: str = "Acme Ads") -> SentMessage:
    await person.send("/team")
    await person.press(name)
    return person.last


async def invite(admin: Person, role: str) -> str:
    """The admin makes an invite link for `role` from /team; returns the link's start text."""
    await open_team(admin)
    await admin.press(f"Invite {role}")
    found = INVITE.search(admin.last.plain)
    assert found, admin.last.plain
    return f"/start {found.group(1)}"


async def answer_prerequisites(person: Person) -> list[str]:
    """/link, TikTok, Yes to every prerequisite asked; returns the questions' texts."""
    await person.send("/link")
    await person.press("TikTok")
    asked = []
    while "Yes" in person.last.labels:
        asked.append(person.last.plain)
        await person.press("Yes")
    asked.append(person.last.plain)
    return asked


async def test_a_team_grows_by_invite_and_its_members_skip_the_role_question(
        world: World, ada: Person, owen: Person, bea: Person, eve: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await ada.send("/team")
    assert "Acme Ads: an admin" in ada.last.plain

    link = await invite(ada, "operator")
    assert "Invite to Acme Ads as an operator" in ada.last.plain
    assert "It works once" in ada.last.plain
    await bea.send(link)
    assert "Welcome to the team of Acme Ads: you are an operator" in bea.last.plain
    assert "Bea (@bea) joined the team of Acme Ads as an operator" in ada.last.plain
    await eve.send(link)
    assert "was used already" in eve.last.plain
    await eve.send("/team")
    assert "not in any ad account's team" in eve.last.plain

    asked = await answer_prerequisites(bea)
    assert len(asked) == 3  # two questions, then the ad account: the role was known
    assert "check 1 of 3" in asked[0] and "check 3 of 3" in asked[1]  # check 2 passed over
    assert "you are an operator of Acme Ads in Linkpilot, so I won't ask" in asked[1]
    assert "name of the ad account" in bea.last.plain
    await bea.send("acme ads")
    await bea.send("@owen.makes")
    await bea.press("Use existing posts")
    await bea.press("Continue")
    await bea.press("Send request")
    assert "Request sent to the owner of @owen.makes" in bea.last.plain
    assert await statuses(world) == ["pending", "pending"]

    await ada.send("/accounts")
    assert "Your teams' requests" in ada.last.plain
    assert "@owen.makes (TikTok) → acme ads: waiting for approval · by Bea (@bea)" \
        in ada.last.plain


async def test_an_analyst_sees_status_only_and_is_told_why(
        world: World, ada: Person, owen: Person, bea: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await bea.send(await invite(ada, "analyst"))
    assert "you are an analyst (sees the requests' status only)" in bea.last.plain

    await bea.send("/accounts")
    assert "@owen.makes (TikTok) → Acme Ads: waiting for approval · by Ada" in bea.last.plain
    assert not bea.last.has_buttons

    asked = await answer_prerequisites(bea)
    assert any("Admin or Operator" in q for q in asked)  # an analyst's role answers nothing
    await bea.send("Acme Ads")
    assert "You are an analyst of Acme Ads in Linkpilot" in bea.inbox[-2].plain
    assert "name of the ad account" in bea.last.plain  # the same question again
    assert await statuses(world) == ["pending"]


async def test_a_member_made_analyst_can_no_longer_unlink(
        world: World, ada: Person, owen: Person, bea: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await owen.press("Approve")
    await ada.send("/accounts")
    accounts = ada.last
    assert "Unlink @owen.makes · Acme Ads" in accounts.labels

    await bea.send(await invite(ada, "admin"))
    await open_team(bea)
    await bea.press("Ada (@ada_ads) · Admin")
    assert "Ada (@ada_ads) is an admin of Acme Ads" in bea.last.plain
    await bea.press("Make an analyst")
    assert bea.last_answer == "Ada (@ada_ads) is an analyst now."
    assert "Ada (@ada_ads): Analyst" in bea.last.plain
    assert "Bea (@bea) made you an analyst of Acme Ads" in ada.last.plain

    await ada.press("Unlink @owen.makes · Acme Ads", accounts)  # the list from before
    assert ada.last_answer is not None
    assert "You are an analyst of Acme Ads" in ada.last_answer
    assert "can't cancel or unlink" in ada.last_answer
    assert await statuses(world) == ["authorized"]
    await ada.send("/accounts")
    assert "status only" in ada.last.plain and not ada.last.has_buttons

    # Made an operator again, she may unlink.
    await open_team(bea)
    await bea.press("Ada (@ada_ads) · Analyst")
    await bea.press("Make an operator")
    await ada.send("/accounts")
    await ada.press("Unlink @owen.makes · Acme Ads")
    await ada.press("Yes, unlink")
    assert await statuses(world) == ["unlinked"]


async def test_the_last_admin_stays_and_old_team_buttons_stop_working(
        world: World, ada: Person, bea: Person) -> None:
    await send_request(ada)
    view = await open_team(ada)
    await ada.press("Leave the team", view)
    assert ada.last_answer == "Acme Ads needs at least one admin: make someone else an admin first."
    await ada.press("Ada (@ada_ads) · Admin", view)
    await ada.press("Make an operator")
    assert ada.last_answer == "Acme Ads needs at least one admin: make someone else an admin first."

    view = await open_team(ada)
    await bea.send(await invite(ada, "analyst"))  # joining changes the team
    await ada.press("Leave the team", view)
    assert ada.last_answer == "The team of Acme Ads has changed since; here it is as it is now."
    redrawn = next(m for m in ada.inbox if m.message_id == view.message_id)
    assert "Bea (@bea): Analyst" in redrawn.plain
    await ada.press("Bea (@bea) · Analyst", redrawn)
    await ada.press("Remove from the team")
    assert ada.last_answer == "Bea (@bea) is no longer in the team."
    assert "You are no longer in the team of Acme Ads" in bea.last.plain
    await bea.send("/team")
    assert "not in any ad account's team" in bea.last.plain


async def test_an_invite_expires_and_a_forged_one_is_refused(
        world: World, clock: Clock, ada: Person, bea: Person) -> None:
    await send_request(ada)
    link = await invite(ada, "operator")
    await ada.send(link)  # the admin opening their own link: it stays unused
    assert "You are already an admin of Acme Ads" in ada.last.plain
    clock.advance(world.settings.team_invite_lifetime)
    await bea.send(link)
    assert "This invite to Acme Ads has expired" in bea.last.plain
    await bea.send("/start inv_" + "A" * 32)
    assert "This invite link isn't valid" in bea.last.plain
    await bea.send("/team")
    assert "not in any ad account's team" in bea.last.plain


async def test_team_new_adds_an_ad_account_once(world: World, bea: Person, eve: Person) -> None:
    await bea.send("/team new   Bea   Media")
    assert "Bea Media is in Linkpilot now, with you as its admin" in bea.last.plain
    await eve.send("/team new bea media")
    assert "Bea Media already has a team in Linkpilot" in eve.last.plain
    await eve.send("/team new")
    assert "/team new Ad account name" in eve.last.plain
    await eve.send("/team new \u202eevil")
    assert "U+202E" in eve.last.plain
    await bea.send("/team")
    assert "Bea Media: an admin" in bea.last.plain


async def test_deleteme_hands_the_team_to_its_longest_standing_member(
        world: World, ada: Person, bea: Person) -> None:
    await send_request(ada)
    await bea.send(await invite(ada, "operator"))
    await ada.send("/deleteme")
    await ada.press("Yes, erase my data")
    assert "The last admin of Acme Ads left Linkpilot, so you are its admin now" \
        in bea.last.plain
    await open_team(bea)
    assert "Acme Ads: you are an admin" in bea.last.plain
    assert "Ada" not in bea.last.plain
    await bea.send("/privacy")
    assert "Teams: the ad accounts whose team you are in, your role on each" in bea.last.plain


# --- the migration --------------------------------------------------------------------------------

@pytest.fixture
async def old_db(database_url: str) -> AsyncIterator[Database]:
    """A database at the schema before teams (PostgreSQL's arrives migrated: taken back)."""
    async with database_before(database_url, "0009") as database:
        yield database


async def test_the_migration_puts_existing_requests_into_teams(old_db: Database) -> None:
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    async with old_db.unit_of_work() as uow:
        for user_id, name in ((1, "Ada"), (2, "Bea"), (3, "Cy"), (4, "Dee")):
            await uow.users.seen(user_id, name, None, t0)
        await uow.users.erase(3, t0)
        made = [(2, "Acme  Ads", 1), (1, "acme ads", 0), (3, "Cy Media", 2), (4, "ACME ADS", 3),
                (1, "Acme Ads", 4)]
        await uow.commit()
    ids = []
    async with old_db.engine.begin() as conn:  # the columns of then (later ones not there yet)
        for requester, ad_account, day in made:
            result = await conn.execute(insert(REQUESTS).values(
                key=f"k{len(ids)}", requester_id=requester, platform="tiktok",
                handle="owen.makes", handle_key="owen.makes", ad_account=ad_account,
                scopes=["existing_posts"], visibility=None, status="pending", owner_id=None,
                version=1, created_at=t0 + timedelta(days=day),
                updated_at=t0 + timedelta(days=day), expires_at=t0 + timedelta(days=day + 7)))
            ids.append(result.inserted_primary_key[0])
    await old_db.migrate()
    async with old_db.engine.connect() as conn:
        accounts = {r.name_key: (r.id, r.name) for r in await conn.execute(
            select(AD_ACCOUNTS))}
        members = sorted((r.ad_account_id, r.user_id, r.role) for r in await conn.execute(
            select(MEMBERSHIPS)))
        links = dict((r.request_id, r.ad_account_id) for r in await conn.execute(
            select(AD_ACCOUNT_REQUESTS)))
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert len(version) == 1
    acme, acme_name = accounts["acme ads"]
    cy, _ = accounts["cy media"]
    assert acme_name == "acme ads"  # as the first request named it
    # Ada named it first: admin; Bea and Dee sent requests for it too: operators. Cy erased
    # their data, so their ad account has nobody (the next requester will be its admin).
    assert members == [(acme, 1, "admin"), (acme, 2, "operator"), (acme, 4, "operator")]
    assert links == {ids[0]: acme, ids[1]: acme, ids[2]: cy, ids[3]: acme, ids[4]: acme}


async def test_names_read_as_typed_in_messages_and_in_button_answers(
        world: World, bea: Person) -> None:
    await bea.send("/team new Tom & Jerry <Ads>")
    assert "Tom & Jerry <Ads> is in Linkpilot now" in bea.last.plain
    view = await open_team(bea, "Tom & Jerry <Ads>")
    assert "Tom & Jerry <Ads>: you are an admin" in view.plain
    await bea.press("Leave the team", view)
    assert bea.last_answer == ("Tom & Jerry <Ads> needs at least one admin: make someone else "
                               "an admin first.")


async def test_an_operator_acts_on_a_teammates_requests_from_accounts(
        world: World, ada: Person, owen: Person, bea: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await send_request(ada, handle="@other.one")
    await owen.press("Approve")
    await bea.send(await invite(ada, "operator"))
    await bea.send("/accounts")
    assert bea.last.labels == ["Cancel @other.one · Acme Ads, Ada",
                               "Unlink @owen.makes · Acme Ads, Ada"]
    await bea.press("Cancel @other.one · Acme Ads, Ada")
    assert "Bea (@bea), your teammate on Acme Ads, cancelled your waiting request for " \
        "@other.one" in ada.last.plain
    await bea.press("Unlink @owen.makes · Acme Ads, Ada")
    await bea.press("Keep")
    assert bea.last.labels == ["Unlink @owen.makes · Acme Ads, Ada"]  # the list again
    await bea.press("Unlink @owen.makes · Acme Ads, Ada")
    await bea.press("Yes, unlink")
    assert "unlinked your request for @owen.makes" in ada.last.plain
    assert await statuses(world) == ["unlinked", "cancelled"]
    await bea.send("/accounts")
    assert not bea.last.has_buttons
