"""A conversation that says what is true and understands what people type, through the real
Application, a real SQLite file and the Bot API double."""

from __future__ import annotations

import pytest

from bot.local_api import Person
from storage.repositories import KB_QUESTIONS
from tests.conftest import BACKENDS, World, fill_request, send_request


async def misses(world: World) -> list[str]:
    async with world.deps.db.engine.connect() as conn:
        return [r.question for r in await conn.execute(KB_QUESTIONS.select())]


async def test_typed_yes_and_no_are_the_buttons_they_name(world: World, ada: Person) -> None:
    await ada.send("/link")
    await ada.press("TikTok")
    assert "check 1 of 3" in ada.last.plain
    await ada.send("yes")
    assert "check 2 of 3" in ada.last.plain
    await ada.send("No")
    assert "Done, continue" in ada.last.labels  # the fix for a "No"
    await ada.send("done")
    assert "check 3 of 3" in ada.last.plain
    await ada.send("yep")
    assert "name of the ad account" in ada.last.plain
    assert await misses(world) == []


async def test_a_typed_word_that_fits_no_single_button_asks_for_one(world: World,
                                                                   ada: Person) -> None:
    await fill_request(ada)
    summary = ada.last
    replies = await ada.send("ok")
    assert replies[0].plain == "Tap one of the buttons below, or ask me a question."
    assert "Send it to the account owner?" in ada.last.plain and ada.last.has_buttons
    assert ada.last.message_id != summary.message_id
    assert await misses(world) == []  # not a question the knowledge base missed


async def test_every_question_and_status_use_one_step_numbering(ada: Person) -> None:
    await ada.send("/link")
    assert ada.last.plain.startswith("Step 1 of 6 · platform")
    await ada.press("TikTok")
    assert ada.last.plain.startswith("Step 2 of 6 · prerequisites")
    await ada.send("/status")
    assert "step 2 of 6 · prerequisites" in ada.inbox[-2].plain
    await pass_prerequisites_rest(ada)
    assert ada.last.plain.startswith("Step 3 of 6 · ad account")


async def pass_prerequisites_rest(person: Person) -> None:
    for _ in range(3):
        await person.press("Yes")


