"""Verified ownership (issue 11): an owner proves a handle with the platform's own login.

Each platform names the login that proves its handles: a `Provider`, described as data (its
authorize, token and user-info addresses, and where the user info keeps the usernames), so a
new platform adds a definition, not a branch. The login is OAuth 2 with PKCE (S256): the
verifier stays in the database, only its challenge goes to the browser, and the `state` sent
along is `<key>.<secret>`, bound to the Telegram user who asked, single use, and short-lived.

The HTTP calls themselves are the adapter's (`bot.oauth`); the rules are here: who may start a
login, what a returning login may do, and what a proven handle changes (a verified owner takes
the handle over from an unverified claimant: their waiting requests move to the verified owner
and the approvals the unverified side gave are void).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from flows import request_flow, usecases
from flows.platforms import get_platform
from flows.ports import TrustUnitOfWork
from flows.records import ClaimRow, LoginRow, Notice, RequestRow
from flows.request_flow import Refused, Role, Status
from flows.usecases import Actor

LOGIN_LIFETIME = timedelta(minutes=15)  # from /verify to the return from the platform


# --- providers: the platforms' logins, as data ------------------------------------------------

@dataclass(frozen=True, slots=True)
class Provider:
    """One platform login (OAuth 2 authorization code with PKCE)."""

    id: str  # also the last part of our redirect address: <base>/oauth/<id>
    name: str
    authorize_url: str
    token_url: str
    userinfo_url: str
    scope: str
    client_id_param: str = "client_id"
    token_method: Literal["POST", "GET"] = "POST"
    # How the S256 challenge is written: RFC 7636's unpadded base64url, or hex digits (what
    # TikTok's Login Kit documents for its PKCE challenge).
    challenge_encoding: Literal["base64url", "hex"] = "base64url"
    user_id_path: str = "id"
    # Per platform id: where the user info lists the usernames this login proves ("a.b[].c":
    # key a, then key b, a list, each item's key c).
    username_paths: dict[str, str] = field(default_factory=dict)
    # Where the user info carries an error code ("ok" or absent: none).
    error_path: str | None = None

    def at(self, origin: str) -> Provider:
        """The same login with every address moved to `origin` (a local double, a proxy)."""
        return replace(self, authorize_url=_moved(self.authorize_url, origin),
                       token_url=_moved(self.token_url, origin),
                       userinfo_url=_moved(self.userinfo_url, origin))


def _moved(url: str, origin: str) -> str:
    new, old = urlsplit(origin), urlsplit(url)
    return urlunsplit((new.scheme, new.netloc, new.path.rstrip("/") + old.path, old.query, ""))


TIKTOK_LOGIN = Provider(
    id="tiktok",
    name="TikTok",
    authorize_url="https://www.tiktok.com/v2/auth/authorize/",
    token_url="https://open.tiktokapis.com/v2/oauth/token/",
    userinfo_url="https://open.tiktokapis.com/v2/user/info/?fields=open_id,username",
    scope="user.info.basic,user.info.profile",  # username needs user.info.profile
    client_id_param="client_key",
    challenge_encoding="hex",
    user_id_path="data.user.open_id",
    username_paths={"tiktok": "data.user.username"},
    error_path="error.code",
)

FACEBOOK_LOGIN = Provider(
    id="facebook",
    name="Facebook",
    authorize_url="https://www.facebook.com/v19.0/dialog/oauth",
    token_url="https://graph.facebook.com/v19.0/oauth/access_token",
    userinfo_url=("https://graph.facebook.com/v19.0/me?fields=id,accounts"
                  "%7Busername,instagram_business_account%7Busername%7D%7D"),
    scope="pages_show_list,instagram_basic",
    token_method="GET",
    user_id_path="id",
    # The Pages the person manages, and the Instagram professional accounts linked to them.
    username_paths={"facebook": "accounts.data[].username",
                    "instagram": "accounts.data[].instagram_business_account.username"},
    error_path="error.code",
)

PROVIDERS: dict[str, Provider] = {p.id: p for p in (TIKTOK_LOGIN, FACEBOOK_LOGIN)}
# Which login proves each platform's handles.
PROVIDER_OF: dict[str, str] = {"tiktok": "tiktok", "instagram": "facebook",
                               "facebook": "facebook"}


def provider_for(platform_id: str) -> Provider | None:
    name = PROVIDER_OF.get(platform_id)
    return PROVIDERS.get(name) if name else None


def _walk(value: Any, parts: list[str]) -> Iterator[Any]:
    if not parts:
        yield value
        return
    head, rest = parts[0], parts[1:]
    many = head.endswith("[]")
    key = head.removesuffix("[]")
    inner = value.get(key) if isinstance(value, dict) else None
    if many:
        for item in inner if isinstance(inner, list) else []:
            yield from _walk(item, rest)
    elif inner is not None:
        yield from _walk(inner, rest)


def read_path(payload: Any, path: str) -> list[Any]:
    """Every value at `path` in a JSON document (see `Provider.username_paths`)."""
    return list(_walk(payload, path.split(".")))


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the platform says logged in: their id there and the usernames the login proves."""

    user_id: str
    usernames: tuple[str, ...]


