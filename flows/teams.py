"""Teams (issue 10): who may do what for an ad account.

An ad account in Linkpilot has members with roles. Admins invite people (by one-time link),
change roles and remove members; admins and operators make requests for it and cancel or
unlink any of its requests; analysts see its requests' status only. The person who first
names an ad account in a sent request, or creates it with /team, becomes its admin, and an
ad account never loses its last admin by a demotion or by leaving.

The link conversation asks whether the advertiser has the Admin or Operator role on the ad
account; when Linkpilot knows they do, the question is skipped and they are told why.

Like `flows.usecases`, these functions take a unit of work, change state, owe their messages
as `Notice`s and never commit. A refusal raises before anything is written.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flows import link_flow
from flows.link_flow import FlowError, Position, S
from flows.platforms import get_platform, normalise_ad_account_name
from flows.ports import UnitOfWork
from flows.records import (
    AdAccountRow,
    ConversationRow,
    InviteRow,
    MemberRow,
    Notice,
    RequestRow,
    UserRow,
)


class TeamRole(StrEnum):
    """A member's role on an ad account (the roles TikTok ad accounts have)."""

    ADMIN = "admin"
    OPERATOR = "operator"
    ANALYST = "analyst"


ROLES = tuple(TeamRole)
# Roles that may make and unlink requests for the ad account.
REQUESTING = frozenset({TeamRole.ADMIN, TeamRole.OPERATOR})
# Prerequisites (by id, in any platform's list) that ask about the advertiser's role on the ad
# account: answered from the team's data when Linkpilot knows it.
ROLE_PREREQUISITES = frozenset({"ad_account_role"})
# Invite tokens ride in a t.me deep link like approval tokens; the prefix and length tell them
# apart (an approval token is 32 characters, without a prefix).
INVITE_PREFIX = "inv_"
INVITE_TOKEN_LENGTH = len(INVITE_PREFIX) + 32
DEFAULT_INVITE_LIFETIME = timedelta(hours=48)


def name_key(name: str) -> str:
    """How two ad account names are compared: spaces collapsed, case folded."""
    return " ".join(name.split()).casefold()


def new_invite_token() -> str:
    return INVITE_PREFIX + secrets.token_urlsafe(24)


def is_invite_token(text: str) -> bool:
    return text.startswith(INVITE_PREFIX) and len(text) == INVITE_TOKEN_LENGTH


class NotInTeam(FlowError):
    """The link conversation named an ad account whose team does not let this person request
    for it: `reason` is "analyst" or "not_member"."""

    def __init__(self, reason: str, ad_account: str) -> None:
        super().__init__(reason)
        self.reason, self.ad_account = reason, ad_account


class TeamRefused(Exception):
    """A team action refused, with the reason to say: "stale" (the team changed since the
    buttons were drawn), "not_admin", "last_admin", "gone", "invite_used", "invite_expired",
    "invite_invalid", "already_member", "exists", "analyst", "not_member"."""

    def __init__(self, reason: str, ad_account: str = "", role: str = "") -> None:
        super().__init__(reason)
        self.reason, self.ad_account, self.role = reason, ad_account, role


# --- reading --------------------------------------------------------------------------------------

def _role(members: list[MemberRow], user_id: int) -> TeamRole | None:
    for member in members:
        if member.user_id == user_id:
            return TeamRole(member.role)
    return None


async def requesting_roles(uow: UnitOfWork, user_id: int) -> list[tuple[str, str]]:
    """(ad account name, role) for every ad account the person may request for, by name."""
    mine = await uow.teams.of_user(user_id)
    return sorted(((a.name, role) for a, role in mine if role in REQUESTING),
                  key=lambda item: (ROLES.index(TeamRole(item[1])), item[0].casefold()))


async def _refusal_for(uow: UnitOfWork, user_id: int, ad_account_id: int) -> str | None:
    """Why the person may not act for this ad account ("analyst", "not_member"), or None. An
    ad account nobody is a member of any more answers to nobody."""
    members = await uow.teams.members(ad_account_id)
    if not members:
        return None
    role = _role(members, user_id)
    if role is None:
        return "not_member"
    return None if role in REQUESTING else "analyst"


async def may_request(uow: UnitOfWork, user_id: int, ad_account: str) -> None:
    """Raise NotInTeam when the named ad account's team doesn't let the person request for it.
    An ad account Linkpilot doesn't know yet is fine: they become its admin when they send."""
    account = await uow.teams.find(name_key(ad_account))
    if account is None:
        return
    reason = await _refusal_for(uow, user_id, account.id)
    if reason is not None:
        raise NotInTeam(reason, account.name)


# --- the link conversation: hooked in by `flows.usecases` -----------------------------------------

