"""Input hygiene through the real bot (issue 11): what a person sees when they type text the bot
won't keep, or paste a TikTok address instead of a username."""

from __future__ import annotations

import unicodedata

from bot.local_api import Person
from storage.repositories import REQUESTS
from tests.conftest import World, pass_prerequisites, send_request


def card_of(person: Person):
    return [m for m in person.inbox if "asks to use" in m.plain][-1]


async def stored_ad_accounts(world: World) -> list[str]:
    async with world.deps.db.engine.connect() as conn:
        return [r.ad_account for r in await conn.execute(REQUESTS.select())]


async def test_a_direction_override_in_the_ad_account_name_is_named_and_refused(
        ada: Person) -> None:
    await pass_prerequisites(ada)
    replies = await ada.send("Acme\u202e sdA")
    assert "U+202E" in replies[0].plain and "\u202e" not in replies[0].text
    assert "name of the ad account" in replies[1].plain  # the same question again
    await ada.send("Acme Ads")
    assert "Which TikTok account" in ada.last.plain


async def test_a_huge_refused_input_gets_a_short_reply(world: World, ada: Person,
                                                       owen: Person) -> None:
    junk = "".join(chr(c) for c in range(0x80, 0xA0)) + "\u200b" * 4000
    await pass_prerequisites(ada)
    replies = await ada.send("Acme" + junk)
    refusal = replies[0].plain
    assert "U+0080, U+0081, U+0082 and 30 more" in refusal
    assert len(refusal) < 300
    await ada.send("Acme Ads")
    replies = await ada.send("@" + "owen" * 1000)
    assert "at most 24 characters" in replies[0].plain and len(replies[0].plain) < 300
    replies = await ada.send("@" + "".join(chr(0x4E00 + i) for i in range(200)))
    assert "and 197 more" in replies[0].plain and len(replies[0].plain) < 300
    replies = await owen.send("/claim @" + "\u2066" * 4000)
    assert "U+2066" in replies[0].plain and len(replies[0].plain) < 400
    assert all(len(m.text) <= 4096 for p in (ada, owen) for m in p.inbox)


async def test_whitespace_and_zero_width_only_answers_are_refused(world: World, ada: Person,
                                                                  owen: Person) -> None:
    await pass_prerequisites(ada)
    replies = await ada.send("\u200b\u200b")
    assert "U+200B" in replies[0].plain and "name of the ad account" in replies[1].plain
    replies = await owen.send("/claim \u200b")
    assert "U+200B" in replies[0].plain
    assert "now yours" not in owen.last.plain


async def test_a_profile_address_is_taken_as_the_username(world: World, ada: Person) -> None:
    await pass_prerequisites(ada)
    await ada.send("Cafe\u0301 Ads")  # decomposed é: kept composed
    await ada.send("https://m.tiktok.com/@owen.makes/?lang=en&is_from_webapp=1")
    assert "Which permissions" in ada.last.plain
    await ada.press("Use existing posts")
    await ada.press("Continue")
    assert "Account to link: @owen.makes" in ada.last.plain
    await ada.press("Send request")
    assert await stored_ad_accounts(world) == ["Caf\u00e9 Ads"]
    assert unicodedata.is_normalized("NFC", (await stored_ad_accounts(world))[0])


async def test_a_video_address_says_which_account_is_needed(ada: Person) -> None:
    await pass_prerequisites(ada)
    await ada.send("Acme Ads")
    replies = await ada.send(
        "https://www.tiktok.com/@owen.makes/video/7312345678901234567?is_from_webapp=1")
    assert "that video is from @owen.makes; send the account's username" in replies[0].plain
    assert "Which TikTok account" in replies[1].plain
    replies = await ada.send("https://vm.tiktok.com/ZMhvqjR8t/")
    assert "link to a TikTok video, not to an account" in replies[0].plain
    assert "Which TikTok account" in replies[1].plain


async def test_claim_takes_a_profile_address_and_explains_a_video(owen: Person) -> None:
    replies = await owen.send("/claim https://www.tiktok.com/@owen.makes/video/7312345678901")
    assert "that video is from @owen.makes" in replies[0].plain
    await owen.send("/claim vm.tiktok.com/ZMhvqjR8t")
    assert "link to a TikTok video" in owen.last.plain
    await owen.send("/claim https://www.tiktok.com/@owen.makes?lang=en")
    assert "@owen.makes is now yours" in owen.last.plain


async def test_a_rejection_reason_with_hidden_characters_is_refused_and_the_prompt_stays(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await owen.press("Reject", card_of(owen))
    prompt = owen.last
    replies = await owen.send("\u2060\u2060", reply_to=prompt)
    assert "U+2060" in replies[0].plain
    replies = await owen.send("We never\u202e worked together", reply_to=prompt)
    assert "U+202E" in replies[0].plain
    assert not any("said why" in m.plain for m in ada.inbox)
    await owen.send("We never worked together\nSorry!", reply_to=prompt)
    assert "«We never worked together\nSorry!»" in ada.last.plain


async def test_a_name_with_a_direction_override_is_shown_to_the_owner_without_it(
        world: World, owen: Person) -> None:
    mallory = world.person(5005, "Ada\u202eLovelace", None)
    await owen.send("/claim @owen.makes")
    await send_request(mallory)
    card = card_of(owen)
    assert "AdaLovelace asks to use" in card.plain and "\u202e" not in card.text
