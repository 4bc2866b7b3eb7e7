"""Trust's rules (issue 11) on the in-memory unit of work: platform logins (single use, bound,
expiring), what a proven handle changes, and the operator commands. A refusal writes nothing
but the login's use. The whole file runs in milliseconds; tests/test_verify.py and
tests/test_admin.py drive the same rules through the bot and real servers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows import operator, usecases, verification
from flows.request_flow import Refused
from flows.verification import (
    FACEBOOK_LOGIN,
    TIKTOK_LOGIN,
    Identity,
    LoginRefused,
    UserInfoError,
    read_identity,
)
from tests.fakes import FakeTrustUnitOfWork
from tests.test_usecases import ADA, BOB, CLAIMED, EVE, OWEN, T0, of_kind, submit, told

OWEN_ID = Identity("open-owen", ("owen.makes",))


@pytest.fixture
def uow() -> FakeTrustUnitOfWork:
    return FakeTrustUnitOfWork()


async def started(uow: FakeTrustUnitOfWork, actor: usecases.Actor = OWEN) -> str:
    return (await verification.start_verification(uow, actor, "tiktok", CLAIMED, T0)).state


# --- PKCE, addresses and reading the user info --------------------------------------------------

def test_the_s256_challenge_is_rfc_7636s_or_tiktoks_hex() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636, appendix B
    assert verification.challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert verification.challenge(verifier, "hex") == (
        "13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3")
    fresh = verification.new_verifier()
    assert 43 <= len(fresh) <= 128 and fresh != verification.new_verifier()


def test_the_authorize_address_carries_the_challenge_never_the_verifier() -> None:
    url = verification.authorize_address(TIKTOK_LOGIN, "ck", "https://bot/oauth/tiktok",
                                         "k.s", "the-verifier")
    assert url.startswith("https://www.tiktok.com/v2/auth/authorize/?client_key=ck&")
    assert "the-verifier" not in url and "code_challenge_method=S256" in url
    moved = TIKTOK_LOGIN.at("http://127.0.0.1:9")
    assert moved.token_url == "http://127.0.0.1:9/v2/oauth/token/"
    assert moved.userinfo_url == "http://127.0.0.1:9/v2/user/info/?fields=open_id,username"


def test_user_info_is_read_by_each_providers_paths() -> None:
    tiktok = {"data": {"user": {"open_id": "o1", "username": "owen.makes"}},
              "error": {"code": "ok"}}
    assert read_identity(TIKTOK_LOGIN, "tiktok", tiktok) == Identity("o1", ("owen.makes",))
    with pytest.raises(UserInfoError) as error:
        read_identity(TIKTOK_LOGIN, "tiktok", {"error": {"code": "access_token_invalid"}})
    assert error.value.code == "access_token_invalid"
    facebook = {"id": "f1", "accounts": {"data": [
        {"username": "page.one", "instagram_business_account": {"username": "ig.one"}},
        {"username": "page.two"}]}}
    assert read_identity(FACEBOOK_LOGIN, "instagram", facebook).usernames == ("ig.one",)
    assert read_identity(FACEBOOK_LOGIN, "facebook", facebook).usernames == ("page.one",
                                                                             "page.two")
    with pytest.raises(UserInfoError):
        read_identity(FACEBOOK_LOGIN, "facebook", {"error": {"code": 190}})


# --- logins: bound, single use, expiring --------------------------------------------------------

async def test_a_login_is_used_once(uow: FakeTrustUnitOfWork) -> None:
    state = await started(uow)
    login = await verification.take_login(uow, "tiktok", state, T0)
    assert (login.user_id, login.handle_key) == (OWEN.id, CLAIMED)
    with pytest.raises(LoginRefused) as refused:
        await verification.take_login(uow, "tiktok", state, T0)
    assert refused.value.reason == "used" and refused.value.login is not None


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda s: s.split(".")[0] + ".wrong", "wrong_state"),
    (lambda s: "nobody." + s.split(".")[1], "unknown"),
    (lambda s: "", "unknown"),
    (lambda s: s.split(".")[0], "unknown"),
])
async def test_a_state_that_does_not_match_proves_nothing(uow: FakeTrustUnitOfWork, mangle,
                                                           reason: str) -> None:
    state = await started(uow)
    with pytest.raises(LoginRefused) as refused:
        await verification.take_login(uow, "tiktok", mangle(state), T0)
    assert refused.value.reason == reason
    if reason == "wrong_state":  # a guessed secret costs the login
        with pytest.raises(LoginRefused) as again:
            await verification.take_login(uow, "tiktok", state, T0)
        assert again.value.reason == "used"


async def test_a_login_for_another_provider_or_too_late_or_denied_proves_nothing(
        uow: FakeTrustUnitOfWork) -> None:
    state = await started(uow)
    with pytest.raises(LoginRefused) as refused:
        await verification.take_login(uow, "facebook", state, T0)
    assert refused.value.reason == "unknown"
    late = verification.LOGIN_LIFETIME + timedelta(seconds=1)
    with pytest.raises(LoginRefused) as refused:
        await verification.take_login(uow, "tiktok", state, T0 + late)
    assert refused.value.reason == "expired"
    with pytest.raises(LoginRefused) as refused:
        await verification.take_login(uow, "tiktok", await started(uow), T0, denied=True)
    assert refused.value.reason == "denied"


async def test_old_logins_are_dropped_when_a_new_one_starts(uow: FakeTrustUnitOfWork) -> None:
    await started(uow, EVE)
    assert len(uow.logins.rows) == 1
    await verification.start_verification(uow, OWEN, "tiktok", CLAIMED, T0 + timedelta(days=2))
    assert [r.user_id for r in uow.logins.rows.values()] == [OWEN.id]


async def test_a_verified_owner_is_not_sent_to_log_in_again(uow: FakeTrustUnitOfWork) -> None:
    login = await verification.take_login(uow, "tiktok", await started(uow), T0)
    await verification.prove_owner(uow, login, OWEN_ID, T0)
    before = uow.snapshot()
    with pytest.raises(Refused) as refused:
        await started(uow)
    assert refused.value.reason == "verified_already"
    assert uow.snapshot() == before


# --- what a proven handle changes --------------------------------------------------------------

async def test_logging_in_as_someone_else_changes_nothing(uow: FakeTrustUnitOfWork) -> None:
    await verification.claim_handle(uow, OWEN, "tiktok", CLAIMED, T0)
    login = await verification.take_login(uow, "tiktok", await started(uow), T0)
    before = uow.snapshot()
    with pytest.raises(LoginRefused) as refused:
        await verification.prove_owner(uow, login, Identity("x", ("other.one",)), T0)
    assert refused.value.reason == "mismatch" and refused.value.usernames == ("other.one",)
    assert uow.snapshot() == before


async def test_usernames_compare_as_the_platform_does(uow: FakeTrustUnitOfWork) -> None:
    login = await verification.take_login(uow, "tiktok", await started(uow), T0)
    proven = await verification.prove_owner(uow, login, Identity("o", ("Owen.Makes",)), T0)
    assert proven.claim.strength == "verified" and proven.created


async def test_a_verified_owner_takes_over_an_unverified_claim(
        uow: FakeTrustUnitOfWork) -> None:
    await verification.claim_handle(uow, EVE, "tiktok", CLAIMED, T0)
    approved = await submit(uow, ADA)
    await usecases.decide(uow, EVE, "approve", T0, key=approved.key)
    waiting = await submit(uow, BOB)
    uow.notices.clear()
    login = await verification.take_login(uow, "tiktok", await started(uow), T0)
    proven = await verification.prove_owner(uow, login, OWEN_ID, T0)
    assert proven.previous_owner == EVE.id and proven.claim.owner_id == OWEN.id
    assert [r.id for r in proven.moved] == [waiting.id]
    assert [r.id for r in proven.voided] == [approved.id]
    assert (await uow.requests.get(approved.id)).status == "revoked"
    assert (await uow.requests.get(waiting.id)).owner_id == OWEN.id
    assert uow.grants.active() == []
    assert told(uow) == [("void_for_advertiser", ADA.id), ("void_for_approver", EVE.id),
                         ("owner_card", OWEN.id), ("sent_to_owner", BOB.id)]
    assert [e.event for e in await uow.claim_history.of_handle("tiktok", CLAIMED)] == [
        "claim", "takeover"]
    # Owen's decisions are verified from now on.
    uow.notices.clear()
    await usecases.decide(uow, OWEN, "approve", T0, key=waiting.key)
    assert of_kind(uow, "approved_for_advertiser")[0].data == {"strength": "verified"}


async def test_a_newer_proof_keeps_the_earlier_verified_owners_approvals(
        uow: FakeTrustUnitOfWork) -> None:
    """The handle changed hands on the platform: both proofs were true when made."""
    await verification.claim_handle(uow, EVE, "tiktok", CLAIMED, T0)
    eve_login = await verification.take_login(uow, "tiktok", await started(uow, EVE), T0)
    await verification.prove_owner(uow, eve_login, Identity("open-eve", ("owen.makes",)), T0)
    approved = await submit(uow, ADA)
    await usecases.decide(uow, EVE, "approve", T0, key=approved.key)
    login = await verification.take_login(uow, "tiktok", await started(uow), T0)
    proven = await verification.prove_owner(uow, login, OWEN_ID, T0)
    assert proven.previous_owner == EVE.id and proven.voided == []
    assert (await uow.requests.get(approved.id)).status == "authorized"


async def test_verifying_voids_approvals_given_through_links(uow: FakeTrustUnitOfWork) -> None:
    request = await submit(uow, ADA)
    token = await usecases.issue_link(uow, request.id, T0)
    await usecases.decide(uow, EVE, "approve", T0, token=token)
    login = await verification.take_login(uow, "tiktok", await started(uow), T0)
    proven = await verification.prove_owner(uow, login, OWEN_ID, T0)
    assert proven.previous_owner is None and [r.id for r in proven.voided] == [request.id]
    assert (await uow.requests.get(request.id)).status == "revoked"


async def test_erasing_a_person_forgets_their_logins_and_history(
        uow: FakeTrustUnitOfWork) -> None:
    await verification.claim_handle(uow, OWEN, "tiktok", CLAIMED, T0)
    await started(uow)
    await verification.erase_person(uow, OWEN.id, T0)
    assert uow.logins.rows == {}
    assert [(e.owner_id, e.actor) for e in await uow.claim_history.of_handle(
        "tiktok", CLAIMED)] == [(None, "user:deleted")]
    assert await uow.claims.get("tiktok", CLAIMED) is None


# --- operator commands --------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "why"), [
    ([], "expected one of"),
    (["drop", "@x"], "expected one of"),
    (["claim"], "claim takes [platform] @handle"),
    (["claim", "myspace", "@x"], "claim takes [platform] @handle"),
    (["release", "bad name"], "is not a tiktok username"),
    (["audit"], "audit takes one argument"),
    (["block", "12a"], "block takes a Telegram user id"),
    (["unblock", "1" * 21], "unblock takes a Telegram user id"),
])
def test_operator_commands_are_parsed_or_refused_in_one_line(args: list[str], why: str) -> None:
    with pytest.raises(operator.Usage) as usage:
        operator.parse(args, ("tiktok",))
    assert why in str(usage.value) and "\n" not in str(usage.value)


async def test_every_operator_command_is_logged(uow: FakeTrustUnitOfWork) -> None:
    await verification.claim_handle(uow, OWEN, "tiktok", CLAIMED, T0)
    for args in (["claim", "@owen.makes"], ["block", "3003"], ["block", "9"],
                 ["unblock", "3003"], ["audit", "nope"], ["release", "@owen.makes"]):
        await operator.run(uow, "cli:opal", operator.parse(args, ("tiktok",)), T0,
                           protected=frozenset({9}))
    assert [(a, t) for _, a, t, _ in uow.operator_log.rows] == [
        ("claim", "tiktok:@owen.makes"), ("block", "3003"), ("block", "9"),
        ("unblock", "3003"), ("audit", "nope"), ("release", "tiktok:@owen.makes")]
    assert uow.bans.rows == {}  # 3003 blocked then unblocked; 9 is an operator
    assert await uow.claims.get("tiktok", CLAIMED) is None


async def test_the_verified_owners_own_waiting_requests_for_the_handle_are_withdrawn(
        uow: FakeTrustUnitOfWork) -> None:
    """Nobody decides their own request: once Owen proves the handle, his request for it
    (waiting for Eve, the unverified claimant) has nobody to ask."""
    await verification.claim_handle(uow, EVE, "tiktok", CLAIMED, T0)
    own = await submit(uow, OWEN)
    other = await submit(uow, ADA)
    uow.notices.clear()
    login = await verification.take_login(uow, "tiktok", await started(uow), T0)
    proven = await verification.prove_owner(uow, login, OWEN_ID, T0)
    assert [r.id for r in proven.moved] == [other.id]
    assert (await uow.requests.get(own.id)).status == "cancelled"
    assert ("own_handle_withdrawn", OWEN.id) in told(uow)
    assert [e.event for e in uow.audit.of_request(own.id)] == ["create", "withdraw"]