class UserInfoError(Exception):
    """The user info carried an error code (an expired or refused access token)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def read_identity(provider: Provider, platform_id: str, payload: Any) -> Identity:
    """The identity in a user-info answer; UserInfoError when it reports an error instead."""
    if provider.error_path:
        codes = [str(c) for c in read_path(payload, provider.error_path)]
        if codes and codes[0] not in ("ok", "0"):
            raise UserInfoError(codes[0])
    ids = read_path(payload, provider.user_id_path)
    path = provider.username_paths.get(platform_id, "")
    names = tuple(str(n) for n in read_path(payload, path) if isinstance(n, str) and n)
    if not ids:
        raise UserInfoError("no_user")
    return Identity(str(ids[0]), names)


# --- PKCE and the authorize address -------------------------------------------------------------

def new_verifier() -> str:
    """A PKCE code verifier: 64 characters of [A-Za-z0-9_-] (RFC 7636 allows 43-128)."""
    return secrets.token_urlsafe(48)


def challenge(verifier: str, encoding: str = "base64url") -> str:
    """The S256 code challenge for a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if encoding == "hex":
        return digest.hex()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def authorize_address(provider: Provider, client_id: str, redirect_uri: str, state: str,
                      verifier: str) -> str:
    """Where the person logs in: the provider's authorize address with our request."""
    query = urlencode({
        provider.client_id_param: client_id, "response_type": "code", "scope": provider.scope,
        "redirect_uri": redirect_uri, "state": state,
        "code_challenge": challenge(verifier, provider.challenge_encoding),
        "code_challenge_method": "S256",
    })
    separator = "&" if "?" in provider.authorize_url else "?"
    return f"{provider.authorize_url}{separator}{query}"


# --- use cases ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Started:
    """A login to send the person to: its state and the verifier to build the address with."""

    provider: Provider
    state: str
    verifier: str
    handle: str
    expires_at: datetime


async def start_verification(uow: TrustUnitOfWork, actor: Actor, platform_id: str, handle: str,
                             now: datetime, lifetime: timedelta = LOGIN_LIFETIME) -> Started:
    """/verify: begin proving a handle (claimed by the actor or by nobody yet).

    Refused("verified_already") when the actor's claim is verified already. A handle someone
    else claimed may be proven too: that is how a verified owner takes it over.
    """
    provider = provider_for(platform_id)
    if provider is None:
        raise Refused("no_login")
    platform = get_platform(platform_id)
    key = platform.handle_rule.key(handle)
    claim = await uow.claims.get(platform.id, key)
    if claim is not None and claim.owner_id == actor.id and claim.verified_at is not None:
        raise Refused("verified_already")
    await uow.users.seen(actor.id, actor.first_name, actor.username, now)
    await uow.logins.purge(now - timedelta(days=1))  # nobody's old logins are kept
    login_key, secret = secrets.token_urlsafe(9), secrets.token_urlsafe(24)
    verifier = new_verifier()
    await uow.logins.start(key=login_key, secret=secret, user_id=actor.id,
                           provider=provider.id, platform=platform.id, handle=handle,
                           handle_key=key, verifier=verifier, now=now,
                           expires_at=now + lifetime)
    return Started(provider, f"{login_key}.{secret}", verifier, handle, now + lifetime)


