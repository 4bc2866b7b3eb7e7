"""Typed SQLAlchemy models. Alembic owns the schema; these describe it to the code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base for Linkpilot's tables."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime, dict[str, Any]: JSON, list[str]: JSON,
    }


class User(Base):
    """A Telegram user who has written to the bot (the bot may message them)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # Set by /deleteme: the name and username are gone; cleared if they write again.
    deleted_at: Mapped[datetime | None]


class Conversation(Base):
    """Where one user stands in one flow: the state name and the flow's draft data."""

    __tablename__ = "conversations"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    flow: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    # Bumped on every write; a write names the version it read, so a lost update is detected.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LinkRequest(Base):
    """An advertiser's request to use a social account for ads, and its current status."""

    __tablename__ = "link_requests"
    __table_args__ = (
        Index("ix_link_requests_status_expires", "status", "expires_at"),
        Index("ix_link_requests_handle", "platform", "handle_key"),
        Index("ix_link_requests_status_access_end", "status", "access_ends_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)
    requester_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(64))
    handle_key: Mapped[str] = mapped_column(String(64))
    ad_account: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]]
    visibility: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    approval_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    # Meta partner access (migration 0007): the agency's Business ID, the days of temporary
    # access asked for, and when that access ends (set when approved).
    business_id: Mapped[str | None] = mapped_column(String(32))
    access_days: Mapped[int | None] = mapped_column(Integer)
    access_ends_at: Mapped[datetime | None]
    # Trust (issue 11, migration 0011): how far the decider was known to own the handle when
    # the request was approved or rejected: "verified", "unverified", or "void" (an
    # unverified approval voided when the verified owner took the handle over).
    strength: Mapped[str | None] = mapped_column(String(16))


class Claim(Base):
    """A handle an owner has claimed: the bot sends that handle's requests to them."""

    __tablename__ = "claims"
    __table_args__ = (UniqueConstraint("platform", "handle_key", name="uq_claims_handle"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(64))
    handle_key: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    # Trust (issue 11): set when the owner proved the handle with the platform's own login.
    verified_at: Mapped[datetime | None]
    platform_user_id: Mapped[str | None] = mapped_column(String(128))


class Grant(Base):
    """The access an authorized request gave, from approval until unlink or revoke."""

    __tablename__ = "grants"
    request_id: Mapped[int] = mapped_column(ForeignKey("link_requests.id"), primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, index=True)
    advertiser_id: Mapped[int] = mapped_column(BigInteger, index=True)
    granted_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_as: Mapped[str | None] = mapped_column(String(16))


class AuditEvent(Base):
    """One transition of a link request. Rows are only ever inserted."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("link_requests.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # None: the system (expiry)
    event: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class RequestCard(Base):
    """A sent message about a request: a card with buttons, so a decision can take them away,
    or the "why?" prompt after a rejection, so a reply to it can be read as the reason."""

    __tablename__ = "request_cards"
    __table_args__ = (Index("ix_request_cards_message", "chat_id", "message_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("link_requests.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))  # "card", "closed" (decided) or "prompt"
    created_at: Mapped[datetime]


class InboxUpdate(Base):
    """An update received from Telegram, stored before Telegram is told it arrived.

    `done_at` is set in the same transaction as the update's effects; the payload is dropped
    then (it may hold an approval token). A redelivered `update_id` finds its row and is ignored.
    """

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_done", "done_at"),)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_key: Mapped[int | None] = mapped_column(BigInteger)  # whose updates run in order
    payload: Mapped[dict[str, Any] | None]
    received_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message owed to someone, written with the state change that owes it, deleted once sent.

    Rows of one chat are sent in `id` order. `status` is "pending" until sent; "failed" when
    given up on (kept, with the last error, for the operator).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_chat", "status", "chat_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime]
    created_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Which worker is sending it, until when: other workers leave the chat alone meanwhile.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]


class KbCategory(Base):
    """A knowledge base category, for /faq browsing."""

    __tablename__ = "kb_categories"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)


class KbEntry(Base):
    """One knowledge base topic: its question, phrasings, answer and sources."""

    __tablename__ = "kb_entries"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    phrasings: Mapped[list[str]]
    answer: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(ForeignKey("kb_categories.id"))
    related: Mapped[list[str]]
    sources: Mapped[list[str]]
    position: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class KbQuestion(Base):
    """A question the knowledge base missed, or a suggestion a user chose: material to grow it."""

    __tablename__ = "kb_questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    question: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))  # "miss", "chosen", "none_fit"
    entry_id: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime]


class LiveQuestion(Base):
    """The latest link-flow question sent to a chat: its buttons go when a newer one is asked."""

    __tablename__ = "live_questions"
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger)


class Block(Base):
    """An owner's refusal of every future request from one advertiser."""

    __tablename__ = "blocks"
    owner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    advertiser_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                               autoincrement=False)
    created_at: Mapped[datetime]


