"""Verified owners (issue 11), end to end: /verify through a real Application, the browser's
trip through the platforms' login double (a real aiohttp server) back to the bot's own
redirect endpoint (another real aiohttp server), on SQLite and PostgreSQL.

Each test asserts what the person sees in the browser and in Telegram, and that a refused
login changes nothing.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.handlers import verify
from bot.local_api import Person
from bot.oauth import fetch_identity
from bot.settings import Settings
from flows import verification
from flows.verification import FACEBOOK_LOGIN, LoginRefused
from storage.repositories import AUDIT, CLAIMS, REQUESTS
from storage.trust import CLAIM_EVENTS
from tests.conftest import BACKENDS, Clock, World, send_request
from tests.oauth_double import (
    FACEBOOK_CLIENT,
    TIKTOK_CLIENT,
    FacebookAccount,
    OAuthDouble,
    TikTokAccount,
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def endpoint_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings(database_url: str, double: OAuthDouble, endpoint_port: int) -> Settings:
    assert double.server is not None
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    telegram_bot_token=None, flood_messages=100_000,
                    tiktok_client_key=TIKTOK_CLIENT[0], tiktok_client_secret=TIKTOK_CLIENT[1],
                    facebook_app_id=FACEBOOK_CLIENT[0], facebook_app_secret=FACEBOOK_CLIENT[1],
                    oauth_redirect_base_url=f"http://127.0.0.1:{endpoint_port}",
                    oauth_api_base_url=str(double.server.make_url("")).rstrip("/"))


@pytest.fixture
async def browser(world: World, endpoint_port: int) -> AsyncIterator[httpx.AsyncClient]:
    """A browser, with the bot's redirect endpoint listening."""
    app = web.Application()
    app.add_routes(verify.routes(world.app))
    server = TestServer(app, host="127.0.0.1", port=endpoint_port)
    await server.start_server()
    try:
        async with httpx.AsyncClient(follow_redirects=True) as client:
            yield client
    finally:
        await server.close()


def login_url(person: Person) -> str:
    urls = [b.url for row in person.last.buttons for b in row if b.url]
    assert urls, f"no login button in {person.last.plain!r}"
    return urls[0]


async def claim_row(world: World, handle_key: str = "owen.makes") -> tuple | None:
    async with world.deps.db.engine.connect() as conn:
        row = (await conn.execute(CLAIMS.select().where(CLAIMS.c.handle_key == handle_key))
               ).first()
        return None if row is None else (row.owner_id, row.verified_at is not None,
                                         row.platform_user_id)


async def history(world: World) -> list[tuple[str, int | None]]:
    async with world.deps.db.engine.connect() as conn:
        rows = await conn.execute(CLAIM_EVENTS.select().order_by(CLAIM_EVENTS.c.id))
        return [(r.event, r.owner_id) for r in rows]


# --- off without settings -----------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite"])
async def test_verify_says_it_is_off_without_the_settings(clock: Clock,
                                                           database_url: str) -> None:
    from tests.conftest import running

    plain = Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                     telegram_bot_token=None, flood_messages=100_000)
    async with running(plain, clock) as world:
        owen = world.person(2002, "Owen", "owen_creator")
        await owen.send("/claim @owen.makes")
        assert "(unverified: /verify)" in owen.last.plain and not owen.last.has_buttons
        replies = await owen.send("/verify @owen.makes")
        assert [r.plain for r in replies] == [
            "Verifying an account with the platform's login is not set up on this bot; your "
            "claim stays unverified."]


# --- a successful login -------------------------------------------------------------------------

