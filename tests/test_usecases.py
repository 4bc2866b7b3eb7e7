"""The use cases' rules on the in-memory unit of work: who is told what, what state results, and
that a refusal writes nothing. No Telegram, no database: the whole file runs in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows import usecases
from flows.records import Notice, RequestRow
from flows.request_flow import Refused, Status
from flows.usecases import REASON_WINDOW, Actor, ReasonTooLong, Stale
from tests.fakes import FakeUnitOfWork

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(days=7)
ADA = Actor(1001, "Ada", "ada_ads")  # an advertiser
OWEN = Actor(2002, "Owen", "owen_creator")  # an account owner
EVE = Actor(3003, "Eve", "eve")  # someone with no business deciding anything
BOB = Actor(4004, "Bob")  # another advertiser
HANDLE = "@owen.makes"  # as typed
CLAIMED = "owen.makes"  # as /claim passes it on, normalised


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def told(uow: FakeUnitOfWork) -> list[tuple[str, int]]:
    """(kind, chat) of every notice owed so far, in order."""
    return [(n.kind, n.chat_id) for n in uow.notices]


def of_kind(uow: FakeUnitOfWork, kind: str) -> list[Notice]:
    return [n for n in uow.notices if n.kind == kind]


async def submit(uow: FakeUnitOfWork, actor: Actor = ADA, handle: str = HANDLE,
                 now: datetime = T0, ad_account: str | None = None) -> RequestRow:
    """Walk a whole TikTok conversation with buttons and typed text, as a person would.
    Each advertiser names their own ad account (another's team would refuse them)."""
    step = await usecases.begin_link(uow, actor, now)

    async def press(event: str, **kwargs: str) -> usecases.Step:
        return await usecases.link_event(uow, actor.id, event, now, LIFETIME,
                                         version=step.version, **kwargs)

    async def type_(text: str) -> usecases.Step:
        row = await usecases.conversation(uow, actor.id)
        assert row is not None
        return await usecases.link_text(uow, row, text, now, LIFETIME)

    step = await press("choose_platform", platform="tiktok")
    if step.position.state == "prerequisite_recap":  # confirmed in an earlier request
        step = await press("all_still_true")
    while step.position.state == "prerequisite":  # a known team role answers one itself
        step = await press("answer_yes")
    step = await type_(ad_account or ("Acme Ads" if actor == ADA else f"{actor.first_name} Ads"))
    step = await type_(handle)
    step = await press("toggle_scope", scope="existing_posts")
    step = await press("confirm_scopes")
    assert step.position.state == "summary"
    step = await press("send")
    assert step.position.state == "submitted"
    assert step.request is not None
    return step.request


async def claimed(uow: FakeUnitOfWork, actor: Actor = OWEN, handle: str = CLAIMED) -> None:
    await usecases.claim(uow, actor, "tiktok", handle, T0)
    uow.notices.clear()


async def pending(uow: FakeUnitOfWork, *, owner: Actor | None = OWEN,
                  requester: Actor = ADA) -> RequestRow:
    """A pending request from `requester`, its handle claimed by `owner` (None: unclaimed)."""
    if owner is not None:
        await claimed(uow, owner)
    request = await submit(uow, requester)
    uow.notices.clear()
    return request


async def status(uow: FakeUnitOfWork, request: RequestRow) -> str:
    row = await uow.requests.get(request.id)
    assert row is not None
    return row.status


# --- submitting ---------------------------------------------------------------------------------

async def test_a_request_for_a_claimed_handle_goes_to_its_owner(uow: FakeUnitOfWork) -> None:
    await claimed(uow)
    request = await submit(uow)
    assert told(uow) == [("owner_card", OWEN.id), ("sent_to_owner", ADA.id)]
    assert all(n.request_id == request.id for n in uow.notices)
    assert request.status == "pending" and request.owner_id == OWEN.id
    assert request.handle == "owen.makes" and request.handle_key == "owen.makes"
    assert request.ad_account == "Acme Ads" and request.scopes == ["existing_posts"]
    assert request.expires_at == T0 + LIFETIME
    assert [(a.event, a.to_status) for a in uow.audit.of_request(request.id)] == [
        ("create", "pending")]
    assert await usecases.conversation(uow, ADA.id) is None  # the conversation is over
    assert not uow.committed  # use cases never commit


async def test_handles_compare_case_insensitively(uow: FakeUnitOfWork) -> None:
    await claimed(uow, handle="Owen.Makes")
    request = await submit(uow, handle="https://www.tiktok.com/@OWEN.makes")
    assert request.owner_id == OWEN.id


async def test_a_request_for_an_unclaimed_handle_gets_an_approval_link(
        uow: FakeUnitOfWork) -> None:
    request = await submit(uow)
    assert uow.notices == [Notice("approval_link", ADA.id, request.id, {"why": "unclaimed"})]
    assert request.owner_id is None


async def test_a_handle_claimed_by_the_advertiser_is_refused_with_nothing_sent(
        uow: FakeUnitOfWork) -> None:
    await claimed(uow, ADA)
    with pytest.raises(usecases.OwnHandle):
        await submit(uow)
    assert uow.notices == []
    row = await usecases.conversation(uow, ADA.id)
    assert row is not None and row.state == "summary"  # still there, to edit or cancel


async def test_the_same_request_twice_is_refused_showing_the_first(
        uow: FakeUnitOfWork) -> None:
    await claimed(uow)
    first = await submit(uow)
    uow.notices.clear()
    with pytest.raises(usecases.DuplicateRequest) as duplicate:
        await submit(uow)
    assert duplicate.value.request.id == first.id
    assert uow.notices == []
    await usecases.decide(uow, ADA, "cancel", T0, key=first.key)
    # The refused one waited at its summary; once the first is over, sending it is fine.
    again = await usecases.link_event(uow, ADA.id, "send", T0, LIFETIME)
    assert again.request is not None and again.request.id != first.id


async def test_prerequisites_confirmed_once_are_recapped_next_time(
        uow: FakeUnitOfWork) -> None:
    await submit(uow)
    step = await usecases.begin_link(uow, ADA, T0)
    after = await usecases.link_event(uow, ADA.id, "choose_platform", T0, LIFETIME,
                                      version=step.version, platform="tiktok")
    assert after.position.state == "prerequisite_recap"
    fresh = await usecases.begin_link(uow, EVE, T0)  # somebody else still gets the questions
    theirs = await usecases.link_event(uow, EVE.id, "choose_platform", T0, LIFETIME,
                                       version=fresh.version, platform="tiktok")
    assert theirs.position.state == "prerequisite"


async def test_begin_link_resumes_a_conversation_in_progress(uow: FakeUnitOfWork) -> None:
    first = await usecases.begin_link(uow, ADA, T0)
    step = await usecases.link_event(uow, ADA.id, "choose_platform", T0, LIFETIME,
                                     version=first.version, platform="tiktok")
    again = await usecases.begin_link(uow, ADA, T0)
    assert again.resumed and again.position.state == "prerequisite"
    assert again.version == step.version


async def test_a_stale_button_is_refused_and_changes_nothing(uow: FakeUnitOfWork) -> None:
    first = await usecases.begin_link(uow, ADA, T0)
    await usecases.link_event(uow, ADA.id, "choose_platform", T0, LIFETIME,
                              version=first.version, platform="tiktok")
    before = uow.snapshot()
    with pytest.raises(Stale):
        await usecases.link_event(uow, ADA.id, "choose_platform", T0, LIFETIME,
                                  version=first.version, platform="tiktok")
    assert uow.snapshot() == before


async def test_an_event_without_a_conversation_is_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(usecases.NoConversation):
        await usecases.link_event(uow, ADA.id, "answer_yes", T0, LIFETIME)
    assert uow.snapshot() == FakeUnitOfWork().snapshot()


# --- decisions ----------------------------------------------------------------------------------

async def test_the_owner_approves(uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    await uow.cards.add(request.id, OWEN.id, 50, T0)
    await uow.cards.add(request.id, OWEN.id, 51, T0)  # a reminder card
    decided = await usecases.decide(uow, OWEN, "approve", T0 + timedelta(hours=1),
                                    key=request.key)
    after = decided.request
    assert after.status == "authorized" and after.owner_id == OWEN.id
    assert after.decided_at == T0 + timedelta(hours=1)
    assert decided.requester is not None and decided.requester.first_name == "Ada"
    assert [(g.owner_id, g.advertiser_id) for g in uow.grants.active()] == [(OWEN.id, ADA.id)]
    assert [(a.event, a.actor_id, a.from_status, a.to_status)
            for a in uow.audit.of_request(request.id)] == [
        ("create", ADA.id, None, "pending"), ("approve", OWEN.id, "pending", "authorized")]
    assert told(uow) == [("close_card", OWEN.id), ("close_card", OWEN.id),
                         ("approved_for_advertiser", ADA.id)]
    assert [n.data for n in of_kind(uow, "close_card")] == [{"message_id": 50},
                                                            {"message_id": 51}]
    assert await uow.cards.take(request.id) == []  # each card is closed once


@pytest.mark.parametrize(("actor", "reason"), [(EVE, "not_allowed"), (ADA, "own_request")])
@pytest.mark.parametrize("event", ["approve", "reject"])
async def test_only_the_owner_decides(uow: FakeUnitOfWork, actor: Actor, reason: str,
                                      event: str) -> None:
    request = await pending(uow)
    before = uow.snapshot()
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, actor, event, T0, key=request.key)
    assert refused.value.reason == reason
    assert uow.snapshot() == before


async def test_a_second_decision_is_refused(uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    await usecases.decide(uow, OWEN, "approve", T0, key=request.key)
    before = uow.snapshot()
    for event in ("approve", "reject"):
        with pytest.raises(Refused) as refused:
            await usecases.decide(uow, OWEN, event, T0, key=request.key)
        assert refused.value.reason == "already"
        assert refused.value.status == Status.AUTHORIZED
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, ADA, "cancel", T0, key=request.key)
    assert refused.value.reason == "already"
    assert uow.snapshot() == before


async def test_an_unknown_request_is_gone(uow: FakeUnitOfWork) -> None:
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, OWEN, "approve", T0, key="nope")
    assert refused.value.reason == "gone"
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, OWEN, "approve", T0, token="nope")
    assert refused.value.reason == "gone"


