"""Who may move a link request, and when: flows.request_flow.decide, role_of, keys and tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from flows import request_flow
from flows.request_flow import (
    EVENTS,
    OPEN_STATUSES,
    Decision,
    Refused,
    Role,
    Status,
    decide,
    expiry_for,
    new_approval_token,
    new_request_key,
    role_of,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DUE = {"now": NOW, "expires_at": NOW - timedelta(seconds=1),
       "ends_at": NOW - timedelta(seconds=1)}

# The rules, written out independently of the machine's table: (status, event) -> (role, to).
RULES: dict[tuple[Status, str], tuple[Role, Status]] = {
    (Status.PENDING, "approve"): (Role.OWNER, Status.AUTHORIZED),
    (Status.PENDING, "reject"): (Role.OWNER, Status.REJECTED),
    (Status.PENDING, "cancel"): (Role.REQUESTER, Status.CANCELLED),
    (Status.PENDING, "withdraw"): (Role.OWNER, Status.CANCELLED),  # the owner left (/deleteme)
    (Status.PENDING, "expire"): (Role.SYSTEM, Status.EXPIRED),
    (Status.AUTHORIZED, "unlink"): (Role.REQUESTER, Status.UNLINKED),
    (Status.AUTHORIZED, "revoke"): (Role.OWNER, Status.REVOKED),
    (Status.AUTHORIZED, "end"): (Role.SYSTEM, Status.ENDED),  # temporary access ran out
    # A verified owner took the handle over: an unverified approval is void (issue 11).
    (Status.AUTHORIZED, "void"): (Role.SYSTEM, Status.REVOKED),
}
ALL_EVENTS = ("approve", "reject", "cancel", "withdraw", "expire", "unlink", "revoke", "end",
              "void")
COMBINATIONS = [(s, e, r) for s in Status for e in ALL_EVENTS for r in Role]


def test_event_list_is_exactly_the_documented_one() -> None:
    assert set(EVENTS) == set(ALL_EVENTS)


@pytest.mark.parametrize(("status", "event", "role"), COMBINATIONS)
def test_decide_for_every_status_event_and_role(status: Status, event: str, role: Role) -> None:
    """Each combination is allowed with the right move, or refused with the right reason."""
    rule = RULES.get((status, event))
    if rule is None:
        with pytest.raises(Refused) as info:
            decide(status.value, event, role, **DUE)
        assert info.value.reason == "not_open"
        assert info.value.status is status
    elif rule[0] is role:
        assert decide(status.value, event, role, **DUE) == Decision(event, status, rule[1])
    else:
        with pytest.raises(Refused) as info:
            decide(status.value, event, role, **DUE)
        assert info.value.reason == ("not_due" if event in ("expire", "end") else "not_allowed")
        assert info.value.status is status


def test_decision_names_the_status_it_started_from_for_the_conditional_write() -> None:
    d = decide("pending", "approve", Role.OWNER)
    assert (d.event, d.from_, d.to) == ("approve", Status.PENDING, Status.AUTHORIZED)
    assert isinstance(d.from_, Status) and isinstance(d.to, Status)


@pytest.mark.parametrize("role", [Role.REQUESTER, Role.STRANGER, Role.SYSTEM])
@pytest.mark.parametrize("event", ["approve", "reject"])
def test_only_the_owner_approves_or_rejects(event: str, role: Role) -> None:
    """An advertiser cannot approve their own request, nor can anyone else but the owner."""
    with pytest.raises(Refused) as info:
        decide("pending", event, role)
    assert info.value.reason == "not_allowed"


@pytest.mark.parametrize("role", [Role.OWNER, Role.STRANGER, Role.SYSTEM])
def test_only_the_requester_cancels(role: Role) -> None:
    with pytest.raises(Refused) as info:
        decide("pending", "cancel", role)
    assert info.value.reason == "not_allowed"


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.PENDING])
@pytest.mark.parametrize(("event", "role"), [("approve", Role.OWNER), ("reject", Role.OWNER),
                                             ("cancel", Role.REQUESTER)])
def test_decided_request_cannot_be_decided_again(status: Status, event: str, role: Role) -> None:
    """A second tap on an old Approve/Reject/Cancel button is refused as no longer open."""
    with pytest.raises(Refused) as info:
        decide(status.value, event, role)
    assert info.value.reason == "not_open"
    assert info.value.status is status


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.AUTHORIZED])
@pytest.mark.parametrize(("event", "role"), [("unlink", Role.REQUESTER), ("revoke", Role.OWNER)])
def test_unlink_and_revoke_only_from_authorized(status: Status, event: str, role: Role) -> None:
    with pytest.raises(Refused) as info:
        decide(status.value, event, role)
    assert info.value.reason == "not_open"


def test_expire_when_due() -> None:
    d = decide("pending", "expire", Role.SYSTEM, now=NOW, expires_at=NOW - timedelta(days=1))
    assert d == Decision("expire", Status.PENDING, Status.EXPIRED)


def test_expire_exactly_at_expiry_time() -> None:
    d = decide("pending", "expire", Role.SYSTEM, now=NOW, expires_at=NOW)
    assert d.to is Status.EXPIRED


@pytest.mark.parametrize(("now", "expires_at"), [
    (NOW, NOW + timedelta(microseconds=1)),
    (NOW, NOW + timedelta(days=6)),
    (None, NOW),
    (NOW, None),
    (None, None),
])
def test_expire_before_due_or_without_times_is_not_due(now: datetime | None,
                                                       expires_at: datetime | None) -> None:
    with pytest.raises(Refused) as info:
        decide("pending", "expire", Role.SYSTEM, now=now, expires_at=expires_at)
    assert info.value.reason == "not_due"
    assert info.value.status is Status.PENDING


@pytest.mark.parametrize("role", [Role.OWNER, Role.REQUESTER, Role.STRANGER])
def test_only_the_system_expires_even_when_due(role: Role) -> None:
    with pytest.raises(Refused) as info:
        decide("pending", "expire", role, **DUE)
    assert info.value.reason == "not_due"


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.PENDING])
def test_expire_of_a_request_no_longer_pending_is_not_open(status: Status) -> None:
    """An authorized request never expires: the sweep's stale row read cannot end it."""
    with pytest.raises(Refused) as info:
        decide(status.value, "expire", Role.SYSTEM, **DUE)
    assert info.value.reason == "not_open"


