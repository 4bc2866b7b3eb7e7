"""Inline keyboards and their callback data: short opaque keys, never user data.

Callback data forms (all well under Telegram's 64 bytes):
  f:<version>:<action>[:<arg>]   a link-flow answer, valid only while the conversation has that
                                  version, so an old message's buttons stop working once answered
  r:<request key>:<a|r|c|u|v|l|q>  an action on a request (approve, reject, cancel, unlink,
                                  revoke, new approval link, new approval link as a QR code)
  t:<approval token>:<a|r>       approve or reject through a one-time approval link
  x:<request key>                skip the rejection reason
  q:<entry id> / c:<category> / m  FAQ answer, category, menu
  s:<log id>:<entry id> / n:<log id>  a suggestion chosen, or "none of these"
  d:yes / d:no                   /deleteme confirmed, or not
  b:<advertiser user id>         /owned: unblock an advertiser the owner blocked
  sp:<action>:...                Spark Ads codes, each with the code's version (see below)
  g:<ad account id>:<version>:...  a team's buttons, with the team's version (see below)
  v:<platform>:<handle key>      "Verify" under a claim (issue 11). The handle key is public
                                  (the account's own name, at most 50 ASCII characters, so at
                                  most 61 bytes) and grants nothing: the press starts a login
                                  only if the presser holds that claim unverified right now. A
                                  button from before a release or a takeover says so and changes
                                  nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from flows.link_flow import Position, S, editable_fields
from flows.platforms import available_platforms, get_platform

Button = InlineKeyboardButton


@lru_cache(maxsize=1024)
def _flow_button(text: str, callback_data: str) -> InlineKeyboardButton:
    """A link-flow button. PTB's buttons are immutable, and building one (its attribute
    machinery) cost more than the rest of the keyboard; everyone at the same step of the flow
    is shown the same (text, data) pairs, so they come from a small cache (~0.5 KB each)."""
    return InlineKeyboardButton(text, callback_data=callback_data)


@dataclass(frozen=True, slots=True)
class FlowPress:
    """A decoded link-flow button."""

    version: int
    action: str
    arg: str | None


def flow_data(version: int, action: str, arg: str | None = None) -> str:
    return f"f:{version}:{action}" + (f":{arg}" if arg is not None else "")


def parse_flow(data: str) -> FlowPress | None:
    """Decode `f:` callback data; None for anything malformed (a forged press)."""
    parts = data.split(":", 3)
    if len(parts) < 3 or parts[0] != "f" or not parts[1].isdigit():
        return None
    return FlowPress(int(parts[1]), parts[2], parts[3] if len(parts) == 4 else None)


def parse_pair(data: str, prefix: str) -> tuple[str, str] | None:
    """Decode `<prefix>:<a>:<b>` callback data; None when malformed."""
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] != prefix or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def flow_keyboard(position: Position, version: int, *, explained: bool = False
                  ) -> InlineKeyboardMarkup | None:
    """The buttons that answer the conversation's current question."""
    state, v = position.state, version
    if state == S.PLATFORM:
        return InlineKeyboardMarkup([[
            _flow_button(texts.PLATFORM_NAMES[p.id], callback_data=flow_data(v, "p", p.id))
            for p in available_platforms()
        ]])
    if state == S.PREREQUISITE:
        row = [_flow_button(texts.YES, callback_data=flow_data(v, "y")),
               _flow_button(texts.NO, callback_data=flow_data(v, "n"))]
        if not explained:
            row.append(_flow_button(texts.WHATS_THIS, callback_data=flow_data(v, "w")))
        return InlineKeyboardMarkup([row, _back_row(position, v)])
    if state == S.PREREQUISITE_RECAP:
        return InlineKeyboardMarkup([[
            _flow_button(texts.STILL_TRUE, callback_data=flow_data(v, "t")),
            _flow_button(texts.REVIEW, callback_data=flow_data(v, "r")),
        ], _back_row(position, v)])
    if state == S.PREREQUISITE_FIX:
        return InlineKeyboardMarkup([[
            _flow_button(texts.DONE_CONTINUE, callback_data=flow_data(v, "d")),
            _flow_button(texts.LATER, callback_data=flow_data(v, "l")),
        ], _back_row(position, v)])
    if state == S.PERMISSIONS:
        platform = get_platform(position.data["platform"])
        rows = [[_flow_button(
            ("☑ " if s in position.data["scopes"] else "☐ ") + texts.SCOPE_NAMES[s],
            callback_data=flow_data(v, "s", s))] for s in platform.scopes]
        rows.append([_flow_button(texts.CONTINUE, callback_data=flow_data(v, "ok"))])
        rows.append(_back_row(position, v))
        return InlineKeyboardMarkup(rows)
    if state == S.VISIBILITY:
        platform = get_platform(position.data["platform"])
        return InlineKeyboardMarkup([[
            _flow_button(texts.VISIBILITY_NAMES[o], callback_data=flow_data(v, "v", o))
            for o in platform.visibility_options
        ], _back_row(position, v)])
    if state == S.DURATION:
        platform = get_platform(position.data["platform"])
        return InlineKeyboardMarkup([
            [_flow_button(texts.UNTIL_REMOVED, callback_data=flow_data(v, "dd", "0"))],
            [_flow_button(texts.days_label(days), callback_data=flow_data(v, "dd", str(days)))
             for days in platform.duration_choices],
            _back_row(position, v)])
    if state == S.SUMMARY:
        return InlineKeyboardMarkup([
            [_flow_button(texts.SEND, callback_data=flow_data(v, "send"))],
            [_flow_button(texts.EDIT, callback_data=flow_data(v, "edit")),
             _flow_button(texts.CANCEL, callback_data=flow_data(v, "x"))],
        ])
    if state == S.EDIT_CHOICE:
        return InlineKeyboardMarkup([
            [_flow_button(texts.EDIT_FIELDS[field], callback_data=flow_data(v, "e", field))
             for field in editable_fields(position.data["platform"])],
            _back_row(position, v),
        ])
    return None


