"""An in-memory `flows.ports.UnitOfWork`: the SQL repositories' semantics on dicts and lists, so
the use cases' rules can be tested in milliseconds (`tests/test_usecases.py`)."""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flows.ports import UnitOfWork
from flows.records import (
    AdAccountRow,
    CardRow,
    ClaimRow,
    ConversationRow,
    InviteRow,
    MemberRow,
    Notice,
    RequestRow,
    SparkCodeRow,
    UserRow,
)


class StaleWrite(Exception):
    """A conversation changed between our read and our write (as `storage`'s StaleWrite)."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[int, UserRow] = {}
        self.last_seen: dict[int, datetime] = {}

    async def seen(self, user_id: int, first_name: str, username: str | None,
                   now: datetime) -> None:
        self.rows[user_id] = UserRow(user_id, first_name, username)
        self.last_seen[user_id] = now

    async def get(self, user_id: int) -> UserRow | None:
        return self.rows.get(user_id)

    async def erase(self, user_id: int, now: datetime) -> None:
        if user_id in self.rows:
            self.rows[user_id] = UserRow(user_id, "", None, deleted=True)
            self.last_seen[user_id] = now


class FakeConversations:
    """One row per (user, flow); every write checks the version it read."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, str], ConversationRow] = {}

    async def load(self, user_id: int, flow: str) -> ConversationRow | None:
        row = self.rows.get((user_id, flow))
        return None if row is None else replace(row, data=copy.deepcopy(row.data))

    async def save(self, before: ConversationRow, state: str, data: dict[str, Any],
                   now: datetime) -> ConversationRow:
        key = (before.user_id, before.flow)
        stored = self.rows.get(key)
        if (stored is not None if before.version == 0
                else stored is None or stored.version != before.version):
            raise StaleWrite(f"conversation {before.user_id}/{before.flow}")
        row = ConversationRow(before.user_id, before.flow, state, copy.deepcopy(data),
                              before.version + 1)
        self.rows[key] = row
        return replace(row, data=copy.deepcopy(data))

    async def forget(self, user_id: int) -> int:
        gone = [key for key in self.rows if key[0] == user_id]
        for key in gone:
            del self.rows[key]
        return len(gone)


