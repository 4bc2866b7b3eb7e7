"""Meta partner access end to end (issue 10): Instagram and Facebook Page requests through a
real Application, on SQLite and on PostgreSQL, with the Bot API double.

Each test asserts what the advertiser (Ada, an agency) and the owner (Owen) would see.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.local_api import Person
from storage.repositories import AUDIT, GRANTS, REQUESTS
from tests.conftest import BACKENDS, World

BUSINESS_ID = "1234567890123456"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def rows(world: World) -> list[tuple[str, str | None, int | None]]:
    async with world.deps.db.engine.connect() as conn:
        found = await conn.execute(REQUESTS.select().order_by(REQUESTS.c.id))
        return [(r.status, r.business_id, r.access_days) for r in found]


def card_of(person: Person):
    cards = [m for m in person.inbox if "Link request" in m.plain and "asks to use" in m.plain]
    assert cards, "no request card"
    return cards[-1]


def link_token(person: Person) -> str:
    message = next(m for m in reversed(person.inbox) if "?start=" in m.plain)
    return message.plain.split("?start=")[1].split()[0]


async def meta_request(person: Person, platform: str, handle: str, scopes: tuple[str, ...],
                       length: str, *, business_id: str = BUSINESS_ID,
                       ad_account: str = "Acme Ads") -> None:
    """A Meta request from /link to Send, every prerequisite met; `length` is a button label
    or a typed number of days. The ad account is the person's team's (teams, issue 10)."""
    await person.send("/link")
    await person.press(platform)
    if "All still true" in person.last.labels:  # confirmed in an earlier request
        await person.press("All still true")
    while "Before you start" in person.last.plain:
        await person.press("Yes")
    await person.send(ad_account)
    await person.send(business_id)
    await person.send(handle)
    for scope in scopes:
        await person.press(scope)
    await person.press("Continue")
    if length.isdigit():
        await person.send(length)
    else:
        await person.press(length)
    await person.press("Send request")


# --- Instagram -----------------------------------------------------------------------------------

async def test_a_full_instagram_request(world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim instagram @Owen.Makes")
    assert "@Owen.Makes is now yours" in owen.last.plain

    await ada.send("/link")
    platforms = ada.last
    assert platforms.labels == ["TikTok", "Instagram", "Facebook Page"]
    assert "coming soon" not in platforms.plain
    await ada.press("Instagram")
    assert "business portfolio" in ada.last.plain and "Business ID" in ada.last.plain
    assert "check 1 of 4" in ada.last.plain
    await ada.press("Yes")
    assert "professional account" in ada.last.plain
    await ada.press("No")  # the fix-it guidance, then carry on
    assert "switches the account to a professional one" in ada.last.plain
    await ada.press("Done, continue")
    assert "connected to a Facebook Page" in ada.last.plain
    await ada.press("Yes")
    assert "in the owner's business portfolio" in ada.last.plain
    await ada.press("Yes")
    await ada.send("Acme Ads")
    assert "your agency's Business ID" in ada.last.plain

    replies = await ada.send("12345")
    assert "A Business ID has 15 to 17 digits; this one has 5." in replies[0].plain
    assert "Business ID" in replies[1].plain
    await ada.send("1234 5678 9012 3456")
    assert "Which Instagram account should be linked?" in ada.last.plain
    replies = await ada.send("https://www.instagram.com/reel/C1a2B3c4D5e/")
    assert "link to an Instagram post or reel" in replies[0].plain
    replies = await ada.send("a" * 31)
    assert "at most 30 characters" in replies[0].plain and "third-party" in replies[0].plain
    await ada.send("https://www.instagram.com/owen.makes/")
    permissions = ada.last
    assert "Full control" in permissions.labels[0] and "partial access" in permissions.plain
    await ada.press("Content")
    await ada.press("☐ Ads")
    await ada.press("Continue")
    assert "How long should the access last?" in ada.last.plain
    assert "says nothing of partners" in ada.last.plain  # the sources' gap, said out loud
    replies = await ada.send("90")
    assert "Temporary access lasts 3 to 75 days" in replies[0].plain
    await ada.send("30")
    summary = ada.last.plain
    assert "Platform: Instagram" in summary and "Account to link: @owen.makes" in summary
    assert "Permissions: Content, Ads" in summary
    assert f"Agency's Business ID: {BUSINESS_ID}" in summary
    assert "Access: 30 days from approval, then it ends by itself" in summary
    await ada.press("Send request")
    assert "Request sent to the owner of @owen.makes" in ada.last.plain

    card = card_of(owen).plain
    assert "Ada (@ada_ads) asks to use your Instagram account @owen.makes" in card
    assert "Permissions: Content, Ads" in card
    assert "Content: publish, edit and delete posts" in card
    assert "Ads: create and run ads as the account" in card
    assert f"Agency's Business ID: {BUSINESS_ID}" in card
    assert "Access: 30 days from approval" in card
    await owen.press("What am I allowing?", card_of(owen))
    assert "For how long: 30 days from approval" in owen.last.plain
    assert "nothing happens in Meta until you add their business as a partner" \
        in owen.last.plain

    await owen.press("Approve", card_of(owen))
    told_owner = owen.last.plain
    assert "Nothing has changed in Meta yet" in told_owner
    assert (f"Meta Business Suite: Settings → Users → Partners → Add (give a partner access to "
            f"your assets) → enter Business ID {BUSINESS_ID} → choose @owen.makes (Instagram) "
            "as the asset → choose partial access with the tasks Content, Ads → save.") \
        in told_owner
    assert "people the partner assigned" in told_owner and "30 days" in told_owner
    told_advertiser = ada.last.plain
    assert "Authorized in Linkpilot" in told_advertiser
    assert "it changes nothing in Meta" in told_advertiser
    assert f"enter Business ID {BUSINESS_ID}" in told_advertiser
    assert "Settings → Users → Partners" in told_advertiser
    assert "it can outlast the partnership" in told_advertiser
    assert "TikTok" not in told_advertiser and "TikTok" not in told_owner
    assert await rows(world) == [("authorized", BUSINESS_ID, 30)]

    await ada.send("/accounts")
    assert "@owen.makes (Instagram) → Acme Ads: approved" in ada.last.plain
    await owen.send("/owned")
    assert "@Owen.Makes (Instagram)" in owen.last.plain
    assert "Ada (@ada_ads), ad account Acme Ads" in owen.last.plain


async def test_instagram_unlink_tells_the_owner_to_remove_the_partner(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim instagram owen.makes")
    await meta_request(ada, "Instagram", "@owen.makes", ("Full control",), "Until removed")
    assert "Access: until removed" in card_of(owen).plain
    await owen.press("Approve", card_of(owen))
    assert "choose Full control" in owen.last.plain
    # A second request: the prerequisites confirmed before are offered as a recap.
    await meta_request(ada, "Instagram", "@owen.makes", ("Insights",), "75 days",
                       business_id="6543210987654321")
    assert "Access: 75 days from approval" in card_of(owen).plain
    assert "Agency's Business ID: 6543210987654321" in card_of(owen).plain
    await owen.press("Reject", card_of(owen))
    await ada.send("/accounts")
    await ada.press("Unlink @owen.makes")
    assert "asked to remove your portfolio as a partner in Meta" in ada.last.plain
    await ada.press("Yes, unlink")
    assert "Unlinked in Linkpilot" in ada.last.plain
    assert "remove the access you gave your own people" in ada.last.plain
    told = owen.last.plain
    assert "Ada (@ada_ads) unlinked @owen.makes in Linkpilot" in told
    assert f"Business ID {BUSINESS_ID}" in told and "Partners → select the partner" in told
    assert await rows(world) == [("unlinked", BUSINESS_ID, None),
                                 ("rejected", "6543210987654321", 75)]


# --- Facebook Pages ------------------------------------------------------------------------------

async def test_a_full_facebook_page_request_by_approval_link(world: World, ada: Person,
                                                             owen: Person) -> None:
    await ada.send("/link")
    await ada.press("Facebook Page")
    await ada.press("Yes")  # the agency's portfolio
    assert "Is the Page in a business portfolio" in ada.last.plain
    await ada.press("No")
    assert "then the Page's admin decides" in ada.last.plain
    assert "Partner request" in ada.last.plain
    await ada.press("Done, continue")
    assert "full control" in ada.last.plain
    await ada.press("No")
    assert "If Partners is missing from their Settings" in ada.last.plain
    await ada.press("Done, continue")
    assert "two-factor authentication" in ada.last.plain
    await ada.press("Yes")
    await ada.send("Acme Ads")
    await ada.send(BUSINESS_ID)
    assert "numeric Page ID" in ada.last.plain
    await ada.send("/status")
    assert f"Business ID: {BUSINESS_ID}" in ada.inbox[-2].plain
    replies = await ada.send("acme")
    assert "A Facebook Page username has at least 5 characters." in replies[0].plain
    replies = await ada.send("acme_shoes")
    assert "letters, digits and ." in replies[0].plain and "this one has _" in replies[0].plain
    replies = await ada.send("https://www.facebook.com/acme.shoes/posts/pfbid02abc")
    assert "it is from acme.shoes" in replies[0].plain
    await ada.send("https://www.facebook.com/profile.php?id=100064212345678")
    await ada.press("Full control")
    await ada.press("Continue")
    await ada.press("Until removed")
    summary = ada.last.plain
    assert "Platform: Facebook Page" in summary
    assert "Account to link: Page ID 100064212345678" in summary
    assert "Permissions: Full control" in summary and "Access: until removed" in summary
    await ada.press("Send request")
    assert "one-time approval link" in ada.last.plain  # nobody has claimed the Page

    await owen.send(f"/start {link_token(ada)}")
    card = card_of(owen).plain
    assert "asks to use your Facebook Page account Page ID 100064212345678" in card
    assert "Full control: everything, settings and who else has access included" in card
    assert f"Agency's Business ID: {BUSINESS_ID}" in card
    await owen.press("Approve", card_of(owen))
    told_owner = owen.last.plain
    assert (f"enter Business ID {BUSINESS_ID} → choose Page ID 100064212345678 (Facebook Page) as "
            "the asset → choose Full control → save.") in told_owner
    assert "If no portfolio owns the Page, the Page's admin approves" in told_owner
    assert "Authorized in Linkpilot" in ada.last.plain
    assert "If no portfolio owns the Page" in ada.last.plain

    # Approving through the link made Owen the Page's owner here; he can withdraw it.
    await owen.send("/owned")
    assert "Page ID 100064212345678 (Facebook Page)" in owen.last.plain
    await owen.press("Revoke")
    assert "it can't change Meta by itself" in owen.last.plain
    await owen.press("Yes, revoke")
    assert owen.last_answer == "Access revoked."
    told_owner = owen.last.plain
    assert f"Business ID {BUSINESS_ID}" in told_owner
    assert "Settings → Users → Partners → select the partner → Remove" in told_owner
    assert "people the partner assigned, or access given directly on the Page, can stay" \
        in told_owner
    assert "withdrew their approval in Linkpilot" in ada.last.plain
    assert "remove the access you gave your own people" in ada.last.plain
    assert await rows(world) == [("revoked", BUSINESS_ID, None)]


async def test_facebook_page_usernames_match_without_periods_or_case(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim facebook https://www.facebook.com/Acme.Shoes")
    assert owen.last.plain.startswith("Acme.Shoes is now yours")
    await meta_request(ada, "Facebook Page", "acmeshoes", ("Insights",), "7 days")
    card = card_of(owen).plain  # routed to Owen: acmeshoes is Acme.Shoes
    assert "Insights: see how the account" in card and "Access: 7 days" in card
    await owen.send("/claim facebook acme")
    assert "at least 5 characters" in owen.last.plain
    # The owner asking for their own Page is told to add it to their own portfolio.
    # (Under an ad account of his own: Acme Ads is Ada's team's, which Owen is not in.)
    await meta_request(owen, "Facebook Page", "acme.shoes", ("☐ Ads",), "Until removed",
                       ad_account="Owen Ads")
    assert "add it to your own business portfolio in Meta Business Suite" in owen.last.plain


# --- temporary access ----------------------------------------------------------------------------

async def test_temporary_access_ends_on_time_across_a_restart(world: World, ada: Person,
                                                              owen: Person) -> None:
    await owen.send("/claim instagram owen.makes")
    await meta_request(ada, "Instagram", "owen.makes", ("☐ Ads", "Insights"), "7 days")
    world.clock.advance(timedelta(days=2))  # approved two days after the request
    await owen.press("Approve", card_of(owen))
    assert "This access is for 7 days" in owen.last.plain
    await owen.send("/owned")
    assert "Ada (@ada_ads), ad account Acme Ads · temporary, until 01 Dec 2026, 12:00 UTC" \
        in owen.last.plain
    await ada.send("/accounts")
    assert ("approved by an unverified claimant · temporary, until 01 Dec 2026, 12:00 UTC"
            in ada.last.plain)

    world.clock.advance(timedelta(days=7) - timedelta(minutes=1))
    await world.sweep()
    assert [r[0] for r in await rows(world)] == ["authorized"]

    # The bot is down when the access runs out; the next process ends it at its first tick.
    await world.stop()
    world.clock.advance(timedelta(minutes=2))
    await world.boot()
    await world.sweep()
    assert [r[0] for r in await rows(world)] == ["ended"]
    assert "Your temporary access to @owen.makes (7 days) has ended in Linkpilot" \
        in ada.last.plain
    told = owen.last.plain
    assert "The 7 days of access you approved for Ada (@ada_ads) to @owen.makes are over" in told
    assert "still a partner, remove it: Meta Business Suite → Settings → Users → Partners" \
        in told

    async with world.deps.db.engine.connect() as conn:
        trail = [(r.event, r.from_status, r.to_status, r.actor_id)
                 for r in await conn.execute(AUDIT.select().order_by(AUDIT.c.id))]
        grant = (await conn.execute(GRANTS.select())).one()
    assert trail[-1] == ("end", "authorized", "ended", None)
    assert grant.ended_as == "ended"

    told_before = len(ada.inbox) + len(owen.inbox)
    await world.sweep()  # once only
    assert len(ada.inbox) + len(owen.inbox) == told_before
    await ada.send("/accounts")
    assert "ended (temporary access over)" in ada.last.plain
    await owen.send("/owned")
    assert "no advertiser uses it yet" in owen.last.plain


async def test_access_until_removed_never_ends_by_itself(world: World, ada: Person,
                                                         owen: Person) -> None:
    await owen.send("/claim instagram owen.makes")
    await meta_request(ada, "Instagram", "owen.makes", ("Content",), "Until removed")
    await owen.press("Approve", card_of(owen))
    world.clock.advance(timedelta(days=400))
    await world.sweep()
    assert [r[0] for r in await rows(world)] == ["authorized"]