# --- Spark Ads authorization codes (issue 10) ----------------------------------------------------

class SparkCode(Base):
    """A Spark Ads authorization code a creator made for one of their videos (see flows.spark
    for why the code is kept in the clear)."""

    __tablename__ = "spark_codes"
    __table_args__ = (Index("ix_spark_codes_status_expires", "status", "expires_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    creator_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    video_id: Mapped[str] = mapped_column(String(32))
    video_handle: Mapped[str | None] = mapped_column(String(64))
    days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    applied_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"),
                                                   index=True)
    applied_at: Mapped[datetime | None]
    # Bumped on every change; buttons name the version they were drawn for.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
# --- teams (issue 10): ad accounts, their members, their requests, invites ----------------------

class AdAccount(Base):
    """An ad account as advertisers name it in requests; one per name (compared by `name_key`)."""

    __tablename__ = "ad_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    name_key: Mapped[str] = mapped_column(String(128), unique=True)
    # Bumped on every change of its members: the team's buttons name the version they show.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class Membership(Base):
    """A person's role on an ad account: admin, operator or analyst."""

    __tablename__ = "memberships"
    ad_account_id: Mapped[int] = mapped_column(ForeignKey("ad_accounts.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False,
                                         index=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime]


class AdAccountRequest(Base):
    """Which ad account's team a link request belongs to."""

    __tablename__ = "ad_account_requests"
    request_id: Mapped[int] = mapped_column(ForeignKey("link_requests.id"), primary_key=True,
                                            autoincrement=False)
    ad_account_id: Mapped[int] = mapped_column(ForeignKey("ad_accounts.id"), index=True)


class TeamInvite(Base):
    """A one-time invitation to an ad account's team; its link's token is stored hashed."""

    __tablename__ = "team_invites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ad_account_id: Mapped[int] = mapped_column(ForeignKey("ad_accounts.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[int] = mapped_column(BigInteger, index=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_by: Mapped[int | None] = mapped_column(BigInteger, index=True)
    used_at: Mapped[datetime | None]
# --- trust (issue 11): verified owners and operator tools -------------------------------------


class LoginAttempt(Base):
    """A platform login started with /verify: single use, expires. The PKCE verifier stays here
    (never in the browser); the state sent along is `key.secret`, of which only a hash is kept."""

    __tablename__ = "login_attempts"
    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    provider: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(64))
    handle_key: Mapped[str] = mapped_column(String(64))
    verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ClaimEvent(Base):
    """One change to who owns a handle (claimed, verified, taken over, released). Insert only."""

    __tablename__ = "claim_events"
    __table_args__ = (Index("ix_claim_events_handle", "platform", "handle_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(64))
    handle_key: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))  # "user:<id>", "operator:<id>", "cli:<name>"
    at: Mapped[datetime]


class OperatorAction(Base):
    """What an operator did, from Telegram or the command line. Insert only."""

    __tablename__ = "operator_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]


class BannedUser(Base):
    """A person an operator blocked: every update of theirs gets one polite fixed reply."""

    __tablename__ = "banned_users"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    banned_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