class FakeRequests:
    """Link requests; status changes are conditional on the status they start from."""

    def __init__(self) -> None:
        self.rows: dict[int, RequestRow] = {}
        self.token_hashes: dict[int, str] = {}
        self.reminded_at: dict[int, datetime] = {}
        self._ids = itertools.count(1)

    def _row(self, request_id: int) -> RequestRow:
        return replace(self.rows[request_id], scopes=list(self.rows[request_id].scopes),
                       has_token=request_id in self.token_hashes)

    def _set(self, request_id: int, **changes: Any) -> None:
        self.rows[request_id] = replace(self.rows[request_id], **changes)

    async def create(self, *, key: str, requester_id: int, platform: str, handle: str,
                     handle_key: str, ad_account: str, scopes: list[str],
                     visibility: str | None, owner_id: int | None, now: datetime,
                     expires_at: datetime, business_id: str | None = None,
                     access_days: int | None = None) -> RequestRow:
        if any(r.key == key for r in self.rows.values()):
            raise ValueError(f"duplicate request key {key}")  # a unique column in SQL
        request_id = next(self._ids)
        self.rows[request_id] = RequestRow(
            id=request_id, key=key, requester_id=requester_id, platform=platform,
            handle=handle, handle_key=handle_key, ad_account=ad_account, scopes=list(scopes),
            visibility=visibility, status="pending", owner_id=owner_id, reason=None,
            created_at=now, expires_at=expires_at, decided_at=None, has_token=False,
            business_id=business_id, access_days=access_days)
        return self._row(request_id)

    async def get(self, request_id: int) -> RequestRow | None:
        return self._row(request_id) if request_id in self.rows else None

    async def by_key(self, key: str) -> RequestRow | None:
        return next((self._row(i) for i, r in self.rows.items() if r.key == key), None)

    async def by_token(self, token: str) -> RequestRow | None:
        wanted = _hash(token)
        return next((self._row(i) for i, h in self.token_hashes.items() if h == wanted), None)

    async def set_token(self, request_id: int, token: str) -> None:
        if request_id in self.rows:
            self.token_hashes[request_id] = _hash(token)

    async def move(self, request_id: int, from_status: str, to_status: str, now: datetime, *,
                   decided: bool = False, owner_id: int | None = None,
                   reason: str | None = None, strength: str | None = None) -> bool:
        row = self.rows.get(request_id)
        if row is None or row.status != from_status:
            return False
        # Stored as a plain string, as a column would (a Status member would confuse the machine).
        changes: dict[str, Any] = {"status": str(to_status)}
        if decided:
            changes["decided_at"] = now
        if owner_id is not None:
            changes["owner_id"] = owner_id
        if reason is not None:
            changes["reason"] = reason
        if strength is not None:  # trust (issue 11)
            changes["strength"] = strength
        if to_status != "pending":
            self.token_hashes.pop(request_id, None)  # the link dies with the pending state
        self._set(request_id, **changes)
        return True

    async def set_reason(self, request_id: int, reason: str) -> None:
        if request_id in self.rows:
            self._set(request_id, reason=reason)

    async def forget_reasons(self, user_id: int) -> int:
        ids = [i for i, r in self.rows.items()
               if user_id in (r.owner_id, r.requester_id) and r.reason is not None]
        for request_id in ids:
            self._set(request_id, reason=None)
        return len(ids)

    async def expire_reasons(self, before: datetime) -> int:
        ids = [i for i, r in self.rows.items() if r.reason is not None
               and r.decided_at is not None and r.decided_at < before]
        for request_id in ids:
            self._set(request_id, reason=None)
        return len(ids)

    def _where(self, keep: Any) -> list[RequestRow]:
        return [self._row(i) for i, r in self.rows.items() if keep(r)]

    async def of_requester(self, user_id: int, limit: int = 20) -> list[RequestRow]:
        rows = self._where(lambda r: r.requester_id == user_id)
        rows.sort(key=lambda r: (r.status not in ("pending", "authorized"), -r.id))
        return rows[:limit]

    async def pending_for_owner(self, owner_id: int) -> list[RequestRow]:
        rows = self._where(lambda r: r.owner_id == owner_id and r.status == "pending")
        return sorted(rows, key=lambda r: r.id)

    async def authorized_for_owner(self, owner_id: int) -> list[RequestRow]:
        rows = self._where(lambda r: r.owner_id == owner_id and r.status == "authorized")
        return sorted(rows, key=lambda r: (r.platform, r.handle_key, r.id))

    async def due(self, now: datetime, limit: int = 100) -> list[RequestRow]:
        rows = self._where(lambda r: r.status == "pending" and r.expires_at <= now)
        return sorted(rows, key=lambda r: r.expires_at)[:limit]

    async def to_remind(self, now: datetime, before: datetime, limit: int = 100
                        ) -> list[RequestRow]:
        rows = self._where(lambda r: r.status == "pending" and r.id not in self.reminded_at
                           and now < r.expires_at <= before)
        return sorted(rows, key=lambda r: r.expires_at)[:limit]

    async def mark_reminded(self, request_id: int, now: datetime) -> bool:
        if request_id not in self.rows or request_id in self.reminded_at:
            return False
        self.reminded_at[request_id] = now
        return True

    async def assign_unclaimed(self, platform: str, handle_key: str, owner_id: int) -> None:
        for request_id, r in list(self.rows.items()):
            if (r.platform == platform and r.handle_key == handle_key
                    and r.status == "pending" and r.owner_id is None
                    and r.requester_id != owner_id):
                self._set(request_id, owner_id=owner_id)

    # --- temporary access (Meta partner access) ---
    async def set_access_end(self, request_id: int, ends_at: datetime) -> None:
        if request_id in self.rows:
            self._set(request_id, access_ends_at=ends_at)

    async def access_due(self, now: datetime, limit: int = 100) -> list[RequestRow]:
        rows = self._where(lambda r: r.status == "authorized" and r.access_ends_at is not None
                           and r.access_ends_at <= now)
        return sorted(rows, key=lambda r: r.access_ends_at or now)[:limit]