async def test_prerequisites_confirmed_once_are_a_checked_list_next_time(
        ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    await ada.send("/link")
    await ada.press("TikTok")
    recap = ada.last
    assert "Last time you confirmed, for TikTok" in recap.plain
    assert recap.plain.count("✅") == 3 and "Business account" in recap.plain
    assert recap.labels[:2] == ["All still true", "Review"]
    await ada.press("All still true")
    assert "name of the ad account" in ada.last.plain
    await ada.send("/back")
    assert "Last time you confirmed" in ada.last.plain
    await ada.press("Review")
    assert "check 1 of 3" in ada.last.plain


async def test_the_same_pending_request_twice_is_refused_showing_the_first(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    await send_request(ada, ad_account="acme ads")  # same ad account, other case
    assert "You already have a request for @owen.makes with the ad account Acme Ads" \
        in ada.last.plain
    assert sum("asks to use" in m.plain for m in owen.inbox) == 1
    await ada.press("Cancel", next(m for m in reversed(ada.inbox) if "Send request" in m.labels))
    await send_request(ada, ad_account="Second Ads")
    await ada.send("/accounts")
    labels = [label for label in ada.last.labels if label.startswith("Cancel")]
    assert labels == ["Cancel @owen.makes · Second Ads", "Cancel @owen.makes · Acme Ads"]


async def test_asking_for_ones_own_account_is_refused_without_a_link(
        world: World, ada: Person) -> None:
    await ada.send("/claim ada.own")
    await send_request(ada, handle="@ada.own")
    assert "You have claimed @ada.own yourself" in ada.last.plain
    assert not any("approval link" in m.plain for m in ada.inbox)


async def test_the_approval_link_says_why_it_is_sent(ada: Person) -> None:
    await send_request(ada)
    assert "hasn't connected with me yet" in ada.last.plain


async def test_what_am_i_allowing_explains_each_permission(ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada, scopes=("Use existing posts", "Publish and manage new videos"))
    card = next(m for m in owen.inbox if "asks to use" in m.plain)
    assert "Approve only if you know this advertiser" in card.plain
    await owen.press("What am I allowing?", card)
    explained = owen.last.plain
    assert "Use existing posts in ads" in explained and "can't post, edit" in explained
    assert "Publish and manage new videos" in explained and "Ads only" in explained
    assert next(m for m in owen.inbox if m.message_id == card.message_id).has_buttons


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lands", ["soon", "at once", "before the next update"])
async def test_only_the_latest_question_keeps_its_buttons(
        ada: Person, world: World, lands: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # On PostgreSQL too, where what the last question's sending taught the bot (its message
    # id) may not be written back yet when the next question is asked, or may be written back
    # while the next update is under way, after its own read of the chat's question.
    import storage.uow

    if lands == "at once":
        monkeypatch.setattr(storage.uow, "DEFER_SECONDS", 0.0)

    def live() -> list[int]:
        return [m.message_id for m in ada.inbox if m.has_buttons]

    async def say(text: str) -> None:
        if lands == "before the next update":
            await world.deps.db.flush_deferred()
        await ada.send(text)

    await say("/link")
    await ada.press("TikTok")
    await ada.press("Yes")
    second = ada.last
    await say("/back")  # a command, not a press on the question
    assert live() == [ada.last.message_id] and ada.last.message_id != second.message_id
    await say("yes")  # typed
    assert live() == [ada.last.message_id]
    await say("/status")
    assert live() == [ada.last.message_id]
    await say("/cancel")
    assert live() == []


async def test_fix_it_guidance_gives_the_exact_path(ada: Person) -> None:
    await ada.send("/link")
    await ada.press("TikTok")
    await ada.press("Yes")
    await ada.press("Yes")
    await ada.press("No")  # the TikTok account is not a Business account yet
    assert ("Profile → ☰ menu → Settings and privacy → Account → Switch to Business Account"
            in ada.last.plain)


async def test_help_says_what_each_kind_of_user_can_do(ada: Person) -> None:
    await ada.send("/help")
    text = ada.last.plain
    assert "Advertisers" in text and "/link" in text and "/accounts" in text
    assert "Account owners" in text and "/claim" in text and "/owned" in text


async def test_an_owner_blocks_an_advertiser_and_they_are_refused_politely(
        ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    card = next(m for m in owen.inbox if "asks to use" in m.plain)
    await owen.press("🚫 Block this advertiser", card)
    assert "Block Ada (@ada_ads)?" in owen.last.plain
    await owen.press("Yes, block")
    assert "Blocked: Ada (@ada_ads) can't send you requests" in owen.last.plain
    assert "rejected your request" in ada.last.plain
    assert not next(m for m in owen.inbox if m.message_id == card.message_id).has_buttons
    await send_request(ada, ad_account="Other Ads")
    assert "doesn't accept requests from you through Linkpilot" in ada.last.plain
    assert sum("asks to use" in m.plain for m in owen.inbox) == 1


async def test_a_request_after_a_rejection_says_when_to_try_again(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    await owen.press("Reject", next(m for m in owen.inbox if "asks to use" in m.plain))
    await send_request(ada, ad_account="Other Ads")
    assert "you can ask again after 23 Nov 2026, 12:00 UTC" in ada.last.plain


async def test_an_owner_unblocks_from_owned(world: World, ada: Person, owen: Person) -> None:
    from datetime import timedelta

    await owen.send("/claim owen.makes")
    await send_request(ada)
    await owen.press("🚫 Block this advertiser")
    await owen.press("Yes, block")
    await owen.send("/owned")
    assert "Blocked: Ada (@ada_ads)" in owen.last.plain
    await owen.press("Unblock Ada")
    assert owen.last_answer == "Unblocked: they can send you requests again."
    assert "Blocked" not in owen.last.plain
    world.clock.advance(timedelta(hours=25))  # the block's rejection waits a day, as any
    await send_request(ada, ad_account="Other Ads")
    assert sum("asks to use" in m.plain for m in owen.inbox) == 2