async def test_a_request_past_its_expiry_cannot_be_approved(uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    before = uow.snapshot()
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, OWEN, "approve", request.expires_at, key=request.key)
    assert (refused.value.reason, refused.value.status) == ("already", Status.EXPIRED)
    assert uow.snapshot() == before
    assert await status(uow, request) == "pending"  # the sweep has not run yet


async def test_check_asks_the_rules_without_writing(uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    await usecases.decide(uow, OWEN, "approve", T0, key=request.key)
    before = uow.snapshot()
    assert (await usecases.check(uow, OWEN, request.key, "revoke", T0)).request.id == request.id
    with pytest.raises(Refused):
        await usecases.check(uow, EVE, request.key, "revoke", T0)
    with pytest.raises(Refused):
        await usecases.check(uow, OWEN, request.key, "unlink", T0)
    assert uow.snapshot() == before


# --- the one-time approval link -----------------------------------------------------------------

async def test_approving_through_the_link_claims_nothing_and_says_unverified(
        uow: FakeUnitOfWork) -> None:
    """Issue 11: holding the link decides this one request; it does not make the holder the
    handle's owner, and the advertiser learns the approval is unverified."""
    request = await pending(uow, owner=None)
    token = await usecases.issue_link(uow, request.id, T0)
    assert token is not None
    assert (await uow.requests.by_token(token)) is not None
    decided = await usecases.decide(uow, OWEN, "approve", T0, token=token)
    assert decided.request.status == "authorized" and decided.request.owner_id == OWEN.id
    assert await uow.claims.get("tiktok", "owen.makes") is None
    assert [g.owner_id for g in uow.grants.active()] == [OWEN.id]
    assert await uow.requests.by_token(token) is None  # the link died with the decision
    assert told(uow) == [("approved_for_advertiser", ADA.id)]
    assert of_kind(uow, "approved_for_advertiser")[0].data == {"strength": "unverified"}
    # The next request for the handle still has nobody to go to: a link again.
    uow.notices.clear()
    await submit(uow, BOB)
    assert told(uow) == [("approval_link", BOB.id)]


async def test_a_claimed_owners_decision_is_unverified_until_they_verify(
        uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    await usecases.decide(uow, OWEN, "approve", T0, key=request.key)
    assert of_kind(uow, "approved_for_advertiser")[0].data == {"strength": "unverified"}


async def test_the_link_only_approves_or_rejects(uow: FakeUnitOfWork) -> None:
    request = await pending(uow, owner=None)
    token = await usecases.issue_link(uow, request.id, T0)
    before = uow.snapshot()
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, ADA, "cancel", T0, token=token)
    assert refused.value.reason == "gone"
    assert uow.snapshot() == before


async def test_a_link_holder_cannot_decide_for_a_handle_someone_else_claimed(
        uow: FakeUnitOfWork) -> None:
    request = await pending(uow, owner=None)
    token = await usecases.issue_link(uow, request.id, T0)
    await claimed(uow, OWEN)  # the owner claims it meanwhile: the request is routed to him
    before = uow.snapshot()
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, EVE, "approve", T0, token=token)
    assert refused.value.reason == "claimed_by_other"
    assert uow.snapshot() == before
    # The owner himself may still use it.
    decided = await usecases.decide(uow, OWEN, "approve", T0, token=token)
    assert decided.request.status == "authorized"