class FakeBlocks:
    def __init__(self) -> None:
        self.rows: set[tuple[int, int]] = set()

    async def add(self, owner_id: int, advertiser_id: int, now: datetime) -> None:
        self.rows.add((owner_id, advertiser_id))

    async def exists(self, owner_id: int, advertiser_id: int) -> bool:
        return (owner_id, advertiser_id) in self.rows

    async def of_owner(self, owner_id: int) -> list[int]:
        return sorted(a for o, a in self.rows if o == owner_id)

    async def remove(self, owner_id: int, advertiser_id: int) -> bool:
        if (owner_id, advertiser_id) not in self.rows:
            return False
        self.rows.discard((owner_id, advertiser_id))
        return True


class FakeClaims:
    """One owner per handle per platform; the first claim stands."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], ClaimRow] = {}

    async def get(self, platform: str, handle_key: str) -> ClaimRow | None:
        return self.rows.get((platform, handle_key))

    async def add(self, platform: str, handle: str, handle_key: str, owner_id: int,
                  now: datetime) -> ClaimRow:
        return self.rows.setdefault((platform, handle_key),
                                    ClaimRow(platform, handle, handle_key, owner_id))

    async def of_owner(self, owner_id: int) -> list[ClaimRow]:
        rows = [c for c in self.rows.values() if c.owner_id == owner_id]
        return sorted(rows, key=lambda c: (c.platform, c.handle_key))

    async def release(self, owner_id: int) -> int:
        gone = [key for key, c in self.rows.items() if c.owner_id == owner_id]
        for key in gone:
            del self.rows[key]
        return len(gone)


@dataclass(frozen=True, slots=True)
class GrantRecord:
    request_id: int
    owner_id: int
    advertiser_id: int
    granted_at: datetime
    ended_at: datetime | None = None
    ended_as: str | None = None


class FakeGrants:
    def __init__(self) -> None:
        self.rows: dict[int, GrantRecord] = {}

    async def open(self, request_id: int, owner_id: int, advertiser_id: int,
                   now: datetime) -> None:
        if request_id in self.rows:
            raise ValueError(f"grant for request {request_id} exists")  # primary key in SQL
        self.rows[request_id] = GrantRecord(request_id, owner_id, advertiser_id, now)

    async def close(self, request_id: int, ended_as: str, now: datetime) -> None:
        grant = self.rows.get(request_id)
        if grant is not None and grant.ended_at is None:
            self.rows[request_id] = replace(grant, ended_at=now, ended_as=ended_as)

    def active(self, owner_id: int | None = None) -> list[GrantRecord]:
        return [g for g in self.rows.values()
                if g.ended_at is None and owner_id in (None, g.owner_id)]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    request_id: int
    actor_id: int | None
    event: str
    from_status: str | None
    to_status: str
    reason: str | None
    at: datetime


class FakeAudit:
    def __init__(self) -> None:
        self.rows: list[AuditEntry] = []

    async def record(self, request_id: int, actor_id: int | None, event: str,
                     from_status: str | None, to_status: str, now: datetime,
                     reason: str | None = None) -> None:
        self.rows.append(AuditEntry(request_id, actor_id, event,
                                    None if from_status is None else str(from_status),
                                    str(to_status), reason, now))

    def of_request(self, request_id: int) -> list[AuditEntry]:
        return [a for a in self.rows if a.request_id == request_id]

    async def forget_texts(self, actor_id: int, request_ids: Sequence[int]) -> int:
        return self._drop_texts(lambda a: a.actor_id == actor_id or a.request_id in request_ids)

    async def expire_texts(self, before: datetime) -> int:
        return self._drop_texts(lambda a: a.at < before)

    def _drop_texts(self, which: Callable[[AuditEntry], bool]) -> int:
        hit = [i for i, a in enumerate(self.rows) if a.reason is not None and which(a)]
        for i in hit:
            self.rows[i] = replace(self.rows[i], reason=None)
        return len(hit)


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    user_id: int | None
    question: str
    outcome: str
    at: datetime


class FakeKnowledge:
    """Questions asked of the knowledge base; "learned" phrasings carry no person."""

    def __init__(self) -> None:
        self.rows: list[AskedQuestion] = []

    async def forget_asker(self, user_id: int) -> int:
        before = len(self.rows)
        self.rows = [q for q in self.rows if q.user_id != user_id]
        return before - len(self.rows)

    async def expire_questions(self, before: datetime) -> int:
        count = len(self.rows)
        self.rows = [q for q in self.rows if q.outcome == "learned" or q.at >= before]
        return count - len(self.rows)


class FakeCards:
    """Sent messages about a request: owners' cards ("card", "closed" once decided) and
    rejections' "why?" prompts ("prompt")."""

    def __init__(self) -> None:
        self.rows: list[CardRow] = []

    async def add(self, request_id: int, chat_id: int, message_id: int, now: datetime,
                  kind: str = "card") -> None:
        self.rows.append(CardRow(chat_id, message_id, request_id, kind))

    async def take(self, request_id: int) -> list[CardRow]:
        """The request's open cards, each returned once: they are marked "closed" and kept, so
        a reply to one can still be matched (prompts are never taken)."""
        cards = [c for c in self.rows if c.request_id == request_id and c.kind == "card"]
        self.rows = [replace(c, kind="closed") if c in cards else c for c in self.rows]
        return cards

    async def find(self, chat_id: int, message_id: int) -> CardRow | None:
        return next((c for c in self.rows
                     if c.chat_id == chat_id and c.message_id == message_id), None)