async def guide(uow: UnitOfWork, before: ConversationRow, new: Position) -> Position:
    """Apply the team's data to a step of the link conversation, before it is stored.

    A role question whose answer Linkpilot knows is passed over (in the direction the person
    was going) and the position notes why; an ad account the person may not request for is
    refused (NotInTeam) when named and again when the request is sent.
    """
    user_id = before.user_id
    named = new.data.get("ad_account")
    if named and (named != before.data.get("ad_account") or new.state == S.SUBMITTED):
        await may_request(uow, user_id, named)
    roles: list[tuple[str, str]] | None = None
    while new.state == S.PREREQUISITE and new.prerequisite in ROLE_PREREQUISITES:
        roles = await requesting_roles(uow, user_id) if roles is None else roles
        if not roles:
            break
        if len(new.data.get("history", [])) < len(before.data.get("history", [])):
            new = link_flow.fire(new, "back")
            continue
        new = link_flow.fire(new, "answer_yes")
        new = Position(new.state, {**new.data, "role_known": {
            "at": len(new.data["history"]), "accounts": [list(r) for r in roles]}})
    # (issue 10, gaps) The recap of confirmed checks says the role is known instead of
    # listing it among the things to confirm again.
    if new.state == S.PREREQUISITE_RECAP and ROLE_PREREQUISITES & set(
            get_platform(new.data["platform"]).prerequisites):
        roles = await requesting_roles(uow, user_id) if roles is None else roles
        if roles:
            new = Position(new.state, {**new.data, "role_known": {
                "at": len(new.data.get("history", [])),
                "accounts": [list(r) for r in roles]}})
    return new


def role_note(position: Position) -> list[tuple[str, str]]:
    """The ad accounts and roles to mention on this question: the ones that answered the role
    question just before it (empty on any other question)."""
    note = position.data.get("role_known")
    if not note or note.get("at") != len(position.data.get("history", [])):
        return []
    return [(name, role) for name, role in note.get("accounts", [])]


async def request_made(uow: UnitOfWork, request: RequestRow, now: datetime) -> None:
    """A request was sent: it belongs to its ad account's team, which the requester starts (as
    its admin) when the ad account had nobody yet."""
    account = await uow.teams.create(request.ad_account, name_key(request.ad_account), now)
    await uow.teams.attach_request(request.id, account.id)
    # Two first requests at once may both find nobody; only the one whose conditional update
    # of the account's version wins becomes its admin (the other's matches no row).
    if not await uow.teams.members(account.id) \
            and await uow.teams.touch(account.id, account.version):
        await uow.teams.add_member(account.id, request.requester_id, TeamRole.ADMIN, now)


async def check_request_action(uow: UnitOfWork, user_id: int, key: str) -> None:
    """Before someone cancels or unlinks a request of theirs or of their team: their role on
    its ad account must allow it (TeamRefused "analyst" or "not_member" otherwise)."""
    request = await uow.requests.by_key(key)
    ad_account_id = await uow.teams.account_of_request(request.id) if request else None
    if request is None or ad_account_id is None:
        return
    members = await uow.teams.members(ad_account_id)
    if request.requester_id != user_id and _role(members, user_id) is None:
        return  # neither theirs nor their team's: the request's own rules refuse it
    reason = await _refusal_for(uow, user_id, ad_account_id)
    if reason is not None:
        raise TeamRefused(reason, request.ad_account)


# Events on a request that an admin or operator of its ad account may do for a teammate.
TEAM_EVENTS = frozenset({"cancel", "unlink"})


async def requester_for(uow: UnitOfWork, actor_id: int, event: str,
                        request: RequestRow) -> int:
    """Who counts as the request's requester for `event`: an admin or operator of its ad
    account cancels and unlinks a teammate's request as the teammate could."""
    if event not in TEAM_EVENTS or actor_id == request.requester_id:
        return request.requester_id
    ad_account_id = await uow.teams.account_of_request(request.id)
    role = await uow.teams.role_of(ad_account_id, actor_id) if ad_account_id else None
    return actor_id if role in REQUESTING else request.requester_id


def tell_requester(uow: UnitOfWork, event: str, request: RequestRow, actor_id: int) -> None:
    """A teammate cancelled or unlinked someone's request: they are told who did."""
    if event in TEAM_EVENTS and actor_id != request.requester_id:
        uow.outbox.add(Notice("team_decided", request.requester_id, request.id,
                              {"by": actor_id, "event": event}))


# --- /team: the person's teams -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Membership:
    account: AdAccountRow
    role: TeamRole


@dataclass(frozen=True, slots=True)
class Team:
    """One ad account's team as a member sees it."""

    account: AdAccountRow
    my_role: TeamRole
    members: list[tuple[MemberRow, UserRow | None]]

    @property
    def admins(self) -> int:
        return sum(m.role == TeamRole.ADMIN for m, _ in self.members)