class LoginRefused(Exception):
    """A return from the platform that proves nothing: `reason` is "unknown" (no such login:
    nobody to tell), "wrong_state" (the secret did not match), "used" (a replay), "expired",
    "denied" (the person said no at the platform), or, once exchanged, "code_refused",
    "token_expired", "unreachable" or "mismatch". `login` names whose login it was."""

    def __init__(self, reason: str, login: LoginRow | None = None,
                 usernames: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason, self.login, self.usernames = reason, login, usernames


async def take_login(uow: TrustUnitOfWork, provider_id: str, state: str, now: datetime,
                     *, denied: bool = False) -> LoginRow:
    """A browser came back from the platform with `state`: the login it belongs to, used up
    now (single use), or LoginRefused. A wrong secret uses the login up too, so a forged
    state can't be tried again and again."""
    login_key, _, secret = state.partition(".")
    login = await uow.logins.get(login_key) if login_key and secret else None
    if login is None or login.provider != provider_id:
        raise LoginRefused("unknown")
    if not await uow.logins.matches(login_key, secret):
        await uow.logins.use(login_key, now)
        raise LoginRefused("wrong_state", login)
    if login.used_at is not None or not await uow.logins.use(login_key, now):
        raise LoginRefused("used", login)
    if now >= login.expires_at:
        raise LoginRefused("expired", login)
    if denied:
        raise LoginRefused("denied", login)
    return login


@dataclass(frozen=True, slots=True)
class Proven:
    """What a successful login changed: the claim now, the unverified claimant it was taken
    from (if any), the waiting requests that moved to the verified owner, and the approvals
    made void."""

    claim: ClaimRow
    created: bool
    previous_owner: int | None = None
    moved: list[RequestRow] = field(default_factory=list)
    voided: list[RequestRow] = field(default_factory=list)
    waiting: int = 0


async def prove_owner(uow: TrustUnitOfWork, login: LoginRow, identity: Identity,
                      now: datetime) -> Proven:
    """The platform says who logged in: if one of their usernames is the handle, the person
    behind the login is its verified owner. LoginRefused("mismatch") changes nothing."""
    platform = get_platform(login.platform)
    keys = {platform.handle_rule.key(name) for name in identity.usernames}
    if login.handle_key not in keys:
        raise LoginRefused("mismatch", login, identity.usernames)
    actor = f"user:{login.user_id}"
    claim = await uow.claims.get(platform.id, login.handle_key)
    fresh = claim is None
    if claim is None:
        claim = await uow.claims.add(platform.id, login.handle, login.handle_key,
                                     login.user_id, now)
        await uow.claim_history.record(claim, login.user_id, "claim", actor, now)
    if claim.owner_id == login.user_id:
        created = claim.verified_at is None
        await uow.claim_changes.verify(platform.id, claim.handle_key, login.user_id,
                                       identity.user_id, now)
        await uow.claim_history.record(claim, login.user_id, "verify", actor, now)
        voided = await _void_unverified(uow, claim, login.user_id, None, now)
        # What they approved before proving the handle stands, now as the verified owner's.
        await uow.claim_changes.confirm_approvals(platform.id, claim.handle_key, login.user_id)
        await _withdraw_own(uow, claim, login.user_id, now)
        # A claim made just now takes the handle's waiting requests (an older one has them).
        waiting = await usecases.route_to_owner(uow, claim) if fresh else 0
        after = await uow.claims.get(platform.id, claim.handle_key)
        assert after is not None
        return Proven(after, created, voided=voided, waiting=waiting)
    # Someone else holds the handle: the newest proof wins.
    previous = claim.owner_id
    if not await uow.claim_changes.transfer(platform.id, claim.handle_key, previous,
                                            login.user_id, identity.user_id, now):
        raise Refused("already")  # it changed hands meanwhile; the person may try again
    await uow.claim_history.record(claim, login.user_id, "takeover", actor, now)
    moved = []
    for request in await uow.claim_changes.pending_on(platform.id, claim.handle_key):
        if request.owner_id != previous or request.requester_id == login.user_id:
            continue
        await uow.claim_changes.reassign(request.id, previous, login.user_id)
        for card in await uow.cards.take(request.id):
            # The claimant's card loses its buttons; the verified owner gets a fresh one.
            uow.outbox.add(Notice("markup", card.chat_id, None,
                                  {"message_id": card.message_id, "markup": None}))
        await uow.audit.record(request.id, login.user_id, "takeover", request.status,
                               request.status, now)
        moved.append(request)
    kept = previous if claim.verified_at is not None else None
    voided = await _void_unverified(uow, claim, login.user_id, kept, now)
    # Approvals they gave earlier through one-time links stand, now as the verified owner's;
    # a previous verified owner's keep the strength they had.
    await uow.claim_changes.confirm_approvals(platform.id, claim.handle_key, login.user_id)
    await _withdraw_own(uow, claim, login.user_id, now)
    waiting = await usecases.route_to_owner(uow, replace(claim, owner_id=login.user_id))
    after = await uow.claims.get(platform.id, claim.handle_key)
    assert after is not None
    return Proven(after, False, previous, moved, voided, waiting)


async def _void_unverified(uow: TrustUnitOfWork, claim: ClaimRow, owner_id: int,
                           kept: int | None, now: datetime) -> list[RequestRow]:
    """Approvals of the handle given by anyone but its verified owner (or `kept`, a previous
    verified owner) are void: the request moves to revoked, its access ends, both told."""
    voided = []
    for request in await uow.claim_changes.authorized_on(claim.platform, claim.handle_key):
        if request.owner_id in (owner_id, kept):
            continue
        decision = request_flow.decide(request.status, "void", Role.SYSTEM)
        if not await uow.requests.move(request.id, decision.from_, decision.to, now,
                                       strength="void"):
            continue
        await uow.grants.close(request.id, Status.REVOKED, now)
        await uow.audit.record(request.id, owner_id, "void", decision.from_, decision.to, now)
        uow.outbox.add(Notice("void_for_advertiser", request.requester_id, request.id))
        if request.owner_id is not None:
            uow.outbox.add(Notice("void_for_approver", request.owner_id, request.id))
        voided.append(request)
    return voided


async def _withdraw_own(uow: TrustUnitOfWork, claim: ClaimRow, owner_id: int,
                        now: datetime) -> None:
    """The verified owner's own waiting requests for the handle have nothing left to ask
    (nobody decides their own): withdrawn, their cards' buttons off, the owner told."""
    for request in await uow.claim_changes.pending_on(claim.platform, claim.handle_key):
        if request.requester_id != owner_id or now >= request.expires_at:
            continue
        decision = request_flow.decide(request.status, "withdraw", Role.OWNER)
        if not await uow.requests.move(request.id, decision.from_, decision.to, now,
                                       decided=True):
            continue
        await uow.audit.record(request.id, owner_id, "withdraw", decision.from_, decision.to,
                               now)
        for card in await uow.cards.take(request.id):
            uow.outbox.add(Notice("markup", card.chat_id, None,
                                  {"message_id": card.message_id, "markup": None}))
        uow.outbox.add(Notice("own_handle_withdrawn", owner_id, request.id))


async def claim_handle(uow: TrustUnitOfWork, actor: Actor, platform_id: str, handle: str,
                       now: datetime) -> usecases.Claimed:
    """/claim, with the claim kept in the handle's history (an unverified claim)."""
    claimed = await usecases.claim(uow, actor, platform_id, handle, now)
    if claimed.created:
        await uow.claim_history.record(claimed.claim, actor.id, "claim", f"user:{actor.id}",
                                       now)
    return claimed


async def erase_person(uow: TrustUnitOfWork, user_id: int, now: datetime) -> usecases.Erased:
    """/deleteme, confirmed: `usecases.erase_person`, and the person's logins and their place
    in claim histories go too (the events stay, naming nobody)."""
    erased = await usecases.erase_person(uow, user_id, now)
    await uow.logins.forget(user_id)
    await uow.claim_history.forget(user_id)
    return erased