class FakeOutbox:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def add(self, notice: Notice, *, first: bool = False) -> None:
        if first:
            self.notices.insert(0, notice)
        else:
            self.notices.append(notice)


# --- Spark Ads authorization codes (issue 10) ----------------------------------------------------

class FakeSparkCodes:
    """Spark codes; every change is conditional on what it starts from, as in SQL."""

    def __init__(self) -> None:
        self.rows: dict[int, SparkCodeRow] = {}
        self._ids = itertools.count(1)

    async def create(self, *, key: str, code: str, creator_id: int, video_id: str,
                     video_handle: str | None, days: int, now: datetime,
                     expires_at: datetime) -> SparkCodeRow:
        row = SparkCodeRow(next(self._ids), key, code, creator_id, video_id, video_handle, days,
                           "active", now, expires_at, None, None, None, 1)
        self.rows[row.id] = row
        return row

    async def get(self, code_id: int) -> SparkCodeRow | None:
        return self.rows.get(code_id)

    async def by_key(self, key: str) -> SparkCodeRow | None:
        return next((r for r in self.rows.values() if r.key == key), None)

    async def by_code(self, code: str) -> SparkCodeRow | None:
        return next((r for r in self.rows.values() if r.code == code), None)

    async def of_creator(self, creator_id: int, limit: int = 50) -> list[SparkCodeRow]:
        return sorted((r for r in self.rows.values()
                       if r.creator_id == creator_id and r.status != "deleted"),
                      key=lambda r: -r.id)[:limit]

    async def applied_by(self, advertiser_id: int, limit: int = 50) -> list[SparkCodeRow]:
        return sorted((r for r in self.rows.values()
                       if r.applied_by == advertiser_id and r.status != "deleted"),
                      key=lambda r: -r.id)[:limit]

    def _change(self, code_id: int, ok: Callable[[SparkCodeRow], bool], **values: Any) -> bool:
        row = self.rows.get(code_id)
        if row is None or not ok(row):
            return False
        self.rows[code_id] = replace(row, version=row.version + 1, **values)
        return True

    async def apply(self, code_id: int, advertiser_id: int, now: datetime) -> bool:
        return self._change(code_id, lambda r: r.status == "active" and r.applied_by is None
                            and r.expires_at > now, applied_by=advertiser_id, applied_at=now)

    async def extend(self, code_id: int, version: int, days: int, expires_at: datetime,
                     now: datetime) -> bool:
        return self._change(code_id, lambda r: r.version == version
                            and r.status in ("active", "expired"), status="active", days=days,
                            expires_at=expires_at, ended_at=None)

    async def delete(self, code_id: int, version: int, now: datetime) -> bool:
        return self._change(code_id, lambda r: r.version == version
                            and r.status in ("active", "expired"), status="deleted",
                            ended_at=now)

    async def expire(self, code_id: int, now: datetime) -> bool:
        return self._change(code_id, lambda r: r.status == "active" and r.expires_at <= now,
                            status="expired", ended_at=now)

    async def due(self, now: datetime, limit: int = 100) -> list[SparkCodeRow]:
        return sorted((r for r in self.rows.values()
                       if r.status == "active" and r.expires_at <= now),
                      key=lambda r: r.expires_at)[:limit]

    async def forget_creator(self, creator_id: int) -> int:
        gone = [i for i, r in self.rows.items() if r.creator_id == creator_id
                and r.applied_by is None]
        for i in gone:
            del self.rows[i]
        return len(gone)