def _back_row(position: Position, version: int) -> list[InlineKeyboardButton]:
    return [_flow_button(texts.BACK, callback_data=flow_data(version, "b"))] \
        if position.can_go_back else []


def owner_card(key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        Button(texts.APPROVE, callback_data=f"r:{key}:a"),
        Button(texts.REJECT, callback_data=f"r:{key}:r"),
    ], [Button(texts.WHAT_AM_I_ALLOWING, callback_data=f"r:{key}:w")],
        [Button(texts.BLOCK, callback_data=f"r:{key}:b")]])


def link_card(token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        Button(texts.APPROVE, callback_data=f"t:{token}:a"),
        Button(texts.REJECT, callback_data=f"t:{token}:r"),
    ], [Button(texts.WHAT_AM_I_ALLOWING, callback_data=f"t:{token}:w")]])


def send_as_qr(key: str) -> InlineKeyboardMarkup:
    """Under an approval link: the same approval as a QR code image (a new link)."""
    return InlineKeyboardMarkup([[Button(texts.SEND_AS_QR, callback_data=f"r:{key}:q")]])


def skip_reason(key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[Button(texts.SKIP, callback_data=f"x:{key}")]])


def confirm_block(key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[Button(texts.YES_BLOCK, callback_data=f"r:{key}:b!"),
                                  Button(texts.NO_BLOCK, callback_data=f"r:{key}:bx")]])


def request_action(label: str, handle: str, key: str, action: str, ad_account: str = ""
                   ) -> InlineKeyboardButton:
    return Button(texts.button_for(label, handle, ad_account), callback_data=f"r:{key}:{action}")


def confirm(key: str, action: str, yes: str) -> InlineKeyboardMarkup:
    """Yes (do `action!`) or keep (redraw the list) for a destructive action."""
    return InlineKeyboardMarkup([[Button(yes, callback_data=f"r:{key}:{action}!"),
                                  Button(texts.KEEP, callback_data=f"r:{key}:k")]])


def confirm_erase() -> InlineKeyboardMarkup:
    """/deleteme's question: erase, or keep everything."""
    return InlineKeyboardMarkup([[Button(texts.YES_DELETE, callback_data="d:yes"),
                                  Button(texts.NO_DELETE, callback_data="d:no")]])