async def test_a_link_approval_leaves_other_links_for_the_handle_with_their_holders(
        uow: FakeUnitOfWork) -> None:
    """Approving through a link no longer claims the handle (issue 11), so another advertiser's
    link for it stays theirs to forward: whoever holds it decides that one, unverified."""
    first = await pending(uow, owner=None)
    second = await pending(uow, owner=None, requester=BOB)
    first_token = await usecases.issue_link(uow, first.id, T0)
    second_token = await usecases.issue_link(uow, second.id, T0)
    assert first_token is not None and second_token is not None
    await usecases.decide(uow, OWEN, "approve", T0, token=first_token)
    assert await uow.claims.get("tiktok", "owen.makes") is None
    uow.notices.clear()
    decided = await usecases.decide(uow, EVE, "reject", T0, token=second_token)
    assert decided.request.status == "rejected"
    assert of_kind(uow, "rejected_for_advertiser")[0].data == {"strength": "unverified"}


async def test_rejecting_through_the_link_claims_nothing(uow: FakeUnitOfWork) -> None:
    request = await pending(uow, owner=None)
    token = await usecases.issue_link(uow, request.id, T0)
    decided = await usecases.decide(uow, EVE, "reject", T0, token=token)
    assert decided.request.status == "rejected"
    assert await uow.claims.get("tiktok", "owen.makes") is None
    assert uow.grants.rows == {}