class FakeUnitOfWork:
    """All the repositories the use cases reach, in memory; `commit()` only notes it was called."""

    def __init__(self) -> None:
        self.users = FakeUsers()
        self.conversations = FakeConversations()
        self.requests = FakeRequests()
        self.claims = FakeClaims()
        self.blocks = FakeBlocks()
        self.grants = FakeGrants()
        self.audit = FakeAudit()
        self.cards = FakeCards()
        self.knowledge = FakeKnowledge()
        self.outbox = FakeOutbox()
        self.spark_codes = FakeSparkCodes()  # issue 10
        self.teams = FakeTeams()  # issue 10
        self.committed = False

    async def commit(self) -> None:
        self.committed = True

    @property
    def notices(self) -> list[Notice]:
        return self.outbox.notices

    def snapshot(self) -> dict[str, Any]:
        """Everything stored and owed, as a deep copy to compare before and after a call."""
        return copy.deepcopy({
            "users": self.users.rows, "conversations": self.conversations.rows,
            "requests": self.requests.rows, "tokens": self.requests.token_hashes,
            "reminded": self.requests.reminded_at, "claims": self.claims.rows,
            "blocks": self.blocks.rows,
            "grants": self.grants.rows, "audit": self.audit.rows, "cards": self.cards.rows,
            "questions": self.knowledge.rows,
            "spark_codes": self.spark_codes.rows,
            "notices": self.outbox.notices, "committed": self.committed,
        })


# --- teams (issue 10) ----------------------------------------------------------------------------

class FakeTeams:
    """Ad accounts (unique by name key, versioned), memberships, request links and invites."""

    def __init__(self) -> None:
        self.accounts: dict[int, AdAccountRow] = {}
        self.members_: dict[tuple[int, int], MemberRow] = {}
        self.requests: dict[int, int] = {}  # request id -> ad account id
        self.invites: dict[int, InviteRow] = {}
        self.invite_hashes: dict[int, str] = {}
        self._ids = itertools.count(1)

    async def find(self, name_key: str) -> AdAccountRow | None:
        return next((a for a in self.accounts.values() if a.name_key == name_key), None)

    async def get(self, ad_account_id: int) -> AdAccountRow | None:
        return self.accounts.get(ad_account_id)

    async def create(self, name: str, name_key: str, now: datetime) -> AdAccountRow:
        found = await self.find(name_key)
        if found is None:
            found = AdAccountRow(next(self._ids), name, name_key, 1)
            self.accounts[found.id] = found
        return found

    async def touch(self, ad_account_id: int, version: int) -> bool:
        account = self.accounts.get(ad_account_id)
        if account is None or account.version != version:
            return False
        self.accounts[ad_account_id] = replace(account, version=version + 1)
        return True

    async def members(self, ad_account_id: int) -> list[MemberRow]:
        return sorted((m for (a, _), m in self.members_.items() if a == ad_account_id),
                      key=lambda m: (m.joined_at, m.user_id))

    async def role_of(self, ad_account_id: int, user_id: int) -> str | None:
        member = self.members_.get((ad_account_id, user_id))
        return member.role if member else None

    async def of_user(self, user_id: int) -> list[tuple[AdAccountRow, str]]:
        return sorted(((self.accounts[a], m.role) for (a, u), m in self.members_.items()
                       if u == user_id), key=lambda item: item[0].id)

    async def add_member(self, ad_account_id: int, user_id: int, role: str,
                         now: datetime) -> bool:
        if (ad_account_id, user_id) in self.members_:
            return False
        self.members_[(ad_account_id, user_id)] = MemberRow(ad_account_id, user_id, role, now)
        return True

    async def set_role(self, ad_account_id: int, user_id: int, role: str) -> bool:
        member = self.members_.get((ad_account_id, user_id))
        if member is None:
            return False
        self.members_[(ad_account_id, user_id)] = replace(member, role=role)
        return True

    async def remove_member(self, ad_account_id: int, user_id: int) -> bool:
        return self.members_.pop((ad_account_id, user_id), None) is not None

    async def attach_request(self, request_id: int, ad_account_id: int) -> None:
        self.requests.setdefault(request_id, ad_account_id)

    async def account_of_request(self, request_id: int) -> int | None:
        return self.requests.get(request_id)

    async def request_ids(self, ad_account_ids: Sequence[int], limit: int = 50) -> list[int]:
        return sorted((r for r, a in self.requests.items() if a in ad_account_ids),
                      reverse=True)[:limit]

    async def create_invite(self, ad_account_id: int, role: str, invited_by: int,
                            now: datetime, expires_at: datetime) -> InviteRow:
        made = InviteRow(next(self._ids), ad_account_id, role, invited_by, now, expires_at,
                         None, False)
        self.invites[made.id] = made
        return made

    async def get_invite(self, invite_id: int) -> InviteRow | None:
        return self.invites.get(invite_id)

    async def set_invite_token(self, invite_id: int, token: str) -> None:
        self.invite_hashes[invite_id] = _hash(token)
        self.invites[invite_id] = replace(self.invites[invite_id], has_token=True)

    async def invite_by_token(self, token: str) -> InviteRow | None:
        wanted = _hash(token)
        return next((self.invites[i] for i, h in self.invite_hashes.items() if h == wanted),
                    None)

    async def use_invite(self, invite_id: int, user_id: int, now: datetime) -> bool:
        found = self.invites.get(invite_id)
        if found is None or found.used_by is not None:
            return False
        self.invites[invite_id] = replace(found, used_by=user_id)
        return True

    async def forget_invites(self, user_id: int) -> int:
        gone = [i for i, v in self.invites.items() if user_id in (v.invited_by, v.used_by)]
        for invite_id in gone:
            del self.invites[invite_id]
            self.invite_hashes.pop(invite_id, None)
        return len(gone)

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({"accounts": self.accounts, "members": self.members_,
                              "requests": self.requests, "invites": self.invites,
                              "hashes": self.invite_hashes})