@pytest.mark.parametrize("event", ["delete", "", "to_authorized", "APPROVE", "trigger"])
def test_unknown_event_is_refused(event: str) -> None:
    with pytest.raises(Refused) as info:
        decide("pending", event, Role.OWNER)
    assert info.value.reason == "unknown_event"
    assert info.value.status is None


def test_refusal_leaves_no_state_behind_for_the_next_decision() -> None:
    """Decisions share pooled models; a refused one must not affect the next one."""
    with pytest.raises(Refused):
        decide("rejected", "approve", Role.OWNER)
    assert decide("pending", "approve", Role.OWNER).to is Status.AUTHORIZED
    with pytest.raises(Refused):
        decide("pending", "expire", Role.SYSTEM, **DUE | {"expires_at": NOW + timedelta(1)})
    assert decide("pending", "expire", Role.SYSTEM, **DUE).to is Status.EXPIRED
    assert len(request_flow._POOL) <= 2


def test_open_statuses_are_pending_and_authorized() -> None:
    assert {Status.PENDING, Status.AUTHORIZED} == OPEN_STATUSES


def test_expiry_is_creation_plus_lifetime() -> None:
    assert expiry_for(NOW, timedelta(days=7)) == NOW + timedelta(days=7)


# --- role_of ---------------------------------------------------------------------------------


def test_requester_is_requester() -> None:
    assert role_of(1, requester_id=1, owner_id=2) is Role.REQUESTER


@pytest.mark.parametrize("owner_id", [None, 1, 2])
def test_requester_is_never_owner_even_holding_the_link(owner_id: int | None) -> None:
    """An advertiser who opens their own approval link cannot approve their own request."""
    assert role_of(1, requester_id=1, owner_id=owner_id, holds_link=True) is Role.REQUESTER


@pytest.mark.parametrize("holds_link", [False, True])
def test_claimed_owner_is_owner(holds_link: bool) -> None:
    assert role_of(2, requester_id=1, owner_id=2, holds_link=holds_link) is Role.OWNER


def test_link_holder_is_owner_when_no_owner_is_set() -> None:
    assert role_of(3, requester_id=1, owner_id=None, holds_link=True) is Role.OWNER


