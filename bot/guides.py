"""What each side is told to do on the platform itself, per platform's guide (`Platform.guide`):
TikTok's Business Center steps, or Meta Business Suite's partner access.

Linkpilot records consent and changes nothing on the platforms, so every decision comes with
the steps that make it real there. Adding a platform that works like an existing one names
that guide; a new way of linking adds one `Guide` here, and no branch anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot import texts
from flows.platforms import account, get_platform
from flows.records import RequestRow


def _shown(request: RequestRow) -> str:
    """The request's account as its platform writes it (texts take it so)."""
    return account(request.platform, request.handle)


# Texts about a request for its advertiser: (request) -> text.
ForAdvertiser = Callable[[RequestRow], str]
# Texts about a request for its owner, naming the advertiser: (request, requester) -> text.
ForOwner = Callable[[RequestRow, str], str]


@dataclass(frozen=True, slots=True)
class Guide:
    """The texts that differ by how a platform grants and removes access."""

    approved_for_advertiser: ForAdvertiser
    approved_for_owner: ForOwner
    revoked_for_advertiser: ForAdvertiser
    revoked_for_owner: ForOwner
    unlinked_for_advertiser: ForAdvertiser
    unlinked_for_owner: ForOwner
    access_ended_for_advertiser: ForAdvertiser
    access_ended_for_owner: ForOwner
    allowing: ForAdvertiser
    confirm_unlink: ForAdvertiser
    confirm_revoke: ForOwner
    own_handle: Callable[[str], str]  # (handle) -> text


TIKTOK = Guide(
    approved_for_advertiser=lambda r: texts.approved_for_advertiser(_shown(r), r.ad_account),
    approved_for_owner=lambda r, who: texts.approved_for_owner(who, _shown(r)),
    revoked_for_advertiser=lambda r: texts.revoked_for_advertiser(_shown(r), r.ad_account),
    revoked_for_owner=lambda r, who: texts.revoked_for_owner(who, _shown(r)),
    unlinked_for_advertiser=lambda r: texts.unlinked_for_advertiser(_shown(r)),
    unlinked_for_owner=lambda r, who: texts.unlinked_for_owner(who, _shown(r)),
    access_ended_for_advertiser=lambda r: texts.access_ended_for_advertiser(_shown(r),
                                                                            r.access_days),
    access_ended_for_owner=lambda r, who: texts.expired_for_owner(who, _shown(r)),
    allowing=lambda r: texts.allowing(_shown(r), r.scopes, r.visibility),
    confirm_unlink=lambda r: texts.confirm_unlink(_shown(r), r.ad_account),
    confirm_revoke=lambda r, who: texts.confirm_revoke(_shown(r), who, r.ad_account),
    own_handle=texts.own_handle,
)

META = Guide(
    approved_for_advertiser=lambda r: texts.meta_approved_for_advertiser(
        r.platform, r.handle, r.ad_account, r.business_id or "?", r.scopes, r.access_days),
    approved_for_owner=lambda r, who: texts.meta_approved_for_owner(
        who, r.platform, r.handle, r.business_id or "?", r.scopes, r.access_days),
    revoked_for_advertiser=lambda r: texts.meta_revoked_for_advertiser(_shown(r), r.ad_account),
    revoked_for_owner=lambda r, who: texts.meta_revoked_for_owner(who, _shown(r),
                                                                  r.business_id),
    unlinked_for_advertiser=lambda r: texts.meta_unlinked_for_advertiser(_shown(r)),
    unlinked_for_owner=lambda r, who: texts.meta_unlinked_for_owner(who, _shown(r),
                                                                    r.business_id),
    access_ended_for_advertiser=lambda r: texts.access_ended_for_advertiser(_shown(r),
                                                                            r.access_days),
    access_ended_for_owner=lambda r, who: texts.access_ended_for_owner(
        who, _shown(r), r.access_days, r.business_id),
    allowing=lambda r: texts.meta_allowing(_shown(r), r.scopes, r.access_days),
    confirm_unlink=lambda r: texts.meta_confirm_unlink(_shown(r), r.ad_account),
    confirm_revoke=lambda r, who: texts.meta_confirm_revoke(_shown(r), who, r.ad_account),
    own_handle=texts.meta_own_handle,
)

GUIDES = {"tiktok": TIKTOK, "meta": META}


def of(request: RequestRow) -> Guide:
    """The guide of the request's platform."""
    return of_platform(request.platform)


def of_platform(platform_id: str) -> Guide:
    """The guide of a platform, by its id."""
    return GUIDES[get_platform(platform_id).guide]