async def test_open_approval_link_shows_the_card_to_whoever_may_decide(
        uow: FakeUnitOfWork) -> None:
    request = await pending(uow, owner=None)
    token = await usecases.issue_link(uow, request.id, T0)
    assert token is not None
    shown = await usecases.open_approval_link(uow, OWEN, token, T0)
    assert shown.id == request.id
    assert uow.notices == [Notice("link_card", OWEN.id, request.id, {"token": token})]


@pytest.mark.parametrize("case", ["own", "unknown", "expired", "decided", "claimed"])
async def test_open_approval_link_refusals_owe_nothing(uow: FakeUnitOfWork, case: str) -> None:
    request = await pending(uow, owner=None)
    token = await usecases.issue_link(uow, request.id, T0)
    assert token is not None
    actor, now, expected = OWEN, T0, "link_invalid"
    if case == "own":
        actor, expected = ADA, "own_link"
    elif case == "unknown":
        token = "not-a-token"
    elif case == "expired":
        now = request.expires_at
    elif case == "decided":
        await usecases.decide(uow, ADA, "cancel", T0, key=request.key)
        uow.notices.clear()
    else:
        await claimed(uow, EVE)
        expected = "claimed_by_other"
    before = uow.snapshot()
    with pytest.raises(Refused) as refused:
        await usecases.open_approval_link(uow, actor, token, now)
    assert refused.value.reason == expected
    after = uow.snapshot()
    assert uow.notices == []
    assert {k: v for k, v in after.items() if k != "users"} == {
        k: v for k, v in before.items() if k != "users"}


async def test_issue_link_is_for_pending_requests_only(uow: FakeUnitOfWork) -> None:
    request = await pending(uow, owner=None)
    old = await usecases.issue_link(uow, request.id, T0)
    new = await usecases.issue_link(uow, request.id, T0)
    assert old is not None and new is not None and old != new
    assert await uow.requests.by_token(old) is None  # an older link dies
    found = await uow.requests.by_token(new)
    assert found is not None and found.has_token
    assert await usecases.issue_link(uow, request.id, request.expires_at) is None
    await usecases.decide(uow, ADA, "cancel", T0, key=request.key)
    assert await usecases.issue_link(uow, request.id, T0) is None
    assert await usecases.issue_link(uow, 999, T0) is None
    assert (await uow.requests.get(request.id)).has_token is False  # type: ignore[union-attr]


async def test_link_again_is_for_the_requesters_pending_request(uow: FakeUnitOfWork) -> None:
    request = await pending(uow, owner=None)
    await usecases.link_again(uow, ADA, request.key, T0)
    assert uow.notices == [Notice("approval_link", ADA.id, request.id, {"why": "again"})]
    uow.notices.clear()
    for actor, now in ((EVE, T0), (ADA, request.expires_at)):
        with pytest.raises(Refused) as refused:
            await usecases.link_again(uow, actor, request.key, now)
        assert refused.value.reason == "gone"
    assert uow.notices == []


async def test_a_qr_code_is_for_the_requesters_pending_request(uow: FakeUnitOfWork) -> None:
    request = await pending(uow, owner=None)
    await usecases.approval_qr(uow, ADA, request.key, T0)
    assert uow.notices == [Notice("approval_qr", ADA.id, request.id)]
    uow.notices.clear()
    for actor, now in ((EVE, T0), (ADA, request.expires_at)):
        with pytest.raises(Refused) as refused:
            await usecases.approval_qr(uow, actor, request.key, now)
        assert refused.value.reason == "gone"
    await usecases.decide(uow, ADA, "cancel", T0, key=request.key)
    uow.notices.clear()
    with pytest.raises(Refused):
        await usecases.approval_qr(uow, ADA, request.key, T0)
    assert uow.notices == []