async def my_teams(uow: UnitOfWork, user_id: int) -> list[Membership]:
    """The ad accounts the person is a member of, by name."""
    mine = await uow.teams.of_user(user_id)
    return [Membership(a, TeamRole(role))
            for a, role in sorted(mine, key=lambda item: item[0].name.casefold())]


async def team(uow: UnitOfWork, user_id: int, ad_account_id: int) -> Team:
    """An ad account's team, for one of its members (TeamRefused "gone" otherwise)."""
    account = await uow.teams.get(ad_account_id)
    members = await uow.teams.members(ad_account_id) if account else []
    role = _role(members, user_id)
    if account is None or role is None:
        raise TeamRefused("gone")
    rows = [(m, await uow.users.get(m.user_id)) for m in
            sorted(members, key=lambda m: (ROLES.index(TeamRole(m.role)), m.joined_at))]
    return Team(account, role, rows)


async def new_ad_account(uow: UnitOfWork, user_id: int, raw_name: str,
                         now: datetime) -> AdAccountRow:
    """/team new <name>: add an ad account with the person as its admin. The name follows the
    link flow's rules (InvalidAdAccountName, UnsafeText); a name whose team exists is
    TeamRefused "exists" (or "already_member")."""
    name = normalise_ad_account_name(raw_name)
    account = await uow.teams.find(name_key(name))
    if account is not None:
        members = await uow.teams.members(account.id)
        role = _role(members, user_id)
        if role is not None:
            raise TeamRefused("already_member", account.name, role)
        if members:
            raise TeamRefused("exists", account.name)
    account = account or await uow.teams.create(name, name_key(name), now)
    # Someone may have made it a moment ago (then `create` returned theirs), or be making it
    # now: the conditional update of its version lets one of them found the team.
    if await uow.teams.members(account.id) \
            or not await uow.teams.touch(account.id, account.version):
        raise TeamRefused("exists", account.name)
    await uow.teams.add_member(account.id, user_id, TeamRole.ADMIN, now)
    return account


async def _as_admin(uow: UnitOfWork, user_id: int, ad_account_id: int,
                    version: int) -> tuple[AdAccountRow, list[MemberRow]]:
    """The team, if the person is its admin and the buttons they pressed are current."""
    account = await uow.teams.get(ad_account_id)
    members = await uow.teams.members(ad_account_id) if account else []
    role = _role(members, user_id)
    if account is None or role is None:
        raise TeamRefused("gone")
    if account.version != version:
        raise TeamRefused("stale", account.name)
    if role is not TeamRole.ADMIN:
        raise TeamRefused("not_admin", account.name, role)
    return account, members


async def invite(uow: UnitOfWork, user_id: int, ad_account_id: int, version: int, role: str,
                 now: datetime, lifetime: timedelta = DEFAULT_INVITE_LIFETIME) -> InviteRow:
    """An admin invites someone with a role: the one-time link is owed to the admin (its token
    is made when the message is about to be sent, and stored hashed)."""
    if role not in ROLES:
        raise TeamRefused("gone")
    account, _ = await _as_admin(uow, user_id, ad_account_id, version)
    made = await uow.teams.create_invite(account.id, role, user_id, now, now + lifetime)
    uow.outbox.add(Notice("team_invite", user_id, data={"invite_id": made.id}))
    return made


async def issue_invite_link(uow: UnitOfWork, invite_id: int, now: datetime
                            ) -> tuple[str, InviteRow, AdAccountRow] | None:
    """The token for an invite's link, made as the message carrying it is sent; None when the
    invite can't be used any more."""
    found = await uow.teams.get_invite(invite_id)
    if found is None or found.used_by is not None or now >= found.expires_at:
        return None
    account = await uow.teams.get(found.ad_account_id)
    if account is None:
        return None
    token = new_invite_token()
    await uow.teams.set_invite_token(found.id, token)
    return token, found, account


@dataclass(frozen=True, slots=True)
class Joined:
    account: AdAccountRow
    role: TeamRole


async def join(uow: UnitOfWork, user_id: int, token: str, now: datetime) -> Joined:
    """/start inv_...: join the team with the invite's role. The link works once, until it
    expires, and not for someone already in the team (it stays unused for whom it was meant)."""
    found = await uow.teams.invite_by_token(token)
    account = await uow.teams.get(found.ad_account_id) if found else None
    if found is None or account is None:
        raise TeamRefused("invite_invalid")
    if found.used_by is not None:
        raise TeamRefused("invite_used", account.name)
    if now >= found.expires_at:
        raise TeamRefused("invite_expired", account.name)
    role = _role(await uow.teams.members(account.id), user_id)
    if role is not None:
        raise TeamRefused("already_member", account.name, role)
    if not await uow.teams.use_invite(found.id, user_id, now):
        raise TeamRefused("invite_used", account.name)
    await uow.teams.add_member(account.id, user_id, found.role, now)
    await uow.teams.touch(account.id, account.version)
    uow.outbox.add(Notice("team_joined", found.invited_by, data={
        "ad_account_id": account.id, "user_id": user_id, "role": found.role}))
    return Joined(account, TeamRole(found.role))


