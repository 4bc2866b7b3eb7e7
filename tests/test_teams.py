"""Teams' rules (issue 10) on the in-memory unit of work: roles decide who may request and
unlink, an ad account keeps an admin, invites work once, the role question is answered from
what Linkpilot knows. A refusal writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows import teams, usecases
from flows.platforms import InvalidAdAccountName
from flows.records import RequestRow
from flows.request_flow import Refused
from flows.teams import NotInTeam, TeamRefused, TeamRole
from flows.usecases import Actor
from tests.fakes import FakeUnitOfWork
from tests.test_usecases import ADA, BOB, LIFETIME, OWEN, T0, submit

BEA = Actor(5005, "Bea", "bea")  # Ada's colleague


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


async def team_of(uow: FakeUnitOfWork, name: str = "Acme Ads") -> int:
    account = await uow.teams.find(teams.name_key(name))
    assert account is not None
    return account.id


async def version(uow: FakeUnitOfWork, ad_account_id: int) -> int:
    account = await uow.teams.get(ad_account_id)
    assert account is not None
    return account.version


async def invited(uow: FakeUnitOfWork, role: str, by: Actor = ADA,
                  name: str = "Acme Ads") -> str:
    """An invite made by an admin, and the token its message would carry."""
    aid = await team_of(uow, name)
    made = await teams.invite(uow, by.id, aid, await version(uow, aid), role, T0)
    issued = await teams.issue_invite_link(uow, made.id, T0)
    assert issued is not None
    return issued[0]


async def member(uow: FakeUnitOfWork, person: Actor, role: str) -> None:
    """`person` joins Ada's team (Acme Ads) through an invite."""
    await uow.users.seen(person.id, person.first_name, person.username, T0)
    await teams.join(uow, person.id, await invited(uow, role), T0)


async def ada_with_a_team(uow: FakeUnitOfWork) -> RequestRow:
    """Ada sends the first request naming Acme Ads: she becomes its admin."""
    return await submit(uow, ADA)


async def walk_to_ad_account(uow: FakeUnitOfWork, actor: Actor) -> usecases.Step:
    step = await usecases.begin_link(uow, actor, T0)
    step = await usecases.link_event(uow, actor.id, "choose_platform", T0, LIFETIME,
                                     platform="tiktok")
    while step.position.state == "prerequisite":
        step = await usecases.link_event(uow, actor.id, "answer_yes", T0, LIFETIME)
    assert step.position.state == "ad_account"
    return step


async def type_ad_account(uow: FakeUnitOfWork, actor: Actor, name: str) -> usecases.Step:
    row = await usecases.conversation(uow, actor.id)
    assert row is not None
    return await usecases.link_text(uow, row, name, T0, LIFETIME)


# --- who becomes admin ---------------------------------------------------------------------------

async def test_the_first_request_naming_an_ad_account_makes_its_requester_admin(
        uow: FakeUnitOfWork) -> None:
    request = await ada_with_a_team(uow)
    aid = await team_of(uow)
    assert await uow.teams.role_of(aid, ADA.id) == "admin"
    assert await uow.teams.account_of_request(request.id) == aid
    # Her next request for the same ad account (any case) belongs to the same team.
    again = await submit(uow, ADA, handle="@other.one", ad_account="ACME ads")
    assert await uow.teams.account_of_request(again.id) == aid
    assert [m.user_id for m in await uow.teams.members(aid)] == [ADA.id]


async def test_an_ad_account_created_with_team_new_has_its_creator_as_admin(
        uow: FakeUnitOfWork) -> None:
    account = await teams.new_ad_account(uow, BEA.id, "  Bea   Media ", T0)
    assert account.name == "Bea Media"
    assert await uow.teams.role_of(account.id, BEA.id) == "admin"
    with pytest.raises(TeamRefused) as taken:
        await teams.new_ad_account(uow, BOB.id, "bea media", T0)
    assert taken.value.reason == "exists"
    with pytest.raises(TeamRefused) as mine:
        await teams.new_ad_account(uow, BEA.id, "BEA MEDIA", T0)
    assert (mine.value.reason, mine.value.role) == ("already_member", "admin")
    with pytest.raises(InvalidAdAccountName):
        await teams.new_ad_account(uow, BEA.id, "what is this?", T0)


# --- who may request ------------------------------------------------------------------------------

