"""The advertiser's guided link request: one shared `transitions` machine for every user.

The conversation's state name and a small JSON-able dict are stored by the caller; for each update
the caller hands them to `LinkFlow.fire`, which attaches a throw-away model to the shared machine,
fires one trigger and detaches it again. No callback here does I/O: the caller performs effects
(messages, the link request row) after reading the new state.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from transitions import EventData, Machine, MachineError

from flows.platforms import (
    available_platforms,
    get_platform,
    normalise_access_days,
    normalise_ad_account_name,
    normalise_business_id,
)


class S(StrEnum):
    """States of the link conversation. Stored by name: rename only with a mapping."""

    PLATFORM = "platform"
    PREREQUISITE = "prerequisite"
    PREREQUISITE_FIX = "prerequisite_fix"
    PREREQUISITE_RECAP = "prerequisite_recap"  # all confirmed before: still true?
    AD_ACCOUNT = "ad_account"
    HANDLE = "handle"
    PERMISSIONS = "permissions"
    VISIBILITY = "visibility"
    SUMMARY = "summary"
    EDIT_CHOICE = "edit_choice"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"
    # Meta partner access: the agency's Business ID, and how long the access lasts.
    BUSINESS_ID = "business_id"
    DURATION = "duration"


FINAL_STATES = frozenset({S.SUBMITTED, S.CANCELLED})
# States whose answer is typed text rather than a button press.
TEXT_STATES = frozenset({S.AD_ACCOUNT, S.HANDLE, S.BUSINESS_ID, S.DURATION})
EDITABLE_FIELDS = {"ad_account": S.AD_ACCOUNT, "handle": S.HANDLE, "permissions": S.PERMISSIONS,
                   "business_id": S.BUSINESS_ID}


class FlowError(Exception):
    """Base of the errors a caller turns into a reply; the state is unchanged when raised."""


class NotNow(FlowError):
    """The event does not apply to the current state (a stale button, a command out of place)."""


class NothingToUndo(FlowError):
    """`back` at the first question."""


class NoScopeChosen(FlowError):
    """The advertiser tried to continue without choosing any permission."""


class UnknownChoice(FlowError):
    """A button value that is not one of the offered options."""


_FORWARD: list[dict[str, Any]] = [
    {"trigger": "choose_platform", "source": S.PLATFORM, "dest": S.PREREQUISITE_RECAP,
     "conditions": ["platform_is_offered", "confirmed_before"],
     "before": ["remember", "set_platform"]},
    {"trigger": "choose_platform", "source": S.PLATFORM, "dest": S.PREREQUISITE,
     "conditions": "platform_is_offered", "before": ["remember", "set_platform"]},
    {"trigger": "all_still_true", "source": S.PREREQUISITE_RECAP, "dest": S.AD_ACCOUNT,
     "before": "remember"},
    {"trigger": "review", "source": S.PREREQUISITE_RECAP, "dest": S.PREREQUISITE,
     "before": "remember"},
    {"trigger": "answer_yes", "source": S.PREREQUISITE, "dest": S.PREREQUISITE,
     "conditions": "more_prerequisites", "before": ["remember", "next_prerequisite"]},
    {"trigger": "answer_yes", "source": S.PREREQUISITE, "dest": S.AD_ACCOUNT,
     "before": "remember"},
    {"trigger": "answer_no", "source": S.PREREQUISITE, "dest": S.PREREQUISITE_FIX,
     "before": "remember"},
    {"trigger": "fixed", "source": S.PREREQUISITE_FIX, "dest": S.PREREQUISITE,
     "conditions": "more_prerequisites", "before": ["remember", "next_prerequisite"]},
    {"trigger": "fixed", "source": S.PREREQUISITE_FIX, "dest": S.AD_ACCOUNT,
     "before": "remember"},
    {"trigger": "enter_ad_account", "source": S.AD_ACCOUNT, "dest": S.SUMMARY,
     "conditions": "editing", "before": ["remember", "set_ad_account", "stop_editing"]},
    {"trigger": "enter_ad_account", "source": S.AD_ACCOUNT, "dest": S.BUSINESS_ID,
     "conditions": "asks_business_id", "before": ["remember", "set_ad_account"]},
    {"trigger": "enter_ad_account", "source": S.AD_ACCOUNT, "dest": S.HANDLE,
     "before": ["remember", "set_ad_account"]},
    {"trigger": "enter_business_id", "source": S.BUSINESS_ID, "dest": S.SUMMARY,
     "conditions": "editing", "before": ["remember", "set_business_id", "stop_editing"]},
    {"trigger": "enter_business_id", "source": S.BUSINESS_ID, "dest": S.HANDLE,
     "before": ["remember", "set_business_id"]},
    {"trigger": "enter_handle", "source": S.HANDLE, "dest": S.SUMMARY,
     "conditions": "editing", "before": ["remember", "set_handle", "stop_editing"]},
    {"trigger": "enter_handle", "source": S.HANDLE, "dest": S.PERMISSIONS,
     "before": ["remember", "set_handle"]},
    {"trigger": "toggle_scope", "source": S.PERMISSIONS, "dest": None,
     "conditions": "scope_is_offered", "after": "flip_scope"},
    {"trigger": "confirm_scopes", "source": S.PERMISSIONS, "dest": S.VISIBILITY,
     "conditions": ["some_scope", "needs_visibility"], "before": "remember"},
    {"trigger": "confirm_scopes", "source": S.PERMISSIONS, "dest": S.DURATION,
     "conditions": ["some_scope", "offers_temporary"], "before": "remember"},
    {"trigger": "confirm_scopes", "source": S.PERMISSIONS, "dest": S.SUMMARY,
     "conditions": "some_scope", "before": ["remember", "clear_visibility", "stop_editing"]},
    {"trigger": "choose_visibility", "source": S.VISIBILITY, "dest": S.SUMMARY,
     "conditions": "visibility_is_offered", "before": ["remember", "set_visibility",
                                                       "stop_editing"]},
    {"trigger": "choose_duration", "source": S.DURATION, "dest": S.SUMMARY,
     "conditions": "duration_is_offered", "before": ["remember", "set_duration",
                                                     "stop_editing"]},
    {"trigger": "edit", "source": S.SUMMARY, "dest": S.EDIT_CHOICE, "before": "remember"},
    {"trigger": "edit_field", "source": S.EDIT_CHOICE, "dest": S.AD_ACCOUNT,
     "conditions": "field_is_ad_account", "before": ["remember", "start_editing"]},
    {"trigger": "edit_field", "source": S.EDIT_CHOICE, "dest": S.HANDLE,
     "conditions": "field_is_handle", "before": ["remember", "start_editing"]},
    {"trigger": "edit_field", "source": S.EDIT_CHOICE, "dest": S.PERMISSIONS,
     "conditions": "field_is_permissions", "before": ["remember", "start_editing"]},
    {"trigger": "edit_field", "source": S.EDIT_CHOICE, "dest": S.BUSINESS_ID,
     "conditions": ["field_is_business_id", "asks_business_id"],
     "before": ["remember", "start_editing"]},
    {"trigger": "send", "source": S.SUMMARY, "dest": S.SUBMITTED},
]


def _back_transitions(forward: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One `back` edge for every forward edge, taken when history says we came that way."""
    seen: set[tuple[str, str]] = set()
    edges: list[dict[str, Any]] = []
    for t in forward:
        src, dst = t["source"], t["dest"]
        if dst is None or dst in FINAL_STATES or (dst, src) in seen:
            continue
        seen.add((dst, src))
        edges.append({"trigger": "back", "source": dst, "dest": src,
                      "conditions": f"came_from_{src}", "before": "forget"})
    return edges


