"""Teams (issue 10): ad accounts, memberships, which team a request belongs to, and invites.

Core statements on the unit of work's connection, like `storage.repositories`; nothing here
commits. Invite tokens are stored hashed, as approval tokens are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from flows.records import AdAccountRow, InviteRow, MemberRow
from storage.models import AdAccount, AdAccountRequest, Membership, TeamInvite
from storage.raw import hot
from storage.repositories import _insert_ignoring_conflict, hash_token

AD_ACCOUNTS: Table = AdAccount.__table__  # type: ignore[assignment]
MEMBERSHIPS: Table = Membership.__table__  # type: ignore[assignment]
AD_ACCOUNT_REQUESTS: Table = AdAccountRequest.__table__  # type: ignore[assignment]
TEAM_INVITES: Table = TeamInvite.__table__  # type: ignore[assignment]


def _account(row: Any) -> AdAccountRow:
    return AdAccountRow(int(row.id), row.name, row.name_key, int(row.version))


def _invite(row: Any) -> InviteRow:
    return InviteRow(int(row.id), int(row.ad_account_id), row.role, int(row.invited_by),
                     row.created_at, row.expires_at,
                     int(row.used_by) if row.used_by is not None else None,
                     row.token_hash is not None)


# Read at the role question of every link walk: built once (see `storage.raw`).
_TEAMS_OF_USER = hot(
    select(AD_ACCOUNTS, MEMBERSHIPS.c.role)
    .join(MEMBERSHIPS, MEMBERSHIPS.c.ad_account_id == AD_ACCOUNTS.c.id)
    .where(MEMBERSHIPS.c.user_id == bindparam("user_id")).order_by(AD_ACCOUNTS.c.id))


class Teams:
    """Ad accounts and the people with a role on each."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _account_where(self, *where: Any) -> AdAccountRow | None:
        row = (await self._conn.execute(select(AD_ACCOUNTS).where(*where))).first()
        return _account(row) if row else None

    async def find(self, name_key: str) -> AdAccountRow | None:
        return await self._account_where(AD_ACCOUNTS.c.name_key == name_key)

    async def get(self, ad_account_id: int) -> AdAccountRow | None:
        return await self._account_where(AD_ACCOUNTS.c.id == ad_account_id)

    async def create(self, name: str, name_key: str, now: datetime) -> AdAccountRow:
        """The ad account with this key; made if there was none (two at once make one)."""
        stmt = _insert_ignoring_conflict(self._conn, AD_ACCOUNTS, ["name_key"])
        await self._conn.execute(stmt.values(name=name, name_key=name_key, version=1,
                                             created_at=now))
        made = await self.find(name_key)
        assert made is not None
        return made

    async def touch(self, ad_account_id: int, version: int) -> bool:
        c = AD_ACCOUNTS.c
        result = await self._conn.execute(
            update(AD_ACCOUNTS).where(c.id == ad_account_id, c.version == version)
            .values(version=version + 1))
        return result.rowcount == 1

    async def members(self, ad_account_id: int) -> list[MemberRow]:
        m = MEMBERSHIPS.c
        rows = await self._conn.execute(
            select(m.ad_account_id, m.user_id, m.role, m.joined_at)
            .where(m.ad_account_id == ad_account_id).order_by(m.joined_at, m.user_id))
        return [MemberRow(int(r[0]), int(r[1]), r[2], r[3]) for r in rows]

    async def role_of(self, ad_account_id: int, user_id: int) -> str | None:
        m = MEMBERSHIPS.c
        role = (await self._conn.execute(
            select(m.role).where(m.ad_account_id == ad_account_id, m.user_id == user_id)
        )).scalar_one_or_none()
        return str(role) if role is not None else None

    async def of_user(self, user_id: int) -> list[tuple[AdAccountRow, str]]:
        rows = await self._conn.execute(_TEAMS_OF_USER, {"user_id": user_id})
        return [(_account(r), r.role) for r in rows]

    async def add_member(self, ad_account_id: int, user_id: int, role: str,
                         now: datetime) -> bool:
        stmt = _insert_ignoring_conflict(self._conn, MEMBERSHIPS, ["ad_account_id", "user_id"])
        result = await self._conn.execute(stmt.values(ad_account_id=ad_account_id,
                                                      user_id=user_id, role=role, joined_at=now))
        return result.rowcount == 1

    async def set_role(self, ad_account_id: int, user_id: int, role: str) -> bool:
        m = MEMBERSHIPS.c
        result = await self._conn.execute(
            update(MEMBERSHIPS).where(m.ad_account_id == ad_account_id, m.user_id == user_id)
            .values(role=role))
        return result.rowcount == 1

    async def remove_member(self, ad_account_id: int, user_id: int) -> bool:
        m = MEMBERSHIPS.c
        result = await self._conn.execute(
            delete(MEMBERSHIPS).where(m.ad_account_id == ad_account_id, m.user_id == user_id))
        return result.rowcount == 1

    async def attach_request(self, request_id: int, ad_account_id: int) -> None:
        stmt = _insert_ignoring_conflict(self._conn, AD_ACCOUNT_REQUESTS, ["request_id"])
        await self._conn.execute(stmt.values(request_id=request_id, ad_account_id=ad_account_id))

    async def account_of_request(self, request_id: int) -> int | None:
        c = AD_ACCOUNT_REQUESTS.c
        found = (await self._conn.execute(
            select(c.ad_account_id).where(c.request_id == request_id))).scalar_one_or_none()
        return int(found) if found is not None else None

    async def request_ids(self, ad_account_ids: Sequence[int], limit: int = 50) -> list[int]:
        """The newest requests of these ad accounts' teams, newest first."""
        if not ad_account_ids:
            return []
        c = AD_ACCOUNT_REQUESTS.c
        rows = await self._conn.execute(
            select(c.request_id).where(c.ad_account_id.in_(list(ad_account_ids)))
            .order_by(c.request_id.desc()).limit(limit))
        return [int(r[0]) for r in rows]

    async def create_invite(self, ad_account_id: int, role: str, invited_by: int,
                            now: datetime, expires_at: datetime) -> InviteRow:
        result = await self._conn.execute(
            TEAM_INVITES.insert().values(ad_account_id=ad_account_id, role=role,
                                         invited_by=invited_by, created_at=now,
                                         expires_at=expires_at)
        )
        made = await self.get_invite(int((result.inserted_primary_key or [0])[0]))
        assert made is not None
        return made

    async def get_invite(self, invite_id: int) -> InviteRow | None:
        row = (await self._conn.execute(
            select(TEAM_INVITES).where(TEAM_INVITES.c.id == invite_id))).first()
        return _invite(row) if row else None

    async def set_invite_token(self, invite_id: int, token: str) -> None:
        await self._conn.execute(update(TEAM_INVITES).where(TEAM_INVITES.c.id == invite_id)
                                 .values(token_hash=hash_token(token)))

    async def invite_by_token(self, token: str) -> InviteRow | None:
        row = (await self._conn.execute(
            select(TEAM_INVITES).where(TEAM_INVITES.c.token_hash == hash_token(token)))).first()
        return _invite(row) if row else None

    async def use_invite(self, invite_id: int, user_id: int, now: datetime) -> bool:
        c = TEAM_INVITES.c
        result = await self._conn.execute(
            update(TEAM_INVITES).where(c.id == invite_id, c.used_by.is_(None))
            .values(used_by=user_id, used_at=now))
        return result.rowcount == 1

    async def forget_invites(self, user_id: int) -> int:
        c = TEAM_INVITES.c
        result = await self._conn.execute(
            delete(TEAM_INVITES).where(or_(c.invited_by == user_id, c.used_by == user_id)))
        return result.rowcount or 0
