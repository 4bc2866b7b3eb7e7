"""Limits per advertiser (issue 11) through the bot, with the limits set lower than their
defaults: requests waiting at once and requests sent per 24 hours. Each refusal says when the
request can be sent, keeps it, and it goes once the limit allows. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import texts
from bot.local_api import Person
from bot.settings import Settings
from tests.conftest import BACKENDS, World, fill_request, send_request


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    telegram_bot_token=None, flood_messages=100_000,
                    max_pending_requests=2, max_requests_per_day=3)


async def test_only_so_many_requests_wait_at_once(world: World, ada: Person,
                                                  settings: Settings) -> None:
    sent_at = world.clock()
    await send_request(ada, handle="@first.one")
    world.clock.advance(timedelta(hours=1))
    await send_request(ada, handle="@second.one")
    await fill_request(ada, handle="@third.one")
    summary = ada.last
    await ada.press("Send request")
    until = texts.when(sent_at + settings.request_lifetime)
    assert ada.last.plain == (
        "You already have 2 requests waiting for owners, the most at once. You can send this "
        f"one when one of them is decided or cancelled (/accounts), or when the first expires, "
        f"on {until}. Your request stays here meanwhile.")
    await ada.send("/accounts")
    assert "@third.one" not in ada.last.plain
    await ada.press("Cancel @first.one")
    await ada.press("Send request", summary)
    await ada.send("/accounts")
    assert "@third.one (TikTok) → Acme Ads: waiting for approval" in ada.last.plain


async def test_only_so_many_requests_a_day(world: World, ada: Person) -> None:
    first_at = world.clock()
    for n, handle in enumerate(("@first.one", "@second.one", "@third.one")):
        world.clock.advance(timedelta(hours=n))
        await send_request(ada, handle=handle)
        await ada.send("/accounts")
        await ada.press(f"Cancel {handle}")
    await fill_request(ada, handle="@fourth.one")
    summary = ada.last
    await ada.press("Send request")
    assert ada.last.plain == (
        "You've sent 3 requests in the last 24 hours, the most for one day. You can send this "
        f"one after {texts.when(first_at + timedelta(days=1))}; it stays here meanwhile.")
    world.clock.advance(timedelta(days=1))
    await ada.press("Send request", summary)
    await ada.send("/accounts")
    assert "@fourth.one (TikTok) → Acme Ads: waiting for approval" in ada.last.plain