_: UnitOfWork = FakeUnitOfWork()


# --- trust (issue 11): platform logins, claim changes and history, operators ------------------

from flows.ports import TrustUnitOfWork  # noqa: E402
from flows.records import AuditEventRow, ClaimEventRow, LoginRow  # noqa: E402


class FakeLogins:
    def __init__(self) -> None:
        self.rows: dict[str, LoginRow] = {}
        self.secrets: dict[str, str] = {}

    async def start(self, *, key: str, secret: str, user_id: int, provider: str, platform: str,
                    handle: str, handle_key: str, verifier: str, now: datetime,
                    expires_at: datetime) -> None:
        self.rows[key] = LoginRow(key, user_id, provider, platform, handle, handle_key,
                                  verifier, expires_at, None)
        self.secrets[key] = _hash(secret)

    async def get(self, key: str) -> LoginRow | None:
        return self.rows.get(key)

    async def matches(self, key: str, secret: str) -> bool:
        return self.secrets.get(key) == _hash(secret)

    async def use(self, key: str, now: datetime) -> bool:
        row = self.rows.get(key)
        if row is None or row.used_at is not None:
            return False
        self.rows[key] = replace(row, used_at=now)
        return True

    async def purge(self, before: datetime) -> int:
        gone = [k for k, r in self.rows.items() if r.expires_at < before]
        for key in gone:
            del self.rows[key]
        return len(gone)

    async def forget(self, user_id: int) -> int:
        gone = [k for k, r in self.rows.items() if r.user_id == user_id]
        for key in gone:
            del self.rows[key]
        return len(gone)


