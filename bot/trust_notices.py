"""Rendering for trust (issue 11): the decider's strength under an advertiser's decision
message, void approvals, and a claim's strength in /owned."""

from __future__ import annotations

from typing import Any

from bot import texts
from bot.render import Reply
from flows.platforms import account
from flows.records import ClaimRow, RequestRow

KINDS = frozenset({"void_for_advertiser", "void_for_approver", "own_handle_withdrawn"})


def render(kind: str, request: RequestRow) -> Reply:
    shown = account(request.platform, request.handle)
    if kind == "void_for_advertiser":
        return Reply(texts.void_for_advertiser(shown, request.ad_account))
    if kind == "own_handle_withdrawn":
        return Reply(texts.own_handle_withdrawn(shown, request.ad_account))
    return Reply(texts.void_for_approver(shown, request.ad_account))


def with_strength(text: str, handle: str, data: dict[str, Any]) -> str:
    """A decision told to the advertiser ends with how far the decider is known to own it."""
    strength = data.get("strength")
    return f"{text}\n\n{texts.decided_by(strength, handle)}" if strength else text


def claim_strength(claims: list[ClaimRow], platform: str, handle_key: str) -> str:
    """" ✅ verified" / " (unverified: /verify)" after a claimed handle in /owned."""
    for claim in claims:
        if (claim.platform, claim.handle_key) == (platform, handle_key):
            return texts.strength_mark(claim.strength)
    return ""