def _keeps_an_admin(members: list[MemberRow], member_id: int, new_role: str | None) -> bool:
    admins = {m.user_id for m in members if m.role == TeamRole.ADMIN}
    if new_role == TeamRole.ADMIN:
        admins.add(member_id)
    else:
        admins.discard(member_id)
    return bool(admins)


async def change_role(uow: UnitOfWork, user_id: int, ad_account_id: int, version: int,
                      member_id: int, role: str, now: datetime) -> TeamRole:
    """An admin gives a member (themself included) another role; the team keeps an admin."""
    if role not in ROLES:
        raise TeamRefused("gone")
    account, members = await _as_admin(uow, user_id, ad_account_id, version)
    current = _role(members, member_id)
    if current is None:
        raise TeamRefused("gone")
    if not _keeps_an_admin(members, member_id, role):
        raise TeamRefused("last_admin", account.name)
    if current != role:
        if not await uow.teams.touch(account.id, version):
            raise TeamRefused("stale", account.name)
        await uow.teams.set_role(account.id, member_id, role)
        if member_id != user_id:
            uow.outbox.add(Notice("team_role", member_id, data={
                "ad_account_id": account.id, "role": role, "by": user_id}))
    return TeamRole(role)


async def remove(uow: UnitOfWork, user_id: int, ad_account_id: int, version: int,
                 member_id: int, now: datetime) -> AdAccountRow:
    """An admin removes a member, or anyone leaves (member_id is themself); the last admin
    can do neither."""
    account = await uow.teams.get(ad_account_id)
    members = await uow.teams.members(ad_account_id) if account else []
    role = _role(members, user_id)
    if account is None or role is None or _role(members, member_id) is None:
        raise TeamRefused("gone")
    if account.version != version:
        raise TeamRefused("stale", account.name)
    if member_id != user_id and role is not TeamRole.ADMIN:
        raise TeamRefused("not_admin", account.name, role)
    if not _keeps_an_admin(members, member_id, None):
        raise TeamRefused("last_admin", account.name)
    if not await uow.teams.touch(account.id, version):
        raise TeamRefused("stale", account.name)
    await uow.teams.remove_member(account.id, member_id)
    if member_id != user_id:
        uow.outbox.add(Notice("team_removed", member_id, data={"ad_account_id": account.id}))
    return account


# --- /accounts: the team's requests -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AccountsView:
    """What /accounts adds for teams: the person's own requests they may no longer act on
    (by key), and their teammates' requests with the requester and whether the person may
    cancel or unlink them (admins and operators may; analysts see status only)."""

    read_only: frozenset[str]
    team: list[tuple[RequestRow, UserRow | None, bool]]


async def accounts_view(uow: UnitOfWork, user_id: int, own: list[RequestRow]) -> AccountsView:
    read_only = set()
    for request in own:
        ad_account_id = await uow.teams.account_of_request(request.id)
        if ad_account_id is not None and await _refusal_for(uow, user_id, ad_account_id):
            read_only.add(request.key)
    mine = await uow.teams.of_user(user_id)
    acts = {a.id for a, role in mine if role in REQUESTING}
    team = []
    for request_id in await uow.teams.request_ids([a.id for a, _ in mine]):
        found = await uow.requests.get(request_id)
        if found is not None and found.requester_id != user_id:
            may_act = await uow.teams.account_of_request(found.id) in acts
            team.append((found, await uow.users.get(found.requester_id), may_act))
    return AccountsView(frozenset(read_only), team)


# --- privacy --------------------------------------------------------------------------------------

async def forget_person(uow: UnitOfWork, user_id: int) -> int:
    """/deleteme: the person leaves every team and their invites go. A team they were the last
    admin of passes to its longest-standing member, who is told. Returns the teams left."""
    mine = await uow.teams.of_user(user_id)
    for account, role in mine:
        others = [m for m in await uow.teams.members(account.id) if m.user_id != user_id]
        await uow.teams.remove_member(account.id, user_id)
        if role == TeamRole.ADMIN and others \
                and not any(m.role == TeamRole.ADMIN for m in others):
            heir = min(others, key=lambda m: (m.joined_at, m.user_id))
            await uow.teams.set_role(account.id, heir.user_id, TeamRole.ADMIN)
            uow.outbox.add(Notice("team_heir", heir.user_id, data={"ad_account_id": account.id}))
        await uow.teams.touch(account.id, account.version)
    await uow.teams.forget_invites(user_id)
    return len(mine)
