"""The records use cases work with, and the messages they owe, as plain data.

Storage returns these; the Telegram adapter renders notices. Nothing here knows either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    first_name: str
    username: str | None
    deleted: bool = False  # erased with /deleteme: name and username are gone


@dataclass(frozen=True, slots=True)
class ConversationRow:
    user_id: int
    flow: str
    state: str
    data: dict[str, Any]
    version: int  # 0: not stored yet


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: int
    key: str
    requester_id: int
    platform: str
    handle: str
    handle_key: str
    ad_account: str
    scopes: list[str]
    visibility: str | None
    status: str
    owner_id: int | None
    reason: str | None
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    has_token: bool
    # Meta partner access: the agency's Business ID, days of temporary access (None: until
    # removed), and when that access ends (set on approval).
    business_id: str | None = None
    access_days: int | None = None
    access_ends_at: datetime | None = None
    # Trust (issue 11): "verified" / "unverified" decider of the approval or rejection, or
    # "void" (an unverified approval voided by the verified owner's takeover); None: undecided.
    strength: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimRow:
    platform: str
    handle: str
    handle_key: str
    owner_id: int
    # Trust (issue 11): set once the owner proved the handle with the platform's login.
    verified_at: datetime | None = None
    platform_user_id: str | None = None

    @property
    def strength(self) -> str:
        """"verified" or "unverified": how far the bot knows the claim is true."""
        return "verified" if self.verified_at is not None else "unverified"


@dataclass(frozen=True, slots=True)
class CardRow:
    """A sent message about a request: an owner's card ("card", "closed" once decided) or a
    rejection's "why?" prompt ("prompt")."""

    chat_id: int
    message_id: int
    request_id: int = 0
    kind: str = "card"


@dataclass(frozen=True, slots=True)
class Notice:
    """A message a use case owes someone, as data: `kind` names what to say, `request_id` what
    it is about, `data` anything else the words need. The adapter renders and sends it after the
    transaction that recorded it has committed."""

    kind: str
    chat_id: int
    request_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


# --- Spark Ads authorization codes (issue 10) ----------------------------------------------------

@dataclass(frozen=True, slots=True)
class SparkCodeRow:
    """A Spark Ads authorization code a creator made for one of their videos.

    `status` is "active", "expired" or "deleted"; `applied_by` is the one advertiser who applied
    it. `version` goes up with every change, so buttons about an older state stop working."""

    id: int
    key: str
    code: str
    creator_id: int
    video_id: str
    video_handle: str | None
    days: int
    status: str
    created_at: datetime
    expires_at: datetime
    applied_by: int | None
    applied_at: datetime | None
    ended_at: datetime | None
    version: int
# --- teams (issue 10): ad accounts, their members and invites ------------------------------------

@dataclass(frozen=True, slots=True)
class AdAccountRow:
    """An ad account as Linkpilot knows it: the name advertisers type, compared by `name_key`.
    `version` changes with every change of its members, so a team's buttons go stale."""

    id: int
    name: str
    name_key: str
    version: int = 1


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One person's role on one ad account."""

    ad_account_id: int
    user_id: int
    role: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class InviteRow:
    """A one-time invitation to join an ad account's team with a role."""

    id: int
    ad_account_id: int
    role: str
    invited_by: int
    created_at: datetime
    expires_at: datetime
    used_by: int | None
    has_token: bool
# --- trust (issue 11): platform logins, claim history, operator actions -------------------------

@dataclass(frozen=True, slots=True)
class LoginRow:
    """A platform login started with /verify (the PKCE verifier is kept here, server-side)."""

    key: str
    user_id: int
    provider: str
    platform: str
    handle: str
    handle_key: str
    verifier: str
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClaimEventRow:
    platform: str
    handle: str
    owner_id: int | None
    event: str
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditEventRow:
    """One move in a request's audit trail, for operators."""

    actor_id: int | None
    event: str
    from_status: str | None
    to_status: str
    at: datetime