def test_link_holder_is_stranger_when_someone_else_owns_the_handle() -> None:
    """A forwarded approval link does not override the claimed owner."""
    assert role_of(3, requester_id=1, owner_id=2, holds_link=True) is Role.STRANGER


@pytest.mark.parametrize("owner_id", [None, 2])
def test_stranger_without_link_is_stranger(owner_id: int | None) -> None:
    assert role_of(3, requester_id=1, owner_id=owner_id) is Role.STRANGER


# --- keys and tokens -------------------------------------------------------------------------

URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")
START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def test_request_key_is_url_safe_and_fits_its_column_and_callback_data() -> None:
    for _ in range(200):
        key = new_request_key()
        assert URLSAFE.match(key)
        assert len(key) <= 16  # link_requests.key is String(16)
        # Request buttons carry "r:<key>:<action>"; Telegram allows 64 bytes of callback data.
        assert len(f"r:{key}:a".encode()) <= 64


def test_approval_token_is_a_valid_start_parameter() -> None:
    for _ in range(200):
        token = new_approval_token()
        assert START_PARAMETER.match(token), token


def test_approval_token_is_long_enough_to_be_unguessable() -> None:
    assert len(new_approval_token()) >= 32  # >= 192 bits of randomness


def test_keys_and_tokens_are_unique_over_many_draws() -> None:
    keys = {new_request_key() for _ in range(20_000)}
    tokens = {new_approval_token() for _ in range(20_000)}
    assert len(keys) == 20_000
    assert len(tokens) == 20_000


# --- judge: the rules as a person meets them -----------------------------------------------------

REQUESTER, OWNER, STRANGER = 1, 2, 3
LATER = NOW + timedelta(days=7)


def judged(status: str, event: str, actor: int, *, owner_id: int | None = OWNER,
           holds_link: bool = False, now: datetime = NOW) -> tuple[str, str | None]:
    """(outcome, detail): ("ok", new status) or ("refused", reason)."""
    try:
        decision, _ = request_flow.judge(status, event, actor, requester_id=REQUESTER,
                                         owner_id=owner_id, holds_link=holds_link, now=now,
                                         expires_at=LATER)
    except Refused as refused:
        return "refused", refused.reason
    return "ok", decision.to


def test_judge_lets_the_claimed_owner_decide() -> None:
    assert judged("pending", "approve", OWNER) == ("ok", "authorized")
    assert judged("pending", "reject", OWNER) == ("ok", "rejected")


def test_judge_tells_the_requester_they_cannot_approve_their_own_request() -> None:
    assert judged("pending", "approve", REQUESTER) == ("refused", "own_request")
    assert judged("pending", "reject", REQUESTER, owner_id=None, holds_link=True) == (
        "refused", "own_request")


def test_judge_tells_a_link_holder_when_someone_else_owns_the_handle() -> None:
    assert judged("pending", "approve", STRANGER, holds_link=True) == (
        "refused", "claimed_by_other")
    assert judged("pending", "approve", STRANGER, owner_id=None, holds_link=True) == (
        "ok", "authorized")


def test_judge_refuses_strangers_without_the_link() -> None:
    assert judged("pending", "approve", STRANGER, owner_id=None) == ("refused", "not_allowed")


def test_judge_says_already_for_decided_requests_to_the_two_sides_only() -> None:
    for actor in (REQUESTER, OWNER):
        assert judged("authorized", "approve", actor) == ("refused", "already")
    assert judged("rejected", "unlink", REQUESTER) == ("refused", "already")


def test_a_stranger_learns_nothing_about_a_request() -> None:
    for status in ("pending", "authorized", "rejected", "expired"):
        for event in ("approve", "reject", "revoke", "cancel"):
            assert judged(status, event, STRANGER) == ("refused", "not_allowed")


def test_judge_treats_a_due_request_as_expired_before_the_sweep() -> None:
    assert judged("pending", "approve", OWNER, now=LATER) == ("refused", "already")
    with pytest.raises(Refused) as refused:
        request_flow.judge("pending", "approve", OWNER, requester_id=REQUESTER,
                           owner_id=OWNER, holds_link=False, now=LATER, expires_at=LATER)
    assert refused.value.status == Status.EXPIRED