class FakeClaimChanges:
    """Works on the unit of work's own claims and requests, as the SQL works on its tables."""

    def __init__(self, claims: FakeClaims, requests: FakeRequests) -> None:
        self._claims, self._requests = claims, requests

    async def verify(self, platform: str, handle_key: str, owner_id: int,
                     platform_user_id: str, now: datetime) -> None:
        claim = self._claims.rows.get((platform, handle_key))
        if claim is not None and claim.owner_id == owner_id:
            self._claims.rows[(platform, handle_key)] = replace(
                claim, verified_at=now, platform_user_id=platform_user_id)

    async def transfer(self, platform: str, handle_key: str, from_owner: int, to_owner: int,
                       platform_user_id: str, now: datetime) -> bool:
        claim = self._claims.rows.get((platform, handle_key))
        if claim is None or claim.owner_id != from_owner:
            return False
        self._claims.rows[(platform, handle_key)] = replace(
            claim, owner_id=to_owner, verified_at=now, platform_user_id=platform_user_id)
        return True

    async def remove(self, platform: str, handle_key: str) -> ClaimRow | None:
        return self._claims.rows.pop((platform, handle_key), None)

    def _on(self, platform: str, handle_key: str, status: str) -> list[RequestRow]:
        rows = self._requests._where(lambda r: (r.platform, r.handle_key, r.status)
                                     == (platform, handle_key, status))
        return sorted(rows, key=lambda r: r.id)

    async def pending_on(self, platform: str, handle_key: str) -> list[RequestRow]:
        return self._on(platform, handle_key, "pending")

    async def authorized_on(self, platform: str, handle_key: str) -> list[RequestRow]:
        return self._on(platform, handle_key, "authorized")

    async def reassign(self, request_id: int, from_owner: int, to_owner: int) -> bool:
        row = self._requests.rows.get(request_id)
        if row is None or row.owner_id != from_owner or row.status != "pending":
            return False
        self._requests._set(request_id, owner_id=to_owner)
        return True

    async def unassign(self, platform: str, handle_key: str, owner_id: int) -> list[RequestRow]:
        waiting = [r for r in self._on(platform, handle_key, "pending") if r.owner_id == owner_id]
        for request in waiting:
            self._requests._set(request.id, owner_id=None)
        return waiting

    async def confirm_approvals(self, platform: str, handle_key: str, owner_id: int) -> int:
        mine = [r for r in self._on(platform, handle_key, "authorized")
                if r.owner_id == owner_id and r.strength != "verified"]
        for request in mine:
            self._requests._set(request.id, strength="verified")
        return len(mine)


class FakeClaimHistory:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, ClaimEventRow]] = []  # (platform, handle key, event)

    async def record(self, claim: ClaimRow, owner_id: int | None, event: str, actor: str,
                     now: datetime) -> None:
        self.rows.append((claim.platform, claim.handle_key,
                          ClaimEventRow(claim.platform, claim.handle, owner_id, event, actor, now)))

    async def of_handle(self, platform: str, handle_key: str) -> list[ClaimEventRow]:
        return [e for p, k, e in self.rows if (p, k) == (platform, handle_key)]

    async def forget(self, user_id: int) -> int:
        count = 0
        for i, (p, k, e) in enumerate(self.rows):
            if e.owner_id == user_id or e.actor == f"user:{user_id}":
                actor = "user:deleted" if e.actor == f"user:{user_id}" else e.actor
                owner = None if e.owner_id == user_id else e.owner_id
                self.rows[i] = (p, k, replace(e, owner_id=owner, actor=actor))
                count += 1
        return count


class FakeOperatorLog:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, datetime]] = []

    async def record(self, operator: str, action: str, target: str, now: datetime) -> None:
        self.rows.append((operator, action, target[:128], now))


class FakeBans:
    def __init__(self) -> None:
        self.rows: dict[int, str] = {}

    async def add(self, user_id: int, by: str, now: datetime) -> bool:
        if user_id in self.rows:
            return False
        self.rows[user_id] = by
        return True

    async def remove(self, user_id: int) -> bool:
        return self.rows.pop(user_id, None) is not None

    async def exists(self, user_id: int) -> bool:
        return user_id in self.rows


class FakeTrail:
    def __init__(self, audit: FakeAudit) -> None:
        self._audit = audit

    async def of_request(self, request_id: int) -> list[AuditEventRow]:
        return [AuditEventRow(a.actor_id, a.event, a.from_status, a.to_status, a.at)
                for a in self._audit.of_request(request_id)]


class FakeTrustUnitOfWork(FakeUnitOfWork):
    """The in-memory unit of work with trust's repositories too (`flows.ports.TrustUnitOfWork`)."""

    def __init__(self) -> None:
        super().__init__()
        self.logins = FakeLogins()
        self.claim_changes = FakeClaimChanges(self.claims, self.requests)
        self.claim_history = FakeClaimHistory()
        self.operator_log = FakeOperatorLog()
        self.bans = FakeBans()
        self.trail = FakeTrail(self.audit)

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), **copy.deepcopy({
            "logins": self.logins.rows, "history": self.claim_history.rows,
            "operator_log": self.operator_log.rows, "bans": self.bans.rows})}


_trust: TrustUnitOfWork = FakeTrustUnitOfWork()