async def test_an_analysts_request_is_refused_with_the_reason_and_nothing_changes(
        uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BEA, "analyst")
    await walk_to_ad_account(uow, BEA)
    before = (uow.snapshot(), uow.teams.snapshot())
    with pytest.raises(NotInTeam) as refused:
        await type_ad_account(uow, BEA, "acme ads")
    assert (refused.value.reason, refused.value.ad_account) == ("analyst", "Acme Ads")
    assert (uow.snapshot(), uow.teams.snapshot()) == before
    # Another ad account is fine (they'd be its admin once they send).
    step = await type_ad_account(uow, BEA, "Bea Media")
    assert step.position.state == "handle"


async def test_an_operator_may_request_for_the_team(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BEA, "operator")
    request = await submit(uow, BEA, handle="@bea.finds", ad_account="Acme Ads")
    aid = await team_of(uow)
    assert await uow.teams.account_of_request(request.id) == aid
    assert await uow.teams.role_of(aid, BEA.id) == "operator"  # still an operator


async def test_someone_outside_the_team_is_refused_and_told_to_ask_for_an_invite(
        uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await walk_to_ad_account(uow, BOB)
    with pytest.raises(NotInTeam) as refused:
        await type_ad_account(uow, BOB, "Acme Ads")
    assert refused.value.reason == "not_member"


async def test_a_role_taken_away_before_send_refuses_the_request(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BEA, "operator")
    await walk_to_ad_account(uow, BEA)
    await type_ad_account(uow, BEA, "Acme Ads")
    await type_ad_account(uow, BEA, "@bea.finds")
    for event, kwargs in (("toggle_scope", {"scope": "existing_posts"}),
                          ("confirm_scopes", {})):
        await usecases.link_event(uow, BEA.id, event, T0, LIFETIME, **kwargs)
    aid = await team_of(uow)
    await teams.change_role(uow, ADA.id, aid, await version(uow, aid), BEA.id, "analyst", T0)
    requests_before = dict(uow.requests.rows)
    with pytest.raises(NotInTeam):
        await usecases.link_event(uow, BEA.id, "send", T0, LIFETIME)
    assert uow.requests.rows == requests_before
    row = await usecases.conversation(uow, BEA.id)
    assert row is not None and row.state == "summary"


async def test_an_analyst_may_not_unlink_or_cancel_but_an_operator_may(
        uow: FakeUnitOfWork) -> None:
    request = await ada_with_a_team(uow)
    aid = await team_of(uow)
    await member(uow, BEA, "admin")
    # Bea (admin now) makes Ada an analyst: Ada's own request becomes status-only for her.
    await teams.change_role(uow, BEA.id, aid, await version(uow, aid), ADA.id, "analyst", T0)
    with pytest.raises(TeamRefused) as refused:
        await teams.check_request_action(uow, ADA.id, request.key)
    assert (refused.value.reason, refused.value.ad_account) == ("analyst", "Acme Ads")
    view = await teams.accounts_view(uow, ADA.id, await usecases.accounts(uow, ADA.id))
    assert view.read_only == {request.key}
    await teams.change_role(uow, BEA.id, aid, await version(uow, aid), ADA.id, "operator", T0)
    await teams.check_request_action(uow, ADA.id, request.key)  # allowed again
    view = await teams.accounts_view(uow, ADA.id, await usecases.accounts(uow, ADA.id))
    assert view.read_only == frozenset()


async def test_members_see_the_teams_requests(uow: FakeUnitOfWork) -> None:
    mine = await ada_with_a_team(uow)
    await member(uow, BEA, "analyst")
    await member(uow, BOB, "operator")
    for person, may_act in ((BEA, False), (BOB, True)):
        view = await teams.accounts_view(uow, person.id, await usecases.accounts(uow, person.id))
        assert [(r.key, u.first_name if u else None, act) for r, u, act in view.team] == [
            (mine.key, "Ada", may_act)]
    outsider = await teams.accounts_view(uow, OWEN.id, [])
    assert outsider.team == []


async def test_an_operator_unlinks_a_teammates_request_and_an_analyst_may_not(
        uow: FakeUnitOfWork) -> None:
    await usecases.claim(uow, OWEN, "tiktok", "owen.makes", T0)
    request = await ada_with_a_team(uow)
    await usecases.decide(uow, OWEN, "approve", T0, key=request.key)
    await member(uow, BEA, "analyst")
    await member(uow, BOB, "operator")
    uow.notices.clear()
    with pytest.raises(TeamRefused) as refused:
        await teams.check_request_action(uow, BEA.id, request.key)
    assert refused.value.reason == "analyst"
    with pytest.raises(Refused):  # and the request's own rules refuse her too
        await usecases.check(uow, BEA, request.key, "unlink", T0)
    with pytest.raises(Refused):  # nor is an operator's say enough to approve or revoke
        await usecases.decide(uow, BOB, "revoke", T0, key=request.key)
    assert uow.notices == []
    await teams.check_request_action(uow, BOB.id, request.key)
    await usecases.check(uow, BOB, request.key, "unlink", T0)
    decided = await usecases.decide(uow, BOB, "unlink", T0, key=request.key)
    assert decided.request.status == "unlinked"
    assert [(n.kind, n.chat_id) for n in uow.notices] == [
        ("unlinked_for_owner", OWEN.id), ("team_decided", ADA.id)]
    assert uow.notices[-1].data == {"by": BOB.id, "event": "unlink"}
    assert uow.audit.of_request(request.id)[-1].actor_id == BOB.id


# --- an ad account keeps an admin ----------------------------------------------------------------

async def test_the_last_admin_can_neither_leave_nor_demote_themself(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BEA, "operator")
    aid = await team_of(uow)
    v = await version(uow, aid)
    before = (uow.snapshot(), uow.teams.snapshot())
    for attempt in (teams.remove(uow, ADA.id, aid, v, ADA.id, T0),
                    teams.change_role(uow, ADA.id, aid, v, ADA.id, "operator", T0)):
        with pytest.raises(TeamRefused) as refused:
            await attempt
        assert refused.value.reason == "last_admin"
    assert (uow.snapshot(), uow.teams.snapshot()) == before
    # With a second admin, Ada may step down, and then leave.
    await teams.change_role(uow, ADA.id, aid, v, BEA.id, "admin", T0)
    await teams.change_role(uow, ADA.id, aid, v + 1, ADA.id, "analyst", T0)
    await teams.remove(uow, ADA.id, aid, v + 2, ADA.id, T0)
    assert [(m.user_id, m.role) for m in await uow.teams.members(aid)] == [(BEA.id, "admin")]


async def test_only_admins_manage_and_old_buttons_stop_working(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BEA, "operator")
    await member(uow, BOB, "analyst")
    aid = await team_of(uow)
    v = await version(uow, aid)
    with pytest.raises(TeamRefused) as not_admin:
        await teams.change_role(uow, BEA.id, aid, v, BOB.id, "operator", T0)
    assert (not_admin.value.reason, not_admin.value.role) == ("not_admin", "operator")
    with pytest.raises(TeamRefused):
        await teams.remove(uow, BEA.id, aid, v, BOB.id, T0)
    await teams.change_role(uow, ADA.id, aid, v, BOB.id, "operator", T0)
    assert [n.kind for n in uow.notices][-1] == "team_role"
    with pytest.raises(TeamRefused) as stale:  # a button from before that change
        await teams.remove(uow, ADA.id, aid, v, BOB.id, T0)
    assert stale.value.reason == "stale"
    assert await uow.teams.role_of(aid, BOB.id) == "operator"
    # Anyone may leave.
    await teams.remove(uow, BEA.id, aid, v + 1, BEA.id, T0)
    assert await uow.teams.role_of(aid, BEA.id) is None


# --- invites --------------------------------------------------------------------------------------

async def test_an_invite_works_once(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    token = await invited(uow, "operator")
    assert teams.is_invite_token(token)
    assert not [h for h in uow.teams.invite_hashes.values() if token in h]  # stored hashed
    joined = await teams.join(uow, BEA.id, token, T0)
    assert (joined.account.name, joined.role) == ("Acme Ads", TeamRole.OPERATOR)
    assert uow.notices[-1].kind == "team_joined" and uow.notices[-1].chat_id == ADA.id
    before = (uow.snapshot(), uow.teams.snapshot())
    with pytest.raises(TeamRefused) as used:
        await teams.join(uow, BOB.id, token, T0)
    assert used.value.reason == "invite_used"
    assert (uow.snapshot(), uow.teams.snapshot()) == before


async def test_an_expired_invite_lets_nobody_in(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    token = await invited(uow, "analyst")
    late = T0 + teams.DEFAULT_INVITE_LIFETIME
    with pytest.raises(TeamRefused) as expired:
        await teams.join(uow, BEA.id, token, late)
    assert expired.value.reason == "invite_expired"
    assert await uow.teams.role_of(await team_of(uow), BEA.id) is None
    with pytest.raises(TeamRefused) as forged:
        await teams.join(uow, BEA.id, teams.new_invite_token(), T0)
    assert forged.value.reason == "invite_invalid"


async def test_an_invite_opened_by_the_wrong_person_stays_for_the_right_one(
        uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BOB, "analyst")
    token = await invited(uow, "admin")
    for wrong, role in ((ADA, "admin"), (BOB, "analyst")):  # already in the team
        with pytest.raises(TeamRefused) as refused:
            await teams.join(uow, wrong.id, token, T0)
        assert (refused.value.reason, refused.value.role) == ("already_member", role)
    aid = await team_of(uow)
    assert await uow.teams.role_of(aid, BOB.id) == "analyst"  # not promoted by the link
    await teams.join(uow, BEA.id, token, T0)
    assert await uow.teams.role_of(aid, BEA.id) == "admin"


async def test_only_an_admin_invites(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BEA, "operator")
    aid = await team_of(uow)
    with pytest.raises(TeamRefused) as refused:
        await teams.invite(uow, BEA.id, aid, await version(uow, aid), "admin", T0)
    assert refused.value.reason == "not_admin"
    with pytest.raises(TeamRefused):
        await teams.invite(uow, ADA.id, aid, await version(uow, aid), "owner", T0)


# --- the role question ----------------------------------------------------------------------------

async def test_the_role_question_is_answered_from_the_team(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BEA, "operator")
    await usecases.begin_link(uow, BEA, T0)
    step = await usecases.link_event(uow, BEA.id, "choose_platform", T0, LIFETIME,
                                     platform="tiktok")
    assert step.position.prerequisite == "business_center"
    assert teams.role_note(step.position) == []
    step = await usecases.link_event(uow, BEA.id, "answer_yes", T0, LIFETIME)
    # The role question is passed over; the next one says why.
    assert step.position.prerequisite == "business_account"
    assert teams.role_note(step.position) == [("Acme Ads", "operator")]
    step = await usecases.link_event(uow, BEA.id, "back", T0, LIFETIME)
    assert step.position.prerequisite == "business_center"  # back goes over it too
    step = await usecases.link_event(uow, BEA.id, "answer_yes", T0, LIFETIME)
    step = await usecases.link_event(uow, BEA.id, "answer_yes", T0, LIFETIME)
    assert step.position.state == "ad_account"
    assert teams.role_note(step.position) == []


async def test_the_role_question_is_asked_when_not_known(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BEA, "analyst")  # an analyst's role answers nothing
    for person in (BEA, BOB):
        await usecases.begin_link(uow, person, T0)
        await usecases.link_event(uow, person.id, "choose_platform", T0, LIFETIME,
                                  platform="tiktok")
        step = await usecases.link_event(uow, person.id, "answer_yes", T0, LIFETIME)
        assert step.position.prerequisite == "ad_account_role"


# --- privacy --------------------------------------------------------------------------------------

async def test_deleteme_leaves_every_team_and_a_team_keeps_an_admin(uow: FakeUnitOfWork) -> None:
    await ada_with_a_team(uow)
    await member(uow, BOB, "analyst")
    await member(uow, BEA, "operator")
    await invited(uow, "operator")  # an unused invite of Ada's
    aid = await team_of(uow)
    uow.notices.clear()
    await usecases.erase_person(uow, ADA.id, T0 + timedelta(hours=1))
    assert await uow.teams.of_user(ADA.id) == []
    # Bob joined first: the team passes to him, and he is told.
    assert [(m.user_id, m.role) for m in await uow.teams.members(aid)] == [
        (BOB.id, "admin"), (BEA.id, "operator")]
    assert [(n.kind, n.chat_id) for n in uow.notices if n.kind.startswith("team")] == [
        ("team_heir", BOB.id)]
    assert [i for i in uow.teams.invites.values() if ADA.id in (i.invited_by, i.used_by)] == []
    assert OWEN.id not in {m.user_id for m in await uow.teams.members(aid)}
