"""Teams (issue 10): render the notices `flows.teams` owes, at sending time.

An invite's one-time token is made here, as its message is about to be sent, and stored hashed
(as approval links are), so a live invite is never kept in the clear in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot import render, texts
from bot.render import Reply
from flows import platforms, teams
from storage.repositories import OutboxRow
from storage.uow import Database

KINDS = frozenset({"team_invite", "team_joined", "team_role", "team_removed", "team_heir",
                   "team_decided"})


async def render_notice(db: Database, row: OutboxRow, now: datetime,
                        link: Callable[[str], str]) -> Reply | None:
    """The message for one team notice, or None when there is nothing to say any more (an
    invite used or expired before its message could go out, a team that is gone)."""
    data = row.payload
    async with db.unit_of_work() as uow:
        if row.kind == "team_invite":
            issued = await teams.issue_invite_link(uow, int(data["invite_id"]), now)
            await uow.commit()
            if issued is None:
                return None
            token, invite, invited_to = issued
            return Reply(texts.team_invite(invited_to.name, invite.role, link(token),
                                           invite.expires_at))
        if row.kind == "team_decided":
            request = await uow.requests.get(row.request_id) if row.request_id else None
            if request is None:
                return None
            by = await uow.users.get(int(data["by"]))
            return Reply(texts.team_decided_for_requester(
                render.person(by), data["event"],
                platforms.account(request.platform, request.handle), request.ad_account))
        account = await uow.teams.get(int(data["ad_account_id"]))
        if account is None:
            return None
        if row.kind == "team_joined":
            joiner = await uow.users.get(int(data["user_id"]))
            return Reply(texts.team_joined_for_admin(render.person(joiner), account.name,
                                                     data["role"]))
        if row.kind == "team_role":
            by = await uow.users.get(int(data["by"]))
            return Reply(texts.team_role_for_member(render.person(by), account.name,
                                                    data["role"]))
        if row.kind == "team_removed":
            return Reply(texts.team_removed_for_member(account.name))
        return Reply(texts.team_heir(account.name))
