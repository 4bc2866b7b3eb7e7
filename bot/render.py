"""Turn flow positions and request rows into message texts (and their keyboards)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot import keyboards, texts
from flows import teams
from flows.link_flow import Position, S
from flows.platforms import account, get_platform
from storage.repositories import ClaimRow, RequestRow, UserRow


@dataclass(frozen=True, slots=True)
class Reply:
    """A message to send: HTML text and an optional inline keyboard; with `photo` (image
    bytes), a photo whose caption is the text."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    photo: bytes | None = None


def question(position: Position, version: int, *, explained: bool = False) -> Reply:
    """The current question of a link conversation, with the buttons that answer it."""
    data, state = position.data, position.state
    text: str
    if state == S.PREREQUISITE_RECAP:
        known = teams.ROLE_PREREQUISITES if teams.role_note(position) else frozenset()
        checks = [texts.PREREQUISITES[data["platform"]][p][3]
                  for p in get_platform(data["platform"]).prerequisites
                  if p not in known]  # teams (issue 10): a role known is said, not asked
        text = texts.prerequisite_recap(data["platform"], checks)
    elif state == S.PLATFORM:
        text = texts.PLATFORM_QUESTION
    elif state in (S.PREREQUISITE, S.PREREQUISITE_FIX):
        asked, meaning, fix, _ = \
            texts.PREREQUISITES[data["platform"]][position.prerequisite or ""]
        total = len(get_platform(data["platform"]).prerequisites)
        head = texts.prerequisite_head(data.get("prereq", 0) + 1, total)
        if state == S.PREREQUISITE:
            text = head + asked + (f"\n\n<i>{meaning}</i>" if explained else "")
        else:
            text = head + texts.prerequisite_fix(fix)
    elif state == S.AD_ACCOUNT:
        text = texts.AD_ACCOUNT_QUESTION + _now(data, "ad_account")
    elif state == S.HANDLE:
        text = texts.handle_question(data["platform"]) + _now_account(data)
    elif state == S.PERMISSIONS:
        text = texts.PERMISSIONS_QUESTIONS.get(data["platform"], texts.PERMISSIONS_QUESTION)
    elif state == S.BUSINESS_ID:
        text = texts.BUSINESS_ID_QUESTION + _now(data, "business_id")
    elif state == S.DURATION:
        span = get_platform(data["platform"]).temporary_days or (0, 0)
        text = texts.duration_question(*span)
    elif state == S.VISIBILITY:
        text = texts.VISIBILITY_QUESTION
    elif state == S.SUMMARY:
        text = texts.summary(data["platform"], data["ad_account"], data["handle"],
                             data["scopes"], data.get("visibility"), data.get("business_id"),
                             data.get("access_days"))
    elif state == S.EDIT_CHOICE:
        text = texts.EDIT_QUESTION
    else:
        return Reply(texts.NO_FLOW)
    head = texts.step_head(STEP_NUMBERS[S(state)], TOTAL_STEPS, texts.STEP_TITLES[state])
    head = texts.role_known(teams.role_note(position)) + head  # teams (issue 10)
    return Reply(head + text, keyboards.flow_keyboard(position, version, explained=explained))


def _now_account(data: dict[str, str]) -> str:
    """While editing the account, show the one being replaced as its platform writes it."""
    if not (data.get("editing") and data.get("handle")):
        return ""
    return texts.current_value(account(data["platform"], data["handle"]))


def _now(data: dict[str, object], field: str, prefix: str = "") -> str:
    """While editing, show the value being replaced."""
    value = data.get(field)
    return texts.current_value(f"{prefix}{value}") if data.get("editing") and value else ""


# The step number /status reports for each state (visibility belongs to the permissions step).
STEP_NUMBERS = {
    S.PLATFORM: 1, S.PREREQUISITE: 2, S.PREREQUISITE_FIX: 2, S.PREREQUISITE_RECAP: 2,
    S.AD_ACCOUNT: 3, S.HANDLE: 4, S.PERMISSIONS: 5, S.VISIBILITY: 5, S.SUMMARY: 6,
    S.EDIT_CHOICE: 6,
}
# Meta partner access: the Business ID goes with the ad account, the length with permissions.
STEP_NUMBERS.update({S.BUSINESS_ID: 3, S.DURATION: 5})
TOTAL_STEPS = max(STEP_NUMBERS.values())


def status(position: Position | None, pending: int, authorized: int) -> str:
    """What /status says: the step in progress and what is filled in, and the request counts."""
    lines = []
    if position is None or position.finished:
        lines.append(texts.NO_FLOW)
    else:
        lines.append(texts.status_line(STEP_NUMBERS[S(position.state)], TOTAL_STEPS,
                                       texts.STEP_TITLES[position.state]))
        data = position.data
        if data.get("ad_account"):
            lines.append(texts.status_value("ad_account", data["ad_account"]))
        if data.get("handle"):
            lines.append(texts.status_value("handle", account(data["platform"], data["handle"])))
        if data.get("business_id"):
            lines.append(texts.status_value("business_id", data["business_id"]))
    lines.append(texts.requests_line(pending, authorized))
    return "\n".join(lines)