async def test_an_owner_proves_their_handle_with_the_tiktok_login(
        world: World, owen: Person, ada: Person, browser: httpx.AsyncClient,
        double: OAuthDouble) -> None:
    await owen.send("/claim @owen.makes")
    assert "(unverified: /verify)" in owen.last.plain
    await owen.press("Verify with TikTok")
    url = login_url(owen)
    query = parse_qs(urlsplit(url).query)
    # PKCE: only the challenge travels; the verifier stays with the bot.
    assert query["code_challenge_method"] == ["S256"] and "code_verifier" not in query
    assert query["client_key"] == [TIKTOK_CLIENT[0]]

    await owen.send("/owned")
    assert "@owen.makes (TikTok) (unverified: /verify)" in owen.last.plain
    assert owen.last.labels == ["🔐 Verify with TikTok"]

    page = await browser.get(url)
    assert page.status_code == 200 and "@owen.makes is verified" in page.text
    assert "@owen.makes is verified as yours" in owen.last.plain
    assert double.refusals == []
    assert await claim_row(world) == (owen.user_id, True, "open-owen")
    assert await history(world) == [("claim", owen.user_id), ("verify", owen.user_id)]
    await owen.send("/owned")
    assert "@owen.makes (TikTok) ✅ verified" in owen.last.plain
    assert not owen.last.has_buttons

    # Advertisers see the strength on the decision.
    await send_request(ada)
    await owen.press("Approve")
    assert "Authorized in Linkpilot" in ada.last.plain
    assert "Decided by the verified owner of @owen.makes" in ada.last.plain

    # Once verified, /verify says so instead of sending another login.
    await owen.send("/verify @owen.makes")
    assert owen.last.plain == "@owen.makes is already verified as yours."


async def test_an_unclaimed_handle_is_claimed_and_verified_by_one_login(
        world: World, owen: Person, ada: Person, browser: httpx.AsyncClient) -> None:
    await send_request(ada)  # nobody claimed it: Ada has an approval link
    await owen.send("/verify @owen.makes")
    await browser.get(login_url(owen))
    assert "@owen.makes is verified as yours" in owen.inbox[-2].plain
    assert "Waiting for your decision: 1." in owen.inbox[-2].plain
    assert "asks to use your TikTok account @owen.makes" in owen.last.plain  # the card
    assert await claim_row(world) == (owen.user_id, True, "open-owen")


# --- refused logins: each says why, in the browser and in Telegram, and changes nothing -------

async def test_a_wrong_state_is_refused_and_kills_the_login(
        world: World, owen: Person, browser: httpx.AsyncClient, double: OAuthDouble) -> None:
    await owen.send("/claim @owen.makes")
    await owen.send("/verify")
    url = login_url(owen)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    key = query["state"].split(".")[0]
    forged = urlunsplit(parts._replace(query=urlencode({**query, "state": f"{key}.forged"})))
    page = await browser.get(forged)
    assert page.status_code == 400 and "did not come from the link I gave you" in page.text
    assert "did not come from the link I gave you" in owen.last.plain
    assert await claim_row(world) == (owen.user_id, False, None)
    # The real link is dead too: a state guessed at costs the login.
    page = await browser.get(url)
    assert page.status_code == 400 and "already used" in page.text
    assert await claim_row(world) == (owen.user_id, False, None)


async def test_a_state_nobody_issued_is_refused_in_the_browser(
        world: World, owen: Person, browser: httpx.AsyncClient, endpoint_port: int) -> None:
    await owen.send("/claim @owen.makes")
    before = len(owen.inbox)
    page = await browser.get(f"http://127.0.0.1:{endpoint_port}/oauth/tiktok",
                             params={"code": "c", "state": "nothing.here"})
    assert page.status_code == 400 and "not one Linkpilot gave out" in page.text
    assert len(owen.inbox) == before  # nobody to tell
    page = await browser.get(f"http://127.0.0.1:{endpoint_port}/oauth/myspace",
                             params={"code": "c", "state": "x.y"})
    assert page.status_code == 400
    assert await claim_row(world) == (owen.user_id, False, None)


async def test_a_replayed_code_is_refused(world: World, owen: Person, eve: Person,
                                          browser: httpx.AsyncClient,
                                          double: OAuthDouble) -> None:
    await owen.send("/verify @owen.makes")
    first = await browser.get(login_url(owen))
    assert first.status_code == 200
    back = str(first.url)  # our redirect address, with Owen's code and state
    # The same return again: the login was used.
    again = await browser.get(back)
    assert again.status_code == 400 and "already used" in again.text
    assert "already used" in owen.last.plain
    # Owen's code with Eve's fresh state: the platform refuses a code used once.
    await eve.send("/verify @owen.makes")
    eve_state = parse_qs(urlsplit(login_url(eve)).query)["state"][0]
    code = parse_qs(urlsplit(back).query)["code"][0]
    replay = await browser.get(back.split("?")[0], params={"code": code, "state": eve_state})
    assert replay.status_code == 400 and "refused the sign-in" in replay.text
    assert "refused the sign-in" in eve.last.plain
    assert any("already used" in r for r in double.refusals)
    assert await claim_row(world) == (owen.user_id, True, "open-owen")


