"""The strength of a decision (issue 11), kept with the request and shown wherever it is listed:
/accounts, the owner's /owned, `/admin audit`; a Verify button that went stale says so and
changes nothing. Through a real Application and the platforms' login double, on SQLite and
PostgreSQL; the migration that fills in the strength of earlier decisions too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, select

from bot import keyboards
from bot.local_api import Person
from bot.settings import Settings
from flows.platforms import PLATFORMS
from storage.repositories import AUDIT, CLAIMS, REQUESTS
from storage.trust import LOGINS
from storage.uow import Database
from tests import test_verify
from tests.conftest import World, database_before, send_request
from tests.oauth_double import FACEBOOK_CLIENT, TIKTOK_CLIENT, OAuthDouble
from tests.test_verify import login_url

# The login double, the bot's redirect endpoint and a browser, as in tests/test_verify.py.
# (The login double itself is tests/conftest.py's `double`.)
backend, endpoint_port, browser = (test_verify.backend, test_verify.endpoint_port,
                                   test_verify.browser)

OPERATOR = 9009


@pytest.fixture
def settings(database_url: str, double: OAuthDouble, endpoint_port: int) -> Settings:
    assert double.server is not None
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    telegram_bot_token=None, flood_messages=100_000,
                    operator_ids=str(OPERATOR),
                    tiktok_client_key=TIKTOK_CLIENT[0], tiktok_client_secret=TIKTOK_CLIENT[1],
                    facebook_app_id=FACEBOOK_CLIENT[0], facebook_app_secret=FACEBOOK_CLIENT[1],
                    oauth_redirect_base_url=f"http://127.0.0.1:{endpoint_port}",
                    oauth_api_base_url=str(double.server.make_url("")).rstrip("/"))


@pytest.fixture
def bob(world: World) -> Person:
    return world.person(4004, "Bob", "bob_brand")


@pytest.fixture
def opal(world: World) -> Person:
    return world.person(OPERATOR, "Opal", "opal_ops")


async def accounts_line(person: Person, ad_account: str) -> str:
    await person.send("/accounts")
    return next(line for line in person.last.plain.splitlines() if ad_account in line)


async def strengths(world: World) -> list[tuple[str, str, str | None]]:
    async with world.deps.db.engine.connect() as conn:
        return [(r.ad_account, r.status, r.strength) for r in await conn.execute(
            REQUESTS.select().order_by(REQUESTS.c.id))]


async def verify_in_browser(person: Person, browser: httpx.AsyncClient) -> None:
    await person.send("/verify @owen.makes")
    page = await browser.get(login_url(person))
    assert page.status_code == 200, page.text


# --- /accounts, /owned and /admin audit -------------------------------------------------------

async def test_a_takeover_shows_void_and_verified_decisions_in_every_list(
        world: World, owen: Person, eve: Person, ada: Person, bob: Person, opal: Person,
        browser: httpx.AsyncClient) -> None:
    await eve.send("/claim @owen.makes")
    await send_request(ada)
    await eve.press("Approve")
    assert await accounts_line(ada, "Acme Ads") == (
        "• @owen.makes (TikTok) → Acme Ads: approved by an unverified claimant")
    await eve.send("/owned")
    assert "– Ada (@ada_ads), ad account Acme Ads · unverified approval" in eve.last.plain

    await verify_in_browser(owen, browser)  # Owen takes the handle over
    assert await accounts_line(ada, "Acme Ads") == (
        "• @owen.makes (TikTok) → Acme Ads: revoked · void: approved by an unverified claimant "
        "before the account's verified owner took it over")

    await send_request(bob, ad_account="Bob Ads")
    await owen.press("Approve")
    assert await accounts_line(bob, "Bob Ads") == (
        "• @owen.makes (TikTok) → Bob Ads: approved by the verified owner ✅")
    await owen.send("/owned")
    assert "– Bob (@bob_brand), ad account Bob Ads · ✅ verified approval" in owen.last.plain
    assert "Acme Ads" not in owen.last.plain

    assert await strengths(world) == [("Acme Ads", "revoked", "void"),
                                      ("Bob Ads", "authorized", "verified")]
    keys = {r.ad_account: r.key for r in await _requests(world)}
    await opal.send(f"/admin audit {keys['Acme Ads']}")
    assert "now revoked, decided void" in opal.last.plain.splitlines()[0]
    await opal.send(f"/admin audit {keys['Bob Ads']}")
    assert "now authorized, decided verified" in opal.last.plain.splitlines()[0]


async def _requests(world: World) -> list:
    async with world.deps.db.engine.connect() as conn:
        return list(await conn.execute(REQUESTS.select().order_by(REQUESTS.c.id)))


async def test_approvals_given_before_proving_the_handle_become_verified(
        world: World, owen: Person, ada: Person, bob: Person,
        browser: httpx.AsyncClient) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await owen.press("Approve")
    await send_request(bob, ad_account="Bob Ads")
    await owen.press("Reject")
    assert await accounts_line(ada, "Acme Ads") == (
        "• @owen.makes (TikTok) → Acme Ads: approved by an unverified claimant")
    assert await accounts_line(bob, "Bob Ads") == (
        "• @owen.makes (TikTok) → Bob Ads: rejected by an unverified claimant")

    await verify_in_browser(owen, browser)
    # Owen's approval stands, now as the verified owner's; the rejection stays as it was made.
    assert await accounts_line(ada, "Acme Ads") == (
        "• @owen.makes (TikTok) → Acme Ads: approved by the verified owner ✅")
    assert await accounts_line(bob, "Bob Ads") == (
        "• @owen.makes (TikTok) → Bob Ads: rejected by an unverified claimant")
    await owen.send("/owned")
    assert "– Ada (@ada_ads), ad account Acme Ads · ✅ verified approval" in owen.last.plain
    # Revoking later keeps the strength the approval had.
    await owen.press("Revoke")
    await owen.press("Yes, revoke")
    assert await accounts_line(ada, "Acme Ads") == (
        "• @owen.makes (TikTok) → Acme Ads: revoked · approved by the verified owner ✅")


async def test_a_link_approval_and_a_block_carry_their_strength(
        world: World, owen: Person, eve: Person, ada: Person) -> None:
    await send_request(ada, handle="@bigbrand")
    link = next(m for m in ada.inbox if "one-time approval link" in m.plain)
    await eve.send(f"/start {link.plain.split('?start=')[1].split()[0]}")
    await eve.press("Approve")
    assert await accounts_line(ada, "@bigbrand") == (
        "• @bigbrand (TikTok) → Acme Ads: approved by an unverified claimant")

    await owen.send("/claim @owen.makes")
    await send_request(ada, ad_account="Second Ads")
    await owen.press("Block this advertiser")
    await owen.press("Yes, block")
    told = next(m.plain for m in reversed(ada.inbox) if "rejected" in m.plain.lower())
    assert "Decided by an unverified claimant of @owen.makes" in told
    assert await accounts_line(ada, "Second Ads") == (
        "• @owen.makes (TikTok) → Second Ads: rejected by an unverified claimant")


# --- the Verify button --------------------------------------------------------------------------

def test_every_verify_button_fits_telegrams_64_bytes() -> None:
    for platform in PLATFORMS.values():
        longest = "a" * platform.handle_rule.max_length
        data = keyboards.verify_data(platform.id, longest)
        assert len(data.encode()) <= 64, data
        assert keyboards.parse_verify(data) == (platform.id, longest)
    assert keyboards.parse_verify("v:myspace:someone") is None
    assert keyboards.parse_verify("v:tiktok:") is None


async def logins(world: World) -> int:
    async with world.deps.db.engine.connect() as conn:
        return len(list(await conn.execute(select(LOGINS.c.key))))


async def test_a_verify_button_from_before_a_release_or_takeover_changes_nothing(
        world: World, owen: Person, eve: Person, opal: Person,
        browser: httpx.AsyncClient) -> None:
    await eve.send("/claim @owen.makes")
    eve_claim = eve.last
    assert eve_claim.labels == ["🔐 Verify with TikTok"]
    await opal.send("/admin release @owen.makes")
    before = len(eve.inbox)
    await eve.press("Verify with TikTok", eve_claim)
    assert eve.last_answer == (
        "You no longer hold this claim here (it was released or taken over), so there is "
        "nothing to verify. Nothing changed; /claim or /verify starts again.")
    assert len(eve.inbox) == before and await logins(world) == 0

    await eve.send("/claim @owen.makes")  # claimed again, then taken over by its owner
    await verify_in_browser(owen, browser)
    started = await logins(world)
    before = len(eve.inbox)
    await eve.press("Verify with TikTok", eve_claim)
    assert "no longer hold this claim" in (eve.last_answer or "")
    assert len(eve.inbox) == before and await logins(world) == started
    async with world.deps.db.engine.connect() as conn:
        assert [(r.owner_id, r.verified_at is not None)
                for r in await conn.execute(CLAIMS.select())] == [(owen.user_id, True)]
    # A forged press names no platform this bot knows: the usual answer for a stale button.
    await eve.press_data("v:myspace:owen.makes", eve_claim.message_id)
    assert eve.last_answer is not None and "no longer hold" not in eve.last_answer
    assert len(eve.inbox) == before


# --- the migration ------------------------------------------------------------------------------

@pytest.fixture
async def old_db(database_url: str) -> AsyncIterator[Database]:
    """A database at the schema before the strength column (taken back from the newest)."""
    async with database_before(database_url, "0011") as database:
        yield database


async def test_the_migration_keeps_the_strength_of_earlier_decisions(old_db: Database) -> None:
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    day = timedelta(days=1)
    async with old_db.unit_of_work() as uow:
        for user_id in (1, 10, 11, 12):
            await uow.users.seen(user_id, f"user{user_id}", None, t0)
        await uow.commit()
    # (handle, status, owner, decided): the decisions as they stood before the migration.
    made = [("verified.one", "authorized", 10, t0 + 2 * day),   # claim verified on day 1
            ("verified.one", "rejected", 10, t0),               # decided before verifying
            ("verified.one", "unlinked", 10, t0),               # ended, before verifying
            ("late.one", "authorized", 11, t0),                 # standing; verified on day 3
            ("void.one", "revoked", 12, t0),                    # voided by a takeover
            ("nobody.one", "authorized", 12, t0),               # approved through a link
            ("verified.one", "pending", 10, None),
            ("verified.one", "cancelled", None, t0)]
    async with old_db.engine.begin() as conn:
        for handle, owner, verified in (("verified.one", 10, t0 + day),
                                        ("late.one", 11, t0 + 3 * day)):
            await conn.execute(insert(CLAIMS).values(
                platform="tiktok", handle=handle, handle_key=handle, owner_id=owner,
                created_at=t0, verified_at=verified, platform_user_id="p"))
        for n, (handle, status, owner, decided) in enumerate(made):
            result = await conn.execute(insert(REQUESTS).values(
                key=f"k{n}", requester_id=1, platform="tiktok", handle=handle,
                handle_key=handle, ad_account=f"Ads {n}", scopes=["existing_posts"],
                visibility=None, status=status, owner_id=owner, version=1, created_at=t0,
                updated_at=t0, expires_at=t0 + 7 * day, decided_at=decided))
            if status == "revoked":
                await conn.execute(insert(AUDIT).values(
                    request_id=result.inserted_primary_key[0], actor_id=11, event="void",
                    from_status="authorized", to_status="revoked", at=t0 + day))
    await old_db.migrate()
    async with old_db.engine.connect() as conn:
        rows = [r.strength for r in await conn.execute(
            select(REQUESTS.c.strength).order_by(REQUESTS.c.id))]
    assert rows == ["verified", "unverified", "unverified", "verified", "void", "unverified",
                    None, None]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_privacy_names_what_trust_keeps(world: World, ada: Person) -> None:
    await ada.send("/privacy")
    said = ada.last.plain
    for kept in ("advertisers an owner blocked from their cards (until unblocked)",
                 "a block by the bot's operator (until lifted)",
                 "whether each decision's maker had verified the account",
                 "/deleteme takes your name off the claim history",
                 "a log of what operators did"):
        assert kept in said