def _plain(value: Any) -> Any:
    """Enum members as their string values: transitions would take an Enum's *name* instead."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.value if isinstance(value, S) else value


TRANSITIONS: list[dict[str, Any]] = [
    {key: _plain(value) for key, value in t.items()}
    for t in (
        *_FORWARD,
        *_back_transitions(_FORWARD),
        {"trigger": "cancel", "source": [s for s in S if s not in FINAL_STATES],
         "dest": S.CANCELLED},
    )
]
STATES = [s.value for s in S]
INITIAL: str = S.PLATFORM.value


def _copied(data: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of conversation data, which is JSON-shaped (dicts, lists, scalars): a third
    of what `copy.deepcopy` costs, which keeps a memo for shapes JSON can't have."""
    return {key: _copied_value(value) for key, value in data.items()}


def _copied_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_copied_value(v) for v in value]
    if isinstance(value, dict):
        return _copied(value)
    if isinstance(value, tuple):
        return tuple(_copied_value(v) for v in value)
    if isinstance(value, str | int | float | bool | None):
        return value
    return copy.deepcopy(value)


class Draft:
    """The model attached to the shared machine for the length of one event."""

    state: str

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = {}
        self.reset(data)

    def reset(self, data: Mapping[str, Any]) -> None:
        """Load a copy of a conversation's data (the caller's dict is never changed)."""
        self.data = _copied(data)
        self.data.setdefault("history", [])
        self.data.setdefault("scopes", [])

    # --- conditions --------------------------------------------------------------------------
    def platform_is_offered(self, event: EventData) -> bool:
        return event.kwargs.get("platform") in {p.id for p in available_platforms()}

    def confirmed_before(self, event: EventData) -> bool:
        return event.kwargs.get("platform") in self.data.get("confirmed", ())

    def more_prerequisites(self, event: EventData) -> bool:
        platform = get_platform(self.data["platform"])
        return self.data.get("prereq", 0) + 1 < len(platform.prerequisites)

    def editing(self, event: EventData) -> bool:
        return bool(self.data.get("editing"))

    def scope_is_offered(self, event: EventData) -> bool:
        return event.kwargs.get("scope") in get_platform(self.data["platform"]).scopes

    def some_scope(self, event: EventData) -> bool:
        return bool(self.data["scopes"])

    def needs_visibility(self, event: EventData) -> bool:
        scope = get_platform(self.data["platform"]).visibility_scope
        return scope is not None and scope in self.data["scopes"]

    def visibility_is_offered(self, event: EventData) -> bool:
        options = get_platform(self.data["platform"]).visibility_options
        return event.kwargs.get("option") in options

    def field_is_ad_account(self, event: EventData) -> bool:
        return event.kwargs.get("field") == "ad_account"

    def field_is_handle(self, event: EventData) -> bool:
        return event.kwargs.get("field") == "handle"

    def field_is_permissions(self, event: EventData) -> bool:
        return event.kwargs.get("field") == "permissions"

    def field_is_business_id(self, event: EventData) -> bool:
        return event.kwargs.get("field") == "business_id"

    def asks_business_id(self, event: EventData) -> bool:
        return get_platform(self.data["platform"]).asks_business_id

    def offers_temporary(self, event: EventData) -> bool:
        return get_platform(self.data["platform"]).temporary_days is not None

    def duration_is_offered(self, event: EventData) -> bool:
        """0 (until removed), one of the offered lengths, or a typed one within the range."""
        span = get_platform(self.data["platform"]).temporary_days
        days = event.kwargs.get("days")
        if span is None or not isinstance(days, str) or not (days.isascii()
                                                              and days.isdigit()):
            return False
        return int(days) == 0 or span[0] <= int(days) <= span[1]

    def __getattr__(self, name: str) -> Any:
        # `came_from_<state>` conditions for the generated back edges.
        if name.startswith("came_from_"):
            wanted = name.removeprefix("came_from_")
            return lambda event: bool(self.data["history"]) and (
                self.data["history"][-1][0] == wanted
            )
        raise AttributeError(name)

    # --- callbacks: they only change the draft ------------------------------------------------
    def remember(self, event: EventData) -> None:
        self.data["history"].append(
            [self.state, self.data.get("prereq", 0), bool(self.data.get("editing"))]
        )

    def forget(self, event: EventData) -> None:
        # Entries stored before the editing flag was recorded have two items.
        _, prereq, *rest = self.data["history"].pop()
        self.data["prereq"] = prereq
        if rest and rest[0]:
            self.data["editing"] = True
        else:
            self.data.pop("editing", None)

    def set_platform(self, event: EventData) -> None:
        chosen = event.kwargs["platform"]
        if self.data.get("platform") not in (None, chosen):
            # Back at the start and another platform chosen: the answers that follow that
            # platform's rules (username, permissions, Business ID, length) don't carry over.
            for key in ("handle", "visibility", "business_id", "access_days"):
                self.data.pop(key, None)
            self.data["scopes"] = []
        self.data["platform"] = chosen
        self.data["prereq"] = 0

    def next_prerequisite(self, event: EventData) -> None:
        self.data["prereq"] = self.data.get("prereq", 0) + 1

    def set_ad_account(self, event: EventData) -> None:
        self.data["ad_account"] = event.kwargs["value"]

    def set_handle(self, event: EventData) -> None:
        self.data["handle"] = event.kwargs["value"]

    def set_business_id(self, event: EventData) -> None:
        self.data["business_id"] = event.kwargs["value"]

    def set_duration(self, event: EventData) -> None:
        self.data["access_days"] = int(event.kwargs["days"])

    def flip_scope(self, event: EventData) -> None:
        scope = event.kwargs["scope"]
        scopes: list[str] = self.data["scopes"]
        platform = get_platform(self.data["platform"])
        if scope in scopes:
            scopes.remove(scope)
        else:
            # A scope that stands alone (Meta's full control) replaces the others, and
            # any other replaces it.
            alone = platform.exclusive_scopes
            scopes[:] = [s for s in scopes if scope not in alone and s not in alone]
            scopes.append(scope)
            scopes.sort(key=platform.scopes.index)

    def set_visibility(self, event: EventData) -> None:
        self.data["visibility"] = event.kwargs["option"]

    def clear_visibility(self, event: EventData) -> None:
        self.data.pop("visibility", None)

    def start_editing(self, event: EventData) -> None:
        self.data["editing"] = True

    def stop_editing(self, event: EventData) -> None:
        self.data.pop("editing", None)


_MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial=INITIAL,
    auto_transitions=False,
    send_event=True,
    ignore_invalid_triggers=False,
)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a conversation stands: its state name and its draft data."""

    state: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def platform(self) -> str | None:
        return self.data.get("platform")

    @property
    def prerequisite(self) -> str | None:
        """The id of the prerequisite being asked, in the prerequisite states."""
        if self.state not in (S.PREREQUISITE, S.PREREQUISITE_FIX) or not self.platform:
            return None
        return get_platform(self.platform).prerequisites[self.data.get("prereq", 0)]

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def expects_text(self) -> bool:
        return self.state in TEXT_STATES

    @property
    def can_go_back(self) -> bool:
        return bool(self.data.get("history")) and not self.finished


def start(confirmed: list[str] | None = None) -> Position:
    """The position of a brand-new link conversation; `confirmed` names the platforms whose
    prerequisites this advertiser confirmed before (they are offered as a recap)."""
    data: dict[str, Any] = {"history": [], "scopes": []}
    if confirmed:
        data["confirmed"] = list(confirmed)
    return Position(state=INITIAL, data=data)


def passed_prerequisites(before: str, after: Position) -> str | None:
    """The platform whose prerequisites were all just confirmed by this step, if any."""
    if before in (S.PREREQUISITE, S.PREREQUISITE_FIX) and after.state == S.AD_ACCOUNT:
        return after.platform
    return None


# What a typed word means at a step answered with buttons: the event it stands for, or
# AMBIGUOUS when the word fits the step but not one button. Anything else is not an answer.
AMBIGUOUS: tuple[str, dict[str, Any]] = ("", {})
_YES = {"yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "k", "correct", "true"}
_NO = {"no", "n", "nope", "nah", "not yet", "false"}
_DONE = {"done", "fixed", "finished", "ready", "continue", "next"}


def typed_answer(position: Position, text: str) -> tuple[str, dict[str, Any]] | None:
    """Read a typed word as the button it names at a button step ("yes" at a yes/no question).

    Returns (event, arguments), AMBIGUOUS, or None when the text is no such word."""
    word = " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())
    if word not in _YES | _NO | _DONE | {p.id for p in available_platforms()}:
        return None
    state = position.state
    if state == S.PREREQUISITE:
        return ("answer_yes", {}) if word in _YES else ("answer_no", {}) if word in _NO \
            else AMBIGUOUS
    if state == S.PREREQUISITE_FIX:
        return ("fixed", {}) if word in _DONE | _YES else AMBIGUOUS
    if state == S.PREREQUISITE_RECAP:
        return ("all_still_true", {}) if word in _YES | _DONE else ("review", {}) \
            if word in _NO else AMBIGUOUS
    if state == S.PERMISSIONS:
        return ("confirm_scopes", {}) if word in _DONE else AMBIGUOUS
    if state == S.PLATFORM and word in {p.id for p in available_platforms()}:
        return ("choose_platform", {"platform": word})
    return AMBIGUOUS


# Drafts stay registered with the machine and are reused: attaching and detaching a model costs
# ~10x a trigger. A draft is taken from the pool for one synchronous `fire` call, so the pool only
# grows to the number of threads firing at once, and memory stays flat however many users there are.
_POOL: list[Draft] = []


def _take_draft(position: Position) -> Draft:
    try:
        draft = _POOL.pop()
    except IndexError:
        draft = Draft({})
        _MACHINE.add_model(draft, initial=INITIAL)
    draft.reset(position.data)
    draft.state = str(position.state)
    return draft


def fire(position: Position, event: str, **kwargs: Any) -> Position:
    """Apply one event to a position and return the new one; raise a FlowError if refused."""
    if event == "back" and not position.can_go_back:
        raise NothingToUndo
    if position.state not in STATES:
        raise NotNow(event)
    trigger = _MACHINE.events.get(event)
    if trigger is None:
        raise NotNow(event)
    draft = _take_draft(position)
    try:
        moved = trigger.trigger(draft, **kwargs)
        result = Position(state=draft.state, data=draft.data)
    except MachineError as exc:
        raise NotNow(event) from exc
    finally:
        draft.reset({})
        _POOL.append(draft)
    if not moved:
        raise _refusal(position, event)
    return result


def _refusal(position: Position, event: str) -> FlowError:
    """Name the reason a trigger's conditions all failed."""
    if event == "confirm_scopes":
        return NoScopeChosen()
    if event in {"choose_platform", "toggle_scope", "choose_visibility", "edit_field",
                 "choose_duration"}:
        return UnknownChoice(event)
    return NotNow(event)


def submit_text(position: Position, text: str) -> Position:
    """Answer a typed-text question; raises the platform's Invalid* error with its reason."""
    if position.state == S.AD_ACCOUNT:
        return fire(position, "enter_ad_account", value=normalise_ad_account_name(text))
    if position.state == S.HANDLE:
        platform = get_platform(position.data["platform"])
        return fire(position, "enter_handle", value=platform.handle_rule.normalise(text))
    if position.state == S.BUSINESS_ID:
        return fire(position, "enter_business_id", value=normalise_business_id(text))
    if position.state == S.DURATION:
        days = normalise_access_days(get_platform(position.data["platform"]), text)
        return fire(position, "choose_duration", days=str(days))
    raise NotNow("text")


def graph_source() -> tuple[list[str], list[dict[str, Any]], str]:
    """The machine's definition, for diagram generation."""
    return STATES, TRANSITIONS, INITIAL


def editable_fields(platform_id: str) -> tuple[str, ...]:
    """The fields the summary's Edit offers for a platform, in order."""
    platform = get_platform(platform_id)
    return tuple(f for f in EDITABLE_FIELDS if f != "business_id" or platform.asks_business_id)