async def test_a_login_as_another_account_verifies_nothing(
        world: World, owen: Person, browser: httpx.AsyncClient, double: OAuthDouble) -> None:
    await owen.send("/claim @owen.makes")
    double.tiktok_user = TikTokAccount("open-other", "someone.else")
    page = await browser.get(await _verify_url(owen))
    assert page.status_code == 400 and "not @owen.makes" in page.text
    assert "You logged in as @someone.else, not @owen.makes" in owen.last.plain
    assert await claim_row(world) == (owen.user_id, False, None)
    assert await history(world) == [("claim", owen.user_id)]


async def test_an_expired_access_token_verifies_nothing(
        world: World, owen: Person, browser: httpx.AsyncClient, double: OAuthDouble) -> None:
    await owen.send("/claim @owen.makes")
    double.expire_tokens = True
    page = await browser.get(await _verify_url(owen))
    assert page.status_code == 400 and "access expired" in page.text
    assert "access expired" in owen.last.plain
    assert await claim_row(world) == (owen.user_id, False, None)


async def test_an_expired_login_link_verifies_nothing(
        world: World, clock: Clock, owen: Person, browser: httpx.AsyncClient) -> None:
    await owen.send("/claim @owen.makes")
    url = await _verify_url(owen)
    clock.advance(timedelta(minutes=16))
    page = await browser.get(url)
    assert page.status_code == 400 and "had expired" in page.text
    assert "had expired" in owen.last.plain
    assert await claim_row(world) == (owen.user_id, False, None)


async def _verify_url(person: Person) -> str:
    await person.send("/verify @owen.makes")
    return login_url(person)


# --- a verified owner takes a handle over ------------------------------------------------------

async def test_a_verified_owner_takes_over_from_an_unverified_claimant(
        world: World, owen: Person, eve: Person, ada: Person, browser: httpx.AsyncClient
) -> None:
    bob = world.person(4004, "Bob", "bob_brand")
    await eve.send("/claim @owen.makes")
    await send_request(ada)
    await eve.press("Approve")
    assert "Decided by an unverified claimant of @owen.makes" in ada.last.plain
    await send_request(bob, ad_account="Bob Ads")
    eve_card = eve.last
    assert eve_card.has_buttons

    await owen.send("/verify @owen.makes")
    page = await browser.get(login_url(owen))
    assert page.status_code == 200
    assert await claim_row(world) == (owen.user_id, True, "open-owen")
    # Owen: told, and Bob's waiting request is now his to decide.
    told = "\n".join(m.plain for m in owen.inbox[-2:])
    assert "It was claimed by someone who had not proved it" in told
    assert "Bob (@bob_brand) asks to use your TikTok account @owen.makes" in owen.last.plain
    # Eve: her card lost its buttons; she is told the handle and her approval are gone.
    assert not next(m for m in eve.inbox if m.message_id == eve_card.message_id).has_buttons
    assert any("no longer yours here" in m.plain and "now void: 1" in m.plain
               for m in eve.inbox)
    assert any("The approval you gave for @owen.makes" in m.plain for m in eve.inbox)
    # Ada: her approval (from the unverified claimant) is void.
    assert any("is void" in m.plain and "Acme Ads" in m.plain for m in ada.inbox)
    # Bob: told where his request went.
    assert "Request sent to the owner of @owen.makes" in bob.last.plain
    async with world.deps.db.engine.connect() as conn:
        statuses = [(r.ad_account, r.status, r.owner_id) for r in await conn.execute(
            REQUESTS.select().order_by(REQUESTS.c.id))]
        events = [r.event for r in await conn.execute(AUDIT.select().order_by(AUDIT.c.id))]
    assert statuses == [("Acme Ads", "revoked", eve.user_id),
                        ("Bob Ads", "pending", owen.user_id)]
    assert events == ["create", "approve", "create", "takeover", "void"]
    assert await history(world) == [("claim", eve.user_id), ("takeover", owen.user_id)]
    # Eve's old card can't decide any more; Owen's can.
    await owen.press("Approve")
    assert "Decided by the verified owner of @owen.makes" in bob.last.plain