async def test_owner_unreachable_sends_a_link_while_pending(uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    assert await usecases.owner_unreachable(uow, request.id, T0)
    assert uow.notices == [Notice("approval_link", ADA.id, request.id, {"why": "unreachable"})]
    uow.notices.clear()
    assert not await usecases.owner_unreachable(uow, request.id, request.expires_at)
    await usecases.decide(uow, OWEN, "approve", T0, key=request.key)
    uow.notices.clear()
    assert not await usecases.owner_unreachable(uow, request.id, T0)
    assert not await usecases.owner_unreachable(uow, 999, T0)
    assert uow.notices == []


# --- rejection and its reason -------------------------------------------------------------------

async def rejected(uow: FakeUnitOfWork) -> RequestRow:
    request = await pending(uow)
    decided = await usecases.decide(uow, OWEN, "reject", T0, key=request.key)
    uow.notices.clear()
    return decided.request


async def test_rejecting_tells_the_advertiser_and_asks_the_owner_why(
        uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    await uow.cards.add(request.id, OWEN.id, 50, T0)
    decided = await usecases.decide(uow, OWEN, "reject", T0, key=request.key)
    assert decided.request.status == "rejected"
    assert told(uow) == [("close_card", OWEN.id), ("rejected_for_advertiser", ADA.id),
                         ("reason_prompt", OWEN.id)]
    assert uow.grants.rows == {}
    step = await uow.conversations.load(OWEN.id, usecases.REASON_FLOW)
    assert step is not None and step.state == "awaiting"
    assert step.data["key"] == request.key


@pytest.mark.parametrize("kind", ["card", "prompt"])
async def test_a_reply_to_the_card_or_prompt_is_the_reason(uow: FakeUnitOfWork,
                                                           kind: str) -> None:
    request = await rejected(uow)
    await uow.cards.add(request.id, OWEN.id, 77, T0, kind=kind)
    now = T0 + timedelta(minutes=5)
    given = await usecases.give_reason(uow, OWEN, 77, "  We never worked together  ", now)
    assert given is not None and given.id == request.id
    after = await uow.requests.get(request.id)
    assert after is not None and after.reason == "We never worked together"
    assert uow.notices == [Notice("reason_for_advertiser", ADA.id, request.id,
                                  {"reason": "We never worked together"})]
    assert uow.audit.rows[-1].event == "explain"
    assert uow.audit.rows[-1].reason == "We never worked together"
    # The step is closed: a second reply is not a reason any more.
    uow.notices.clear()
    assert await usecases.give_reason(uow, OWEN, 77, "and another thing", now) is None
    assert uow.notices == []


async def test_a_reply_to_the_card_shown_before_the_rejection_is_the_reason(
        uow: FakeUnitOfWork) -> None:
    """The owner presses Reject on his card, then replies to that same card with the reason (the
    reason step says he may reply "to the card or the prompt")."""
    request = await pending(uow)
    await uow.cards.add(request.id, OWEN.id, 50, T0)  # the owner's card, sent while pending
    await usecases.decide(uow, OWEN, "reject", T0, key=request.key)
    uow.notices.clear()
    given = await usecases.give_reason(uow, OWEN, 50, "Not my account", T0)
    assert given is not None
    assert told(uow) == [("reason_for_advertiser", ADA.id)]


async def test_text_that_is_no_such_reply_is_left_alone(uow: FakeUnitOfWork) -> None:
    request = await rejected(uow)
    await uow.cards.add(request.id, OWEN.id, 77, T0, kind="prompt")
    other = await submit(uow, BOB)
    await uow.cards.add(other.id, OWEN.id, 88, T0)  # a card of another request
    before = uow.snapshot()
    for replied_to in (None, 12345, 88):
        assert await usecases.give_reason(uow, OWEN, replied_to, "why", T0) is None
    assert await usecases.give_reason(uow, EVE, 77, "why", T0) is None  # not Eve's chat
    assert uow.snapshot() == before


async def test_the_reason_step_lapses(uow: FakeUnitOfWork) -> None:
    request = await rejected(uow)
    await uow.cards.add(request.id, OWEN.id, 77, T0, kind="prompt")
    before = uow.snapshot()
    assert await usecases.give_reason(uow, OWEN, 77, "late", T0 + REASON_WINDOW) is None
    assert not await usecases.skip_reason(uow, OWEN, request.key, T0 + REASON_WINDOW)
    assert not await usecases.end_reason_step(uow, OWEN.id, T0 + REASON_WINDOW)
    assert uow.snapshot() == before


async def test_a_reason_too_long_leaves_the_step_open(uow: FakeUnitOfWork) -> None:
    request = await rejected(uow)
    await uow.cards.add(request.id, OWEN.id, 77, T0, kind="prompt")
    before = uow.snapshot()
    with pytest.raises(ReasonTooLong):
        await usecases.give_reason(uow, OWEN, 77, "x" * (usecases.MAX_REASON + 1), T0)
    assert uow.snapshot() == before
    assert await usecases.give_reason(uow, OWEN, 77, "x" * usecases.MAX_REASON, T0) is not None


async def test_skip_and_cancel_close_the_reason_step(uow: FakeUnitOfWork) -> None:
    request = await rejected(uow)
    await uow.cards.add(request.id, OWEN.id, 77, T0, kind="prompt")
    assert not await usecases.skip_reason(uow, OWEN, "other-key", T0)
    assert not await usecases.skip_reason(uow, EVE, request.key, T0)
    assert await usecases.skip_reason(uow, OWEN, request.key, T0)
    assert not await usecases.skip_reason(uow, OWEN, request.key, T0)
    assert await usecases.give_reason(uow, OWEN, 77, "now?", T0) is None

    await usecases.open_reason_step(uow, OWEN.id, request.key, T0)
    assert await usecases.end_reason_step(uow, OWEN.id, T0)
    assert not await usecases.end_reason_step(uow, OWEN.id, T0)
    assert await usecases.give_reason(uow, OWEN, 77, "now?", T0) is None
    assert uow.notices == []
    assert (await uow.requests.get(request.id)).reason is None  # type: ignore[union-attr]


# --- ending a request ---------------------------------------------------------------------------

async def test_the_advertiser_cancels_a_pending_request(uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    await uow.cards.add(request.id, OWEN.id, 50, T0)
    decided = await usecases.decide(uow, ADA, "cancel", T0, key=request.key)
    assert decided.request.status == "cancelled"
    assert told(uow) == [("close_card", OWEN.id), ("cancelled_for_owner", OWEN.id)]
    assert uow.grants.rows == {}


async def test_cancelling_an_unclaimed_request_tells_nobody_else(uow: FakeUnitOfWork) -> None:
    request = await pending(uow, owner=None)
    await usecases.decide(uow, ADA, "cancel", T0, key=request.key)
    assert uow.notices == []
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, ADA, "cancel", T0, key=request.key)
    assert refused.value.reason == "already"
    with pytest.raises(Refused) as refused:  # Owen has no part in it: he learns nothing
        await usecases.decide(uow, OWEN, "cancel", T0, key=request.key)
    assert refused.value.reason == "not_allowed"


async def authorized(uow: FakeUnitOfWork) -> RequestRow:
    request = await pending(uow)
    await usecases.decide(uow, OWEN, "approve", T0, key=request.key)
    uow.notices.clear()
    return request


async def test_the_advertiser_unlinks(uow: FakeUnitOfWork) -> None:
    request = await authorized(uow)
    with pytest.raises(Refused):
        await usecases.decide(uow, OWEN, "unlink", T0, key=request.key)
    later = T0 + timedelta(days=30)
    decided = await usecases.decide(uow, ADA, "unlink", later, key=request.key)
    assert decided.request.status == "unlinked"
    assert decided.request.decided_at == T0  # the decision was the approval
    assert told(uow) == [("unlinked_for_owner", OWEN.id)]
    assert uow.grants.active() == []
    assert uow.grants.rows[request.id].ended_as == "unlinked"
    assert uow.grants.rows[request.id].ended_at == later


async def test_the_owner_revokes(uow: FakeUnitOfWork) -> None:
    request = await authorized(uow)
    for actor in (ADA, EVE):
        with pytest.raises(Refused):
            await usecases.decide(uow, actor, "revoke", T0, key=request.key)
    assert uow.notices == [] and len(uow.grants.active()) == 1
    decided = await usecases.decide(uow, OWEN, "revoke", T0, key=request.key)
    assert decided.request.status == "revoked"
    assert told(uow) == [("revoked_for_advertiser", ADA.id)]
    assert uow.grants.rows[request.id].ended_as == "revoked"
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, ADA, "unlink", T0, key=request.key)
    assert refused.value.reason == "already"


# --- claims -------------------------------------------------------------------------------------

async def test_claiming_routes_waiting_requests_to_the_new_owner(uow: FakeUnitOfWork) -> None:
    first = await pending(uow, owner=None)
    second = await pending(uow, owner=None, requester=BOB)
    done = await pending(uow, owner=None, requester=EVE)
    await usecases.decide(uow, EVE, "cancel", T0, key=done.key)
    uow.notices.clear()
    result = await usecases.claim(uow, OWEN, "tiktok", "OWEN.makes", T0)
    assert result.created and result.waiting == 2
    assert result.claim.owner_id == OWEN.id and result.claim.handle_key == "owen.makes"
    assert told(uow) == [("owner_card", OWEN.id), ("sent_to_owner", ADA.id),
                         ("owner_card", OWEN.id), ("sent_to_owner", BOB.id)]
    assert [n.request_id for n in of_kind(uow, "owner_card")] == [first.id, second.id]
    assert (await uow.requests.get(done.id)).owner_id is None  # type: ignore[union-attr]
    owned = await usecases.owned(uow, OWEN.id)
    assert [c.handle for c in owned.claims] == ["OWEN.makes"]
    assert [(r.id, u.first_name if u else None) for r, u in owned.pending] == [
        (first.id, "Ada"), (second.id, "Bob")]


async def test_a_second_claimer_gets_the_standing_claim(uow: FakeUnitOfWork) -> None:
    await claimed(uow, OWEN)
    await submit(uow)
    uow.notices.clear()
    result = await usecases.claim(uow, EVE, "tiktok", CLAIMED, T0)
    assert not result.created and result.waiting == 0
    assert result.claim.owner_id == OWEN.id
    assert uow.notices == []
    assert await uow.claims.of_owner(EVE.id) == []


async def test_claiming_the_handle_of_ones_own_request_keeps_it_out_of_ones_hands(
        uow: FakeUnitOfWork) -> None:
    """As at submission, the requester never becomes the owner of their own request: after Ada
    claims the handle she asked for, the link she forwarded still works for its real owner."""
    request = await pending(uow, owner=None)
    token = await usecases.issue_link(uow, request.id, T0)
    assert token is not None
    result = await usecases.claim(uow, ADA, "tiktok", CLAIMED, T0)
    assert result.created and result.waiting == 0
    assert uow.notices == []
    after = await uow.requests.get(request.id)
    assert after is not None and after.owner_id is None
    shown = await usecases.open_approval_link(uow, OWEN, token, T0)
    assert shown.id == request.id


# --- the clock ----------------------------------------------------------------------------------

async def test_expire_due_expires_only_due_requests_and_tells_both_sides(
        uow: FakeUnitOfWork) -> None:
    claimed_one = await pending(uow)
    await uow.cards.add(claimed_one.id, OWEN.id, 50, T0)
    await uow.cards.add(claimed_one.id, OWEN.id, 51, T0, kind="prompt")
    unclaimed = await submit(uow, BOB, handle="@someone.else")
    later = await submit(uow, EVE, now=T0 + timedelta(days=1))
    decided = await submit(uow, Actor(5005, "Dora"), handle="@someone.else")
    await usecases.decide(uow, Actor(5005, "Dora"), "cancel", T0, key=decided.key)
    uow.notices.clear()

    now = T0 + LIFETIME
    expired = await usecases.expire_due(uow, now)
    assert sorted(r.id for r in expired) == sorted([claimed_one.id, unclaimed.id])
    assert all(r.status == "expired" and r.decided_at == now for r in expired)
    assert sorted(told(uow)) == sorted([
        ("close_card", OWEN.id), ("expired_for_advertiser", ADA.id),
        ("expired_for_owner", OWEN.id), ("expired_for_advertiser", BOB.id)])
    assert of_kind(uow, "close_card")[0].data == {"message_id": 50}
    assert await uow.cards.take(claimed_one.id) == []  # each card is closed once
    assert await uow.cards.find(OWEN.id, 51) is not None  # the prompt stays
    assert await status(uow, later) == "pending"
    assert await status(uow, decided) == "cancelled"
    assert uow.audit.rows[-1].event == "expire" and uow.audit.rows[-1].actor_id is None

    uow.notices.clear()
    before = uow.snapshot()
    assert await usecases.expire_due(uow, now) == []
    assert uow.snapshot() == before


async def test_remind_due_reminds_once_ahead_of_expiry(uow: FakeUnitOfWork) -> None:
    ahead = timedelta(days=1)
    to_owner = await pending(uow)
    to_advertiser = await submit(uow, BOB, handle="@someone.else")
    uow.notices.clear()

    early = T0 + LIFETIME - ahead - timedelta(seconds=1)
    assert await usecases.remind_due(uow, early, ahead) == []
    now = T0 + LIFETIME - ahead
    reminded = await usecases.remind_due(uow, now, ahead)
    assert sorted(r.id for r in reminded) == sorted([to_owner.id, to_advertiser.id])
    assert sorted(told(uow)) == sorted([("reminder", OWEN.id), ("reminder", BOB.id)])

    uow.notices.clear()
    assert await usecases.remind_due(uow, now + timedelta(hours=1), ahead) == []
    assert uow.notices == []


async def test_remind_due_skips_decided_and_expired_requests(uow: FakeUnitOfWork) -> None:
    ahead = timedelta(days=1)
    approved = await pending(uow)
    await usecases.decide(uow, OWEN, "approve", T0, key=approved.key)
    uow.notices.clear()
    assert await usecases.remind_due(uow, T0 + LIFETIME - timedelta(hours=1), ahead) == []

    swept = await submit(uow, BOB, handle="@someone.else")
    assert [r.id for r in await usecases.expire_due(uow, swept.expires_at)] == [swept.id]
    unswept = await submit(uow, EVE, handle="@third.one", now=T0 + timedelta(hours=1))
    uow.notices.clear()
    past_both = unswept.expires_at + timedelta(hours=1)
    assert await usecases.remind_due(uow, past_both, ahead) == []
    assert uow.notices == []
    assert uow.requests.reminded_at == {}


async def test_a_reminder_another_process_sent_is_not_sent_again(
        uow: FakeUnitOfWork, monkeypatch: pytest.MonkeyPatch) -> None:
    request = await pending(uow)
    now = request.expires_at - timedelta(hours=1)
    read = await uow.requests.to_remind(now, request.expires_at)
    assert await uow.requests.mark_reminded(request.id, now)  # the other process wins

    async def stale_read(*args: object, **kwargs: object) -> list[RequestRow]:
        return read

    monkeypatch.setattr(uow.requests, "to_remind", stale_read)
    assert await usecases.remind_due(uow, now, timedelta(days=1)) == []
    assert uow.notices == []


async def test_a_decision_made_meanwhile_elsewhere_wins(
        uow: FakeUnitOfWork, monkeypatch: pytest.MonkeyPatch) -> None:
    request = await pending(uow)
    read = await uow.requests.by_key(request.key)
    await usecases.decide(uow, ADA, "cancel", T0, key=request.key)  # the other process wins
    uow.notices.clear()

    async def stale_read(key: str) -> RequestRow | None:
        return read

    monkeypatch.setattr(uow.requests, "by_key", stale_read)
    grants, audit = dict(uow.grants.rows), list(uow.audit.rows)
    with pytest.raises(Refused) as refused:
        await usecases.decide(uow, OWEN, "approve", T0, key=request.key)
    assert (refused.value.reason, refused.value.status) == ("already", Status.CANCELLED)
    assert uow.grants.rows == grants and uow.audit.rows == audit and uow.notices == []


async def test_accounts_lists_open_requests_first(uow: FakeUnitOfWork) -> None:
    first = await pending(uow)
    await usecases.decide(uow, ADA, "cancel", T0, key=first.key)
    second = await submit(uow)
    assert [r.id for r in await usecases.accounts(uow, ADA.id)] == [second.id, first.id]
    assert await usecases.accounts(uow, EVE.id) == []


# --- limits and blocks --------------------------------------------------------------------------

async def test_an_advertiser_may_have_only_so_many_requests_waiting(
        uow: FakeUnitOfWork) -> None:
    await claimed(uow)
    for n in range(5):
        await submit(uow, handle=f"@brand.{n}")
    with pytest.raises(usecases.OverLimit) as over:
        await submit(uow, handle="@brand.5")
    assert over.value.reason == "pending" and over.value.count == 5
    assert over.value.until == T0 + LIFETIME  # when the first waiting one expires


async def test_and_only_so_many_a_day(uow: FakeUnitOfWork) -> None:
    limits = usecases.Limits(max_pending=100, per_day=3)
    for n in range(3):
        request = await submit(uow, handle=f"@brand.{n}", now=T0 + timedelta(hours=n))
        await usecases.decide(uow, ADA, "cancel", T0 + timedelta(hours=n), key=request.key)
    step = await usecases.begin_link(uow, ADA, T0 + timedelta(hours=5))
    assert step.position.state == "platform"
    with pytest.raises(usecases.OverLimit) as over:
        await walk_to_summary_and_send(uow, "@brand.9", T0 + timedelta(hours=5), limits)
    assert over.value.reason == "per_day"
    assert over.value.until == T0 + timedelta(days=1)  # the first of the three ages out


async def walk_to_summary_and_send(uow: FakeUnitOfWork, handle: str, now: datetime,
                                   limits: usecases.Limits) -> usecases.Step:
    step = await usecases.begin_link(uow, ADA, now)
    step = await usecases.link_event(uow, ADA.id, "choose_platform", now, LIFETIME,
                                     platform="tiktok")
    if step.position.state == "prerequisite_recap":
        await usecases.link_event(uow, ADA.id, "all_still_true", now, LIFETIME)
    row = await usecases.conversation(uow, ADA.id)
    assert row is not None
    await usecases.link_text(uow, row, "Acme Ads", now, LIFETIME)
    row = await usecases.conversation(uow, ADA.id)
    assert row is not None
    await usecases.link_text(uow, row, handle, now, LIFETIME)
    await usecases.link_event(uow, ADA.id, "toggle_scope", now, LIFETIME,
                              scope="existing_posts")
    await usecases.link_event(uow, ADA.id, "confirm_scopes", now, LIFETIME)
    return await usecases.link_event(uow, ADA.id, "send", now, LIFETIME, limits=limits)


async def test_after_a_rejection_the_same_account_waits(uow: FakeUnitOfWork) -> None:
    await claimed(uow)
    request = await submit(uow)
    await usecases.decide(uow, OWEN, "reject", T0 + timedelta(hours=1), key=request.key)
    with pytest.raises(usecases.OverLimit) as over:
        await walk_to_summary_and_send(uow, CLAIMED, T0 + timedelta(hours=2), usecases.Limits())
    assert over.value.reason == "after_rejection"
    assert over.value.until == T0 + timedelta(hours=25)
    later = await usecases.link_event(uow, ADA.id, "send", T0 + timedelta(hours=26), LIFETIME)
    assert later.request is not None


async def test_an_owner_blocks_an_advertiser_from_a_card(uow: FakeUnitOfWork) -> None:
    await claimed(uow)
    await claimed(uow, handle="owen.second")
    first = await submit(uow)
    await submit(uow, handle="@owen.second")  # another of Owen's accounts, also waiting
    with pytest.raises(Refused):
        await usecases.block_advertiser(uow, EVE, first.key, T0)  # only the owner
    uow.notices.clear()
    blocked = await usecases.block_advertiser(uow, OWEN, first.key, T0)
    assert blocked.rejected == 2
    assert all(r.status == "rejected" for r in uow.requests.rows.values())
    assert ("rejected_for_advertiser", ADA.id) in told(uow)
    with pytest.raises(usecases.OverLimit) as over:
        await walk_to_summary_and_send(uow, CLAIMED, T0 + timedelta(days=30),
                                       usecases.Limits())
    assert over.value.reason == "blocked" and over.value.until is None
    assert (await submit(uow, actor=EVE)).owner_id == OWEN.id  # others are not affected