def faq_menu(categories: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[Button(title, callback_data=f"c:{cat}")]
                                 for cat, title in categories])


def faq_topics(topics: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    rows = [[Button(title, callback_data=f"q:{entry_id}")] for entry_id, title in topics]
    rows.append([Button(texts.FAQ_TOPICS, callback_data="m")])
    return InlineKeyboardMarkup(rows)


def faq_suggestions(log_id: int, topics: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    rows = [[Button(title, callback_data=f"s:{log_id}:{entry_id}")] for entry_id, title in topics]
    rows.append([Button(texts.FAQ_NONE_OF_THESE, callback_data=f"n:{log_id}")])
    return InlineKeyboardMarkup(rows)


# --- Spark Ads authorization codes (issue 10) ----------------------------------------------------
# Callback data: sp:v:<draft version>:<days>  a validity for the video waiting in /code
#                sp:e:<code key>:<version>    Extend: show the periods
#                sp:x:<code key>:<version>:<days>  extend by that period
#                sp:d:<code key>:<version>    Delete: ask first
#                sp:D:<code key>:<version>    delete, confirmed
#                sp:k:<code key>:<version>    keep (redraw the list)
# A code's version goes up with every change, so buttons drawn for an older state stop working.

@dataclass(frozen=True, slots=True)
class SparkPress:
    action: str
    key: str
    version: int
    days: int | None


def parse_spark(data: str) -> SparkPress | None:
    """Decode `sp:` callback data; None for anything malformed (a forged press)."""
    parts = data.split(":")
    if len(parts) < 4 or parts[0] != "sp" or not all(p.isdigit() for p in parts[3:]):
        return None
    action = parts[1]
    if action == "v" and len(parts) == 4 and parts[2].isdigit():
        return SparkPress("v", "", int(parts[2]), int(parts[3]))
    if action == "x" and len(parts) == 5:
        return SparkPress("x", parts[2], int(parts[3]), int(parts[4]))
    if action in ("e", "d", "D", "k") and len(parts) == 4:
        return SparkPress(action, parts[2], int(parts[3]), None)
    return None


def _in_two_rows(days: tuple[int, ...], data: str) -> list[list[InlineKeyboardButton]]:
    buttons = [Button(texts.validity_label(d), callback_data=data.format(days=d)) for d in days]
    return [buttons[:2], buttons[2:]]


def validity_choices(version: int, days: tuple[int, ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(_in_two_rows(days, f"sp:v:{version}:{{days}}"))


def extend_choices(key: str, version: int, days: tuple[int, ...]) -> InlineKeyboardMarkup:
    rows = _in_two_rows(days, f"sp:x:{key}:{version}:{{days}}")
    rows.append([Button(texts.KEEP, callback_data=f"sp:k:{key}:{version}")])
    return InlineKeyboardMarkup(rows)


def code_actions(number: int, key: str, version: int) -> list[InlineKeyboardButton]:
    return [Button(f"{texts.EXTEND} {number}", callback_data=f"sp:e:{key}:{version}"),
            Button(f"{texts.DELETE_CODE} {number}", callback_data=f"sp:d:{key}:{version}")]


def confirm_delete_code(key: str, version: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        Button(texts.YES_DELETE_CODE, callback_data=f"sp:D:{key}:{version}"),
        Button(texts.KEEP, callback_data=f"sp:k:{key}:{version}"),
    ]])
# --- teams (issue 10) ----------------------------------------------------------------------------
# g:<ad account id>:<team version>:<action>[:<member id>[:<role>]]  a team's buttons, valid only
# while the team has that version (o: show it, i: invite with a role, m: a member, s: set a
# member's role, x: remove a member or leave, l: the list of teams)

def team_data(ad_account_id: int, version: int, action: str, *args: object) -> str:
    return ":".join(["g", str(ad_account_id), str(version), action, *map(str, args)])


@dataclass(frozen=True, slots=True)
class TeamPress:
    """A decoded team button."""

    ad_account_id: int
    version: int
    action: str
    args: tuple[str, ...]


def parse_team(data: str) -> TeamPress | None:
    """Decode `g:` callback data; None for anything malformed (a forged press)."""
    parts = data.split(":")
    if len(parts) < 4 or parts[0] != "g" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return TeamPress(int(parts[1]), int(parts[2]), parts[3], tuple(parts[4:]))


def teams_list(teams: list[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    """One button per team (id, name)."""
    if not teams:
        return None
    return InlineKeyboardMarkup([[Button(name[:60], callback_data=team_data(aid, 0, "o"))]
                                 for aid, name in teams])


def team_view(ad_account_id: int, version: int, my_id: int, is_admin: bool,
              members: list[tuple[int, str, str]]) -> InlineKeyboardMarkup:
    """A team's buttons: for an admin, each member and an invite per role; for everyone,
    leaving and the way back to the list."""
    v, rows = version, []
    if is_admin:
        rows += [[Button(texts.member_button(name, role),
                         callback_data=team_data(ad_account_id, v, "m", user_id))]
                 for user_id, name, role in members]
        rows.append([Button(texts.invite_button(role),
                            callback_data=team_data(ad_account_id, v, "i", role))
                     for role in texts.ROLE_NAMES])
    rows.append([Button(texts.LEAVE_TEAM, callback_data=team_data(ad_account_id, v, "x", my_id)),
                 Button(texts.ALL_TEAMS, callback_data=team_data(0, 0, "l"))])
    return InlineKeyboardMarkup(rows)


def member_view(ad_account_id: int, version: int, member_id: int, role: str,
                me: bool) -> InlineKeyboardMarkup:
    """An admin's choices for one member: another role, removal, or back."""
    v = version
    return InlineKeyboardMarkup([
        [Button(texts.make_role_button(r), callback_data=team_data(ad_account_id, v, "s",
                                                                   member_id, r))
         for r in texts.ROLE_NAMES if r != role],
        [Button(texts.LEAVE_TEAM if me else texts.REMOVE_MEMBER,
                callback_data=team_data(ad_account_id, v, "x", member_id)),
         Button(texts.BACK_TO_TEAM, callback_data=team_data(ad_account_id, v, "o"))],
    ])


# --- trust (issue 11): the Verify button under a claim ----------------------------------------

VERIFY_PREFIX = "v"


def verify_data(platform_id: str, handle_key: str) -> str:
    return f"{VERIFY_PREFIX}:{platform_id}:{handle_key}"


def parse_verify(data: str) -> tuple[str, str] | None:
    """Decode `v:` callback data: (platform, handle key); None when malformed or for a
    platform this bot doesn't know (a forged press)."""
    pair = parse_pair(data, VERIFY_PREFIX)
    if pair is None or pair[0] not in texts.PLATFORM_NAMES:
        return None
    return pair


# Button fields that are plain values; a button with any other field set (a web app, a login
# URL, a game...) is serialised by PTB itself.
_PLAIN_BUTTON_FIELDS = ("text", "callback_data", "url", "switch_inline_query",
                        "switch_inline_query_current_chat")
_OTHER_BUTTON_FIELDS = tuple(name for name in InlineKeyboardButton.__slots__
                             if name not in _PLAIN_BUTTON_FIELDS)


def markup_json(markup: InlineKeyboardMarkup | None) -> dict[str, object] | None:
    """A keyboard as the Bot API takes it (what `markup.to_dict()` gives), as stored in the
    outbox. Every update owes one; PTB's generic `to_dict` walks each button's attributes
    through its machinery, which cost more than the rest of the handler's rendering."""
    if markup is None:
        return None
    return {"inline_keyboard": [[_button_json(button) for button in row]
                                for row in markup.inline_keyboard]}


def _button_json(button: InlineKeyboardButton) -> dict[str, object]:
    if button.api_kwargs or any(getattr(button, name) is not None
                                for name in _OTHER_BUTTON_FIELDS):
        return button.to_dict()
    return {name: value for name in _PLAIN_BUTTON_FIELDS
            if (value := getattr(button, name)) is not None}