async def test_a_link_approval_does_not_make_the_approver_the_owner(
        world: World, owen: Person, eve: Person, ada: Person) -> None:
    """Issue 11: Eve approving through Ada's forwarded link decides that request only."""
    await send_request(ada, handle="@bigbrand")
    link = next(m for m in ada.inbox if "one-time approval link" in m.plain)
    token = link.plain.split("?start=")[1].split()[0]
    await eve.send(f"/start {token}")
    await eve.press("Approve")
    assert "Decided by an unverified claimant of @bigbrand" in ada.last.plain
    assert await claim_row(world, "bigbrand") is None
    await owen.send("/claim @bigbrand")
    assert "@bigbrand is now yours here" in owen.last.plain


# --- Facebook Login (Instagram and Facebook Pages), against the same double -------------------

async def test_the_facebook_login_reads_pages_and_instagram_accounts(
        double: OAuthDouble) -> None:
    assert double.server is not None
    provider = FACEBOOK_LOGIN.at(str(double.server.make_url("")))
    redirect = "https://bot.example.org/oauth/facebook"
    double.facebook_user = FacebookAccount("fb-42", [("owens.page", "owen.makes.ig"),
                                                     ("side.page", None)])

    async def code_for(verifier: str) -> str:
        url = verification.authorize_address(provider, FACEBOOK_CLIENT[0], redirect, "s.t",
                                             verifier)
        async with httpx.AsyncClient() as client:
            answer = await client.get(url)
        assert answer.status_code == 302, answer.text
        return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

    async with httpx.AsyncClient() as client:
        verifier = verification.new_verifier()
        identity = await fetch_identity(
            client, provider, "instagram", code=await code_for(verifier), verifier=verifier,
            redirect_uri=redirect, client_id=FACEBOOK_CLIENT[0],
            client_secret=FACEBOOK_CLIENT[1])
        assert identity.user_id == "fb-42" and identity.usernames == ("owen.makes.ig",)
        verifier = verification.new_verifier()
        identity = await fetch_identity(
            client, provider, "facebook", code=await code_for(verifier), verifier=verifier,
            redirect_uri=redirect, client_id=FACEBOOK_CLIENT[0],
            client_secret=FACEBOOK_CLIENT[1])
        assert identity.usernames == ("owens.page", "side.page")
        # A wrong verifier, a replayed code, an expired token: each refused.
        code = await code_for(verification.new_verifier())
        with pytest.raises(LoginRefused) as refused:
            await fetch_identity(client, provider, "facebook", code=code,
                                 verifier=verification.new_verifier(), redirect_uri=redirect,
                                 client_id=FACEBOOK_CLIENT[0],
                                 client_secret=FACEBOOK_CLIENT[1])
        assert refused.value.reason == "code_refused"
        verifier = verification.new_verifier()
        code = await code_for(verifier)
        double.expire_tokens = True
        with pytest.raises(LoginRefused) as refused:
            await fetch_identity(client, provider, "facebook", code=code, verifier=verifier,
                                 redirect_uri=redirect, client_id=FACEBOOK_CLIENT[0],
                                 client_secret=FACEBOOK_CLIENT[1])
        assert refused.value.reason == "token_expired"
        with pytest.raises(LoginRefused) as refused:
            await fetch_identity(client, provider, "facebook", code=code, verifier=verifier,
                                 redirect_uri=redirect, client_id=FACEBOOK_CLIENT[0],
                                 client_secret=FACEBOOK_CLIENT[1])
        assert refused.value.reason == "code_refused"
    assert any("Code verifier" in r for r in double.refusals)
    assert any("already used" in r for r in double.refusals)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_failure_on_our_side_is_a_plain_page_not_silence(
        world: World, owen: Person, browser: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture) -> None:
    url = await _verify_url(owen)
    async with world.deps.db.engine.begin() as conn:  # the database loses the logins table
        await conn.exec_driver_sql("DROP TABLE login_attempts")
    page = await browser.get(url)
    assert page.status_code == 500 and "Something went wrong on Linkpilot's side" in page.text
    assert "a platform login's return failed" in caplog.text
    assert parse_qs(urlsplit(url).query)["state"][0] not in caplog.text