def person(user: UserRow | None) -> str:
    """How a user is named to the other side (plain text; texts escape it)."""
    if user is None:
        return texts.SOMEONE
    if user.deleted:
        return texts.DELETED_USER
    return f"{user.first_name} (@{user.username})" if user.username else user.first_name


def owner_card(request: RequestRow, requester: UserRow | None) -> str:
    return texts.owner_card(person(requester), request.platform, request.handle,
                            request.ad_account, request.scopes, request.visibility,
                            request.expires_at, request.business_id, request.access_days)


def closed_card(request: RequestRow, requester: UserRow | None) -> str:
    """The owner's card once decided: same text, an outcome line, no buttons."""
    return texts.card_outcome(owner_card(request, requester), request.status,
                              request.decided_at or request.expires_at)


def accounts(requests: list[RequestRow], read_only: frozenset[str] = frozenset(),
             team: Sequence[tuple[RequestRow, UserRow | None, bool]] = ()) -> Reply:
    """/accounts: the advertiser's requests, with a button for each thing they can do (none
    on those their team role no longer allows, by key), then their teams' other requests
    (with Cancel or Unlink where their role allows it)."""
    if not requests and not team:
        return Reply(texts.ACCOUNTS_EMPTY)
    lines = [texts.ACCOUNTS_TITLE] if requests else []
    rows = []
    for r in requests:
        shown = account(r.platform, r.handle)
        lines.append(texts.request_line(r.handle, r.ad_account, r.status, r.platform)
                     + texts.decided_by_note(r.status, r.strength)  # issue 11
                     + (texts.access_until(r.access_ends_at) if r.status == "authorized" else ""))
        if r.key in read_only:
            lines.append(texts.READ_ONLY_NOTE)
        elif r.status == "pending":
            rows.append([keyboards.request_action(texts.CANCEL_REQUEST, shown, r.key, "c",
                                                  r.ad_account),
                         keyboards.request_action(texts.APPROVAL_LINK, shown, r.key, "l"),
                         keyboards.request_action(texts.QR_CODE, shown, r.key, "q")])
        elif r.status == "authorized":
            rows.append([keyboards.request_action(texts.UNLINK, shown, r.key, "u",
                                                  r.ad_account)])
    if team:  # teams (issue 10)
        lines += ["", texts.TEAM_REQUESTS_TITLE] if lines else [texts.TEAM_REQUESTS_TITLE]
    for r, u, may_act in team:
        shown = account(r.platform, r.handle)
        lines.append(texts.team_request_line(r.handle, r.ad_account, r.status, r.platform,
                                             person(u))
                     + texts.decided_by_note(r.status, r.strength,
                                             after_status=False))  # issue 11
        whose = f"{r.ad_account}, {u.first_name if u and not u.deleted else '?'}"
        if may_act and r.status == "pending":
            rows.append([keyboards.request_action(texts.CANCEL_REQUEST, shown, r.key, "c",
                                                  whose)])
        elif may_act and r.status == "authorized":
            rows.append([keyboards.request_action(texts.UNLINK, shown, r.key, "u", whose)])
    return Reply("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def owned(claims: list[ClaimRow], grants: list[tuple[RequestRow, UserRow | None]],
          pending: list[tuple[RequestRow, UserRow | None]],
          blocked: Sequence[tuple[int, UserRow | None]] = ()) -> Reply:
    """/owned: the owner's handles, who may use each, a Revoke button per grant, and the
    advertisers they blocked, each with Unblock."""
    from bot.trust_notices import claim_strength  # (issue 11) it renders with this module

    if not claims and not grants and not pending and not blocked:
        return Reply(texts.OWNED_EMPTY)
    shown: dict[tuple[str, str], str] = {(c.platform, c.handle_key): c.handle for c in claims}
    for r, _ in (*grants, *pending):
        shown.setdefault((r.platform, r.handle_key), r.handle)
    lines = [texts.OWNED_TITLE]
    rows = []
    for (platform, key), handle in shown.items():
        lines.append(texts.owned_line(handle, platform)
                     + claim_strength(claims, platform, key))
        mine = [(r, u) for r, u in grants if (r.platform, r.handle_key) == (platform, key)]
        waiting = [(r, u) for r, u in pending if (r.platform, r.handle_key) == (platform, key)]
        for r, u in mine:
            lines.append(texts.grant_line(person(u), r.ad_account)
                         + texts.access_until(r.access_ends_at)
                         + texts.grant_strength(r.strength))  # issue 11
            label = f"{account(platform, handle)} ({person(u)}, {r.ad_account})"[:48]
            rows.append([keyboards.request_action(texts.REVOKE, label, r.key, "v")])
        for r, u in waiting:
            # Decidable from here too: a card that never arrived is no dead end.
            lines.append(texts.pending_line(person(u), account(platform, handle)))
            who = person(u)[:24]
            rows.append([keyboards.Button(f"{texts.APPROVE} {who}", callback_data=f"r:{r.key}:a"),
                         keyboards.Button(texts.REJECT, callback_data=f"r:{r.key}:r")])
        if not mine and not waiting:
            lines.append(texts.NO_GRANTS)
    for advertiser_id, u in blocked:
        lines.append(texts.blocked_line(person(u)))
        rows.append([keyboards.Button(f"{texts.UNBLOCK} {person(u)}"[:48],
                                      callback_data=f"b:{advertiser_id}")])
    return Reply("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)
