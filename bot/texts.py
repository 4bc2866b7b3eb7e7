"""Every sentence the bot says, in one place (HTML parse mode; user text is always escaped).

Kept as plain constants and small functions so a translation layer can replace this module later.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from html import escape

from flows.platforms import account

PARSE_MODE = "HTML"


def esc(text: object) -> str:
    """User-supplied text made safe for HTML parse mode."""
    return escape(str(text), quote=False)


def when(moment: datetime) -> str:
    """A date and time the way cards show it (UTC, to the minute)."""
    return moment.strftime("%d %b %Y, %H:%M UTC")


# --- commands (the menu registered with Telegram at start) -------------------------------------
COMMANDS: list[tuple[str, str]] = [
    ("link", "Start or resume a link request"),
    ("accounts", "Your requests and linked accounts"),
    ("owned", "Accounts you own and who may use them"),
    ("claim", "Claim your account: /claim @handle"),
    ("verify", "Prove your account by logging in to it"),
    ("faq", "Questions and answers"),
    ("privacy", "What I store about you, and for how long"),
    ("deleteme", "Erase your personal data"),
    ("status", "Where you are right now"),
    ("back", "Go back one step"),
    ("cancel", "Cancel what you are doing"),
    ("help", "What I can do"),
    ("team", "Your ad accounts' teams and roles"),  # teams (issue 10)
]

# --- welcome and help ---------------------------------------------------------------------------
HELP = (
    "I help advertisers get an account owner's approval to run ads from their account "
    "(TikTok Spark Ads; Meta partner access to Instagram accounts and Facebook Pages), and "
    "help owners approve, reject or revoke that access.\n\n"
    "<b>Advertisers</b>\n"
    "/link – a step-by-step link request\n"
    "/accounts – your requests and linked accounts\n"
    "/apply #code – apply a creator's Spark code\n"
    "/team – your ad accounts' teams: invite colleagues, change roles\n\n"
    "<b>Account owners</b>\n"
    "/claim @handle – receive the requests for your account here (Instagram: "
    "/claim instagram @handle; a Page: /claim facebook page.name)\n"
    "/owned – your accounts and who may use them\n"
    "/verify @handle – prove an account is yours by logging in to it\n"
    "/code video-link – a Spark code for one of your videos · /codes – your codes\n\n"
    "<b>Any time</b>\n"
    "/faq – questions and answers (or just ask me in your own words)\n"
    "/status – where you are · /back – one step back · /cancel – stop\n"
    "/privacy – what I store · /deleteme – erase your data"
)


# What Telegram shows before /start (set at start-up).
DESCRIPTION = (
    "Linkpilot gets an advertiser the account owner's approval to run ads from their TikTok "
    "account (Spark Ads), Instagram account or Facebook Page (Meta partner access), one step "
    "at a time, and lets owners approve, reject or withdraw it. It records consent and tells "
    "both sides what to do in TikTok or Meta; it never logs in to either."
)
SHORT_DESCRIPTION = ("Ask an account owner's approval to run ads from their TikTok, Instagram "
                     "or Facebook Page.")


def welcome(first_name: str) -> str:
    return f"Hi {esc(first_name)}! I'm Linkpilot.\n\n{HELP}"


RESUMING = "Let's pick up where you left off:"
NO_FLOW = "You have no link request in progress. Send /link to start one."

# --- the link flow ------------------------------------------------------------------------------
PLATFORM_QUESTION = (
    "<b>New link request</b>\nWhich platform is the account you want to advertise with on?"
)
PLATFORM_NAMES = {"tiktok": "TikTok", "instagram": "Instagram", "facebook": "Facebook Page"}
PLATFORMS_LATER = "Instagram and Facebook are coming soon."

YES, NO, WHATS_THIS = "Yes", "No", "What's this?"
DONE_CONTINUE, LATER = "Done, continue", "Later"
CONTINUE, BACK = "Continue", "« Back"
SEND, EDIT, CANCEL = "Send request", "Edit", "Cancel"

# Per platform and prerequisite: (question, what it means, how to fix a "No", the check in a
# few words for the recap of confirmed prerequisites).
PREREQUISITES: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "tiktok": {
        "business_center": (
            "Do you have a <b>TikTok For Business</b> login with an <b>Ads Manager</b> ad "
            "account (ideally inside a Business Center)?",
            "TikTok For Business is the login for Ads Manager and Business Center; it is "
            "separate from the TikTok app account. The ad account holds your campaigns and "
            "billing. Business Center is the container for your ad accounts, TikTok accounts "
            "and team, and it is where TikTok's official linking flow lives.",
            "Go to ads.tiktok.com → <b>Sign up</b> (TikTok For Business), then create an ad "
            "account with your business details. Choose the time zone, region and currency "
            "carefully: they can't be changed later. For a Business Center: business.tiktok.com "
            "→ <b>Create</b>, then Accounts → Ad accounts to add the ad account. Add a payment "
            "method so the account can run ads (linking itself needs no funds).",
            "a TikTok For Business login with an Ads Manager ad account",
        ),
        "ad_account_role": (
            "Do you have <b>Admin or Operator</b> access on that ad account?",
            "Ad accounts have Admin, Operator and Analyst roles. Creating Spark Ads from a "
            "linked TikTok account needs Admin or Operator; only Business Center Admins "
            "(not Standard members) can request access to a TikTok account.",
            "Ask an Admin of the Business Center to open Business Center → <b>Users</b> → your "
            "name → <b>Assign assets</b> → Ad accounts, and give you <b>Admin</b> or "
            "<b>Operator</b> on the ad account. Requesting a TikTok account also needs Business "
            "Center <b>Admin</b> (Standard members can't).",
            "Admin or Operator access on that ad account",
        ),
        "business_account": (
            "Is the TikTok account you want to link a <b>Business account</b>?",
            "TikTok accounts are Personal, Business or Organization. A Business account is "
            "needed to run ads from your own linked account and to publish native posts as "
            "ads. Sources disagree on whether creators who only authorise posts by code must "
            "switch, so check with the owner.",
            "The owner switches in the TikTok app: <b>Profile</b> → ☰ menu → <b>Settings and "
            "privacy</b> → <b>Account</b> → <b>Switch to Business Account</b>. Business accounts "
            "lose the general music library and use the Commercial Music Library; third-party "
            "guides (not TikTok) say existing videos stay.",
            "the TikTok account to link is a Business account",
        ),
    },
}

def step_head(step: int, total: int, title: str) -> str:
    """The first line of every question: the same numbering /status uses."""
    return f"<i>Step {step} of {total} · {title}</i>\n"


def prerequisite_head(number: int, total: int) -> str:
    return f"<b>Before you start: check {number} of {total}</b>\n"


def prerequisite_recap(platform: str, checks: list[str]) -> str:
    lines = [f"<b>Before you start</b>\nLast time you confirmed, for {PLATFORM_NAMES[platform]}:"]
    lines += [f"✅ {check}" for check in checks]
    lines.append("\nIs all of this still true?")
    return "\n".join(lines)


STILL_TRUE, REVIEW = "All still true", "Review"
TYPED_AMBIGUOUS = "Tap one of the buttons below, or ask me a question."


def prerequisite_fix(how: str) -> str:
    return f"{how}\n\nTap <b>{DONE_CONTINUE}</b> when it's sorted."


AD_ACCOUNT_QUESTION = (
    "What is the <b>name of the ad account</b> the ads will run from (as shown in Ads Manager)?"
)


def handle_question(platform: str) -> str:
    if platform in HANDLE_QUESTIONS:
        return HANDLE_QUESTIONS[platform]
    name = PLATFORM_NAMES[platform]
    return (
        f"Which {name} account should be linked? Send its <b>username</b>, like "
        "<code>@brand.name</code>, or paste its profile link."
    )


PERMISSIONS_QUESTION = (
    "Which permissions should the owner grant? Tap to select, then <b>Continue</b>."
)
SCOPE_NAMES = {
    "existing_posts": "Use existing posts in ads",
    "new_videos": "Publish and manage new videos",
}
VISIBILITY_QUESTION = (
    "Where should new videos published for ads appear?\n"
    "• <b>Ads only</b> (recommended): shown in ads, hidden from the profile.\n"
    "• <b>Profile and ads</b>: on the owner's profile and in ads."
)
VISIBILITY_NAMES = {"ads_only": "Ads only", "profile_and_ads": "Profile and ads"}
EDIT_QUESTION = "What would you like to change?"
EDIT_FIELDS = {"ad_account": "Ad account", "handle": "Username", "permissions": "Permissions"}


def current_value(value: str) -> str:
    return f"\nNow: <code>{esc(value)}</code> (send a new one, or /back)"


def summary(platform: str, ad_account: str, handle: str, scopes: list[str],
            visibility: str | None, business_id: str | None = None,
            access_days: int | None = None) -> str:
    lines = [
        "<b>Please check your request</b>",
        f"Platform: {PLATFORM_NAMES[platform]}",
        f"Ad account: {esc(ad_account)}",
        f"Account to link: {esc(account(platform, handle))}",
        "Permissions: " + ", ".join(SCOPE_NAMES[s] for s in scopes),
    ]
    if visibility:
        lines.append(f"New videos: {VISIBILITY_NAMES[visibility]}")
    lines += meta_lines(business_id, access_days)
    lines.append("\nSend it to the account owner?")
    return "\n".join(lines)


LATER_SAVED = "No problem, your place is saved. Send /link when you're ready and I'll ask again."
CANCELLED = "Cancelled. Nothing was sent. Send /link to start again."
NOTHING_TO_CANCEL = "There's nothing to cancel right now."
FIRST_QUESTION = "This is the first question; there is nothing to go back to."
NO_SCOPE = "Please select at least one permission, then tap Continue."
STALE_BUTTON = "That question was already answered."
NOT_NOW = "That doesn't fit the current step."
UNKNOWN_CHOICE = "That option isn't available."
USE_BUTTONS = "Please answer with the buttons below, or ask me a question."
TRY_AGAIN = "Someone else changed this at the same moment. Please try again."
UNKNOWN_COMMAND = "I don't know that command. /help lists what I can do."
TEXT_ONLY = "I can only read text messages. /help lists what I can do."
ERROR = "Sorry, something went wrong on my side. Your progress is saved; please try again."

HANDLE_PROBLEMS = {
    "empty": "Please send the account's username.",
    "spaces": "A username can't contain spaces.",
    "bad_characters": "A username can only contain letters, digits, <code>_</code> and "
                      "<code>.</code>; this one has {detail}.",
    "trailing_period": "A username can't end with a period.",
    "too_short": "A username needs at least {limit} characters.",
    "too_long": "A username can have at most {limit} characters.",
    "video_link": "That's a link to a TikTok video, not to an account. Send the username of "
                  "the account the video is from (it's under the video, after the @).",
}


def video_from(handle: str) -> str:
    return (
        f"That link is to a video, and I need the account: that video is from "
        f"<code>@{esc(handle)}</code>; send the account's username."
    )

AD_ACCOUNT_PROBLEMS = {
    "too_short": "The ad account name needs at least 2 characters.",
    "too_long": "The ad account name can have at most 100 characters.",
    "multiline": "Please send the ad account name on one line.",
    "question": "That looks like a question rather than an ad account name.",
}


def character(ch: str) -> str:
    """One character named so a person can see it: itself, or its code point (U+202E) when it
    is invisible, a control or a space."""
    if unicodedata.category(ch)[0] in "CZM":
        return f"U+{ord(ch):04X}"
    return f"<code>{esc(ch)}</code>"


def characters(shown: str | tuple[str, ...], more: int = 0) -> str:
    """A few characters and how many others: "U+202E, <code>!</code> and 2,097 more"."""
    names = [character(ch) for ch in shown]
    if more:
        names.append(f"{more:,} more")
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def handle_problem(problem: str, detail: str = "", limit: int = 0, more: int = 0,
                   platform: str = "tiktok") -> str:
    own = HANDLE_PROBLEMS_BY_PLATFORM.get(platform, {})
    if problem == "video_link" and detail:
        return own["video_from"].format(handle=esc(detail)) if "video_from" in own \
            else video_from(detail)
    return own.get(problem, HANDLE_PROBLEMS[problem]).format(detail=characters(detail, more),
                                                             limit=limit)


# What each kind of free text is called in a refusal.
TEXT_FIELDS = {"ad_account": "The ad account name", "handle": "The username",
               "reason": "The reason"}


def unsafe_text(field: str, problem: str, shown: tuple[str, ...] = (), more: int = 0,
                limit: int = 0, length: int = 0) -> str:
    """Why typed text was refused; short whatever the text was."""
    name = TEXT_FIELDS[field]
    if problem == "blank":
        return f"{name} can't be empty or only invisible characters. Please type it again."
    if problem == "too_long":
        return f"{name} can have at most {limit:,} characters (this has {length:,})."
    return (
        f"{name} contains characters I can't accept (invisible, control or text-direction "
        f"characters): {characters(shown, more)}. Please type it again without them."
    )


def status_line(step: int, total: int, title: str) -> str:
    return f"<b>Link request</b>: step {step} of {total} · {title}"


STEP_TITLES = {
    "platform": "platform",
    "prerequisite": "prerequisites",
    "prerequisite_fix": "prerequisites",
    "prerequisite_recap": "prerequisites",
    "ad_account": "ad account",
    "handle": "account username",
    "permissions": "permissions",
    "visibility": "visibility of new videos",
    "summary": "check and send",
    "edit_choice": "editing",
}


def status_value(field: str, value: str) -> str:
    return f"{EDIT_FIELDS[field]}: {esc(value)}"


def requests_line(pending: int, authorized: int) -> str:
    return f"Requests: {pending} waiting for approval, {authorized} linked. See /accounts."


# --- requests: advertiser side ------------------------------------------------------------------
def sent_to_owner(handle: str, expires: datetime) -> str:
    return (
        f"✉️ Request sent to the owner of {esc(handle)}. I'll tell you as soon as they decide.\n"
        f"It expires on {when(expires)} if they don't answer. /accounts shows its status."
    )


LINK_WHY = {
    "unclaimed": "The owner of {handle} hasn't connected with me yet, so I can't message them.",
    "unreachable": "I couldn't deliver your request to the owner of {handle} in Telegram "
                   "(they may have blocked me or deleted the chat).",
    "again": "Here is a new approval link for {handle}; any earlier link no longer works.",
}


def forward_link(handle: str, link: str, expires: datetime, why: str = "unclaimed") -> str:
    reason = LINK_WHY.get(why, LINK_WHY["unclaimed"]).format(handle=esc(handle))
    return (
        f"{reason} Please forward them this <b>one-time approval link</b>:\n"
        f"{esc(link)}\n\n"
        f"It works for one decision and expires on {when(expires)}. /accounts shows its status."
    )


def approval_qr(handle: str, link: str, expires: datetime) -> str:
    """The caption of an approval link sent as a QR code (at most 1,024 characters)."""
    return (
        f"📷 A new <b>one-time approval link</b> for {esc(handle)} as a QR code. The owner "
        "scans it with their phone's camera, or you forward them this photo; any earlier link "
        "or QR code no longer works.\n"
        f"It works for one decision and expires on {when(expires)}. The link in it:\n"
        f"{esc(link)}"
    )


# What each side must still do in TikTok (Linkpilot records consent; it changes nothing there).
# Paths: TikTok's Business Center help on linking by QR code, unlinking and removing partners.
TIKTOK_LINK_STEPS = (
    "1. Business Center → Accounts → TikTok accounts → <b>Add a TikTok Account</b> → "
    "<b>Link an existing TikTok account</b> → <b>Send a QR code</b>; choose \"Deliver ads\" and "
    "the permissions the owner approved here, then send the QR code to the owner.\n"
    "2. Once they have scanned and approved it: TikTok accounts → <b>View</b> → "
    "<b>Link accounts</b> tab → link it to the ad account; <b>Members</b> tab → assign the people "
    "who will create the ads (they need Admin or Operator on the ad account).\n"
    "3. When creating a Spark Ad, pick the account under Identity (refresh if it isn't listed)."
)
TIKTOK_REMOVE_STEPS = (
    "Business Center → Accounts → TikTok accounts → <b>View</b> → <b>Link accounts</b> tab → "
    "Advertiser accounts → <b>Remove</b>. Pause or delete the ads that use it first: TikTok says "
    "existing ads may otherwise keep running."
)
OWNER_SCAN_STEPS = (
    "open the TikTok app → Profile → Find friends → the scan icon, scan the code and approve "
    "the same permissions"
)


def approved_for_advertiser(handle: str, ad_account: str) -> str:
    return (
        f"✅ <b>Authorized in Linkpilot</b>: the owner of {esc(handle)} agreed to your request "
        f"for the ad account {esc(ad_account)}.\n\nLinkpilot records consent; it changes "
        f"nothing in TikTok. To get access there:\n{TIKTOK_LINK_STEPS}\n\n"
        "You can unlink it here any time from /accounts."
    )


def approved_for_owner(requester: str, handle: str) -> str:
    return (
        f"Recorded in Linkpilot: you approved {esc(requester)}'s request to use {esc(handle)} "
        "for ads. Nothing has changed in TikTok yet: they will send you a QR code from TikTok "
        f"Business Center; when it comes, {OWNER_SCAN_STEPS}. Withdraw your approval here any "
        "time with /owned."
    )


def rejected_for_advertiser(handle: str) -> str:
    return (
        f"❌ The owner of {esc(handle)} rejected your request. Check that the username is "
        "right and talk to the owner, then send a new one with /link."
    )


def reason_for_advertiser(handle: str, reason: str) -> str:
    return f"The owner of {esc(handle)} said why: «{esc(reason)}»"


def expired_for_advertiser(handle: str) -> str:
    return (
        f"⌛ Your request for {esc(handle)} expired without an answer. Send a new one with "
        "/link, and let the owner know it's coming."
    )


def expired_for_owner(requester: str, handle: str) -> str:
    return f"⌛ The request from {esc(requester)} for {esc(handle)} expired without an answer."


def reminder_for_owner(card_text: str) -> str:
    return f"⏰ <b>Reminder</b>: this request is still waiting for your answer.\n\n{card_text}"


def reminder_for_advertiser(handle: str, expires: datetime) -> str:
    return (
        f"⏰ Your request for {esc(handle)} is still waiting: the approval link hasn't been used. "
        f"It expires on {when(expires)}. /accounts can give you a fresh link to forward."
    )


def revoked_for_advertiser(handle: str, ad_account: str) -> str:
    return (
        f"The owner of {esc(handle)} withdrew their approval in Linkpilot (ad account "
        f"{esc(ad_account)}). If you linked the account in TikTok, remove it there: "
        f"{TIKTOK_REMOVE_STEPS}"
    )


def revoked_for_owner(requester: str, handle: str) -> str:
    return (
        f"Recorded in Linkpilot: your approval for {esc(requester)} to use {esc(handle)} is "
        "withdrawn, and they have been told to remove the account from their Business Center. "
        "TikTok documents no way to remove it from the owner's side when you approved by QR "
        "code; if you have a Business Center of your own: Accounts → TikTok accounts → View → "
        "<b>Partners</b> tab → Remove (this pauses their campaigns at once)."
    )


def unlinked_for_advertiser(handle: str) -> str:
    return (
        f"Unlinked in Linkpilot: you no longer have the owner's approval for {esc(handle)}. "
        f"If the account is linked in TikTok, remove it there too: {TIKTOK_REMOVE_STEPS}"
    )


def unlinked_for_owner(requester: str, handle: str) -> str:
    return (
        f"{esc(requester)} unlinked {esc(handle)} in Linkpilot: they no longer have your "
        "approval to use it for ads, and they have been told to remove it from their Business "
        "Center."
    )


def cancelled_for_owner(requester: str, handle: str) -> str:
    return f"{esc(requester)} cancelled their request for {esc(handle)}."


def duplicate_request(handle: str, ad_account: str, created: datetime) -> str:
    return (
        f"You already have a request for {esc(handle)} with the ad account {esc(ad_account)}, "
        f"sent on {when(created)} and still waiting for the owner, so I haven't sent this one "
        "again. /accounts shows it (and can give you a fresh approval link); Edit changes this "
        "one."
    )


def over_limit(reason: str, until: datetime | None, count: int, handle: str) -> str:
    """Why a request was not sent, and when it can be."""
    if reason == "blocked":
        return (f"The owner of {esc(handle)} doesn't accept requests from you through Linkpilot, "
                "so I haven't sent this one. Please contact them another way.")
    if reason == "pending":
        return (f"You already have {count} requests waiting for owners, the most at once. You "
                "can send this one when one of them is decided or cancelled (/accounts), or "
                f"when the first expires, on {when(until) if until else 'its expiry date'}. "
                "Your request stays here meanwhile.")
    if reason == "per_day":
        return (f"You've sent {count} requests in the last 24 hours, the most for one day. You "
                f"can send this one after {when(until) if until else 'a day'}; it stays here "
                "meanwhile.")
    return (f"The owner of {esc(handle)} rejected your last request for it, so you can ask "
            f"again after {when(until) if until else 'a while'}. Talk to them first; this "
            "request stays here meanwhile.")


BLOCK = "🚫 Block this advertiser"


def confirm_block(requester: str) -> str:
    return (f"Block {esc(requester)}? Their waiting requests to you are rejected, and Linkpilot "
            "refuses their future requests for your accounts.")


YES_BLOCK, NO_BLOCK = "Yes, block", "No"
UNBLOCK = "Unblock"
UNBLOCKED = "Unblocked: they can send you requests again."


def blocked_line(requester: str) -> str:
    return f"🚫 Blocked: {esc(requester)}"


def blocked(requester: str, rejected: int) -> str:
    return (f"Blocked: {esc(requester)} can't send you requests through Linkpilot any more"
            + (f"; {rejected} waiting request(s) rejected." if rejected else "."))


def own_handle(handle: str) -> str:
    return (
        f"You have claimed {esc(handle)} yourself, so there is nobody to ask: as its owner you "
        "can link it in TikTok Business Center directly. Edit the request to ask for someone "
        "else's account, or Cancel it."
    )


# --- requests: the owner's card -----------------------------------------------------------------
APPROVE, REJECT, SKIP = "✅ Approve", "❌ Reject", "Skip"
WHAT_AM_I_ALLOWING = "What am I allowing?"
# What each permission lets the advertiser do, in plain words (TikTok's Business Center help).
SCOPE_MEANINGS = {
    "existing_posts": (
        "<b>Use existing posts in ads</b>: they can turn videos already on your account into "
        "ads (Spark Ads), shown with your name and profile picture. They can't post, edit, "
        "delete or read your messages, and the caption can't be changed once a video is an ad."
    ),
    "new_videos": (
        "<b>Publish and manage new videos</b>: they can publish new videos to your account for "
        "ads. With <i>Ads only</i> those videos appear only as ads; with <i>Profile and ads</i> "
        "they also appear on your profile like your own posts."
    ),
}


def allowing(handle: str, scopes: list[str], visibility: str | None) -> str:
    lines = [f"<b>What approving this request for {esc(handle)} allows</b>"]
    lines += [SCOPE_MEANINGS[s] for s in scopes]
    if visibility:
        lines.append(f"This request asks for new videos to be shown: "
                     f"<b>{VISIBILITY_NAMES[visibility]}</b>.")
    lines.append("Approving here records your consent in Linkpilot; nothing happens in TikTok "
                 "until you also approve their QR code there. Approve only advertisers you know, "
                 "and withdraw any time with /owned.")
    return "\n\n".join(lines)


def owner_card(requester: str, platform: str, handle: str, ad_account: str, scopes: list[str],
               visibility: str | None, expires: datetime, business_id: str | None = None,
               access_days: int | None = None) -> str:
    lines = [
        "<b>Link request</b>",
        f"{esc(requester)} asks to use your {PLATFORM_NAMES[platform]} account "
        f"<b>{esc(account(platform, handle))}</b> for ads.",
        f"Ad account: {esc(ad_account)}",
        "Permissions: " + ", ".join(SCOPE_NAMES[s] for s in scopes),
    ]
    lines += plain_scopes(scopes)
    if visibility:
        lines.append(f"New videos: {VISIBILITY_NAMES[visibility]}")
    lines += meta_lines(business_id, access_days)
    lines.append(f"Expires: {when(expires)}")
    lines.append("\nApprove only if you know this advertiser. You can revoke access any time "
                 "with /owned.")
    return "\n".join(lines)


CARD_OUTCOMES = {
    "authorized": "✅ Approved",
    "rejected": "❌ Rejected",
    "expired": "⌛ Expired without an answer",
    "cancelled": "Cancelled by the advertiser",
    "unlinked": "Unlinked by the advertiser",
    "revoked": "Access revoked",
}


def card_outcome(card_text: str, status: str, at: datetime) -> str:
    return f"{card_text}\n\n<b>{CARD_OUTCOMES[status]}</b> · {when(at)}"


def reason_prompt(requester: str, minutes: int) -> str:
    return (
        f"Rejected. Would you like to tell {esc(requester)} why? <b>Reply to this message</b> "
        f"with a short reason within {minutes} minutes, or tap Skip."
    )


REASON_SENT = "Thanks, I've passed your reason on."
REASON_SKIPPED = "OK, no reason sent."
REASON_TOO_LONG = (
    "Please keep the reason under 500 characters, and reply to the prompt again."
)
SLOW_DOWN = (
    "You're sending messages faster than I can read them, so I skipped some. Please wait a "
    "few seconds, then carry on."
)

# Short answers to button presses (callback query answers, at most 200 characters).
DONE_ANSWERS = {
    "approve": "Approved.", "reject": "Rejected.", "cancel": "Request cancelled.",
    "unlink": "Unlinked.", "revoke": "Access revoked.",
}
REFUSALS = {
    "already": "This request is already {status}.",
    "not_allowed": "This button isn't for you.",
    "own_request": "You can't approve or reject your own request.",
    "gone": "This button is no longer valid.",
    "claimed_by_other": "This account is claimed by someone else; only they can decide.",
}
STATUS_WORDS = {
    "pending": "waiting for approval", "authorized": "approved", "rejected": "rejected",
    "cancelled": "cancelled", "expired": "expired", "unlinked": "unlinked", "revoked": "revoked",
}


def refusal(reason: str, status: str | None = None) -> str:
    return REFUSALS[reason].format(status=STATUS_WORDS.get(status or "", status))


OWN_LINK = (
    "This is the approval link for your own request; forward it to the account's owner. "
    "You can't approve it yourself."
)
LINK_INVALID = "This approval link is not valid any more: it was used, cancelled or expired."

# --- lists --------------------------------------------------------------------------------------
ACCOUNTS_EMPTY = "You have no link requests yet. Send /link to make one."
ACCOUNTS_TITLE = "<b>Your link requests</b>"
OWNED_EMPTY = (
    "You haven't claimed any account yet. Send <code>/claim @yourhandle</code> so that requests "
    "for it come to you here."
)
OWNED_TITLE = "<b>Your accounts</b>"
NO_GRANTS = "    – no advertiser uses it yet"
SOMEONE = "Someone"
CANCEL_REQUEST, UNLINK, REVOKE, APPROVAL_LINK = "Cancel", "Unlink", "Revoke", "Approval link"
QR_CODE, SEND_AS_QR = "QR code", "📷 Send as QR code"


YES_UNLINK, YES_REVOKE, KEEP = "Yes, unlink", "Yes, revoke", "No, keep it"


def confirm_unlink(handle: str, ad_account: str) -> str:
    return (
        f"Unlink {esc(handle)} from the ad account {esc(ad_account)} in Linkpilot? You will "
        "need the owner's approval again to use it, and I'll tell you how to remove it in TikTok."
    )


def confirm_revoke(handle: str, requester: str, ad_account: str) -> str:
    return (
        f"Withdraw {esc(requester)}'s approval to use {esc(handle)} (ad account "
        f"{esc(ad_account)})? Linkpilot will record it and tell them to remove the account from "
        "their Business Center; it can't stop their ads in TikTok by itself."
    )


def request_line(handle: str, ad_account: str, status: str, platform: str) -> str:
    return (
        f"• {esc(account(platform, handle))} ({PLATFORM_NAMES[platform]}) → {esc(ad_account)}: "
        f"<i>{STATUS_WORDS[status]}</i>"
    )


def grant_line(requester: str, ad_account: str) -> str:
    return f"    – {esc(requester)}, ad account {esc(ad_account)}"


def owned_line(handle: str, platform: str) -> str:
    return f"<b>{esc(account(platform, handle))}</b> ({PLATFORM_NAMES[platform]})"


def button_for(action: str, handle: str, ad_account: str = "") -> str:
    label = f"{action} {handle}" + (f" · {ad_account}" if ad_account else "")
    return label if len(label) <= 60 else label[:59] + "…"


def pending_line(requester: str, handle: str) -> str:
    return f"    – waiting for you: {esc(requester)} asks for {esc(handle)}"


# --- claims -------------------------------------------------------------------------------------
CLAIM_USAGE = (
    "Send <code>/claim @yourhandle</code> with your TikTok username (or "
    "<code>/claim instagram @yourhandle</code>, <code>/claim facebook yourpage</code> with a "
    "Page's username, ID or address). Requests for that account will then come to you here."
)


def claimed(handle: str, pending: int) -> str:
    extra = ""
    if pending:
        extra = " 1 request is waiting for you:" if pending == 1 else \
            f" {pending} requests are waiting for you:"
    return f"{esc(handle)} is now yours here. Requests for it will come to this chat.{extra}"


def claim_already_yours(handle: str) -> str:
    return f"{esc(handle)} is already yours."


def claim_taken(handle: str) -> str:
    return (
        f"{esc(handle)} has already been claimed by another user. If it's really yours, "
        "contact the bot's operator."
    )


# --- privacy (issue 11) --------------------------------------------------------------------------
DELETED_USER = "a deleted user"


def privacy(retention_days: int, expiry_days: int) -> str:
    return (
        "<b>What Linkpilot stores, and why</b>\n"
        "• <b>You</b>: your Telegram id, first name and username, and when you last wrote, so "
        "the other side of a request knows who asks or decides, and so I can message you.\n"
        "• <b>Your link request in progress</b>: the answers so far (ad account name, "
        "username, permissions) and the checks you confirmed, so you can carry on later.\n"
        "• <b>Link requests</b>: the account, ad account, permissions, who asked and who "
        "decided, the status and its times, and a history of every change (the audit trail), "
        "so both sides can see and undo what was agreed. Approval links are stored only "
        "hashed.\n"
        "• <b>Claims and access</b>: the accounts you claimed, and who may use which account "
        "since when. If you verify an account by logging in to it, only the platform's id for "
        "it and the time are kept (never a password or token); a login link's record goes "
        "a day after it expires.\n"
        "• <b>Blocks and operator records</b>: advertisers an owner blocked from their cards "
        "(until unblocked), a block by the bot's operator (until lifted), who held each "
        "account's claim when and whether each decision's maker had verified the account (for "
        "disputes; /deleteme takes your name off the claim history), and a log of what "
        "operators did and whom it concerned.\n"
        "• <b>Spark codes</b>: the code (readable, so its creator can copy it again from "
        "/codes), the video, the period and status, who made it and who applied it, kept "
        "while you use Linkpilot; a deleted code no longer works.\n"
        "• <b>Teams</b>: the ad accounts whose team you are in, your role on each and since "
        "when, and the invites you made or used (their links stored only hashed), so your "
        "teammates know who may do what.\n"
        "• <b>Questions</b> I couldn't answer outright, with your id, to improve the answers.\n"
        "• <b>Messages in transit</b>: updates from Telegram and messages owed to you; their "
        "content is dropped once handled or sent (update ids are kept 2 days). A message "
        "Telegram refused for good is kept for the operator, with the error. I also keep the "
        "ids of messages of mine that carry buttons, to take the buttons off later.\n\n"
        "<b>How long</b>\n"
        f"Questions, rejection reasons and undeliverable messages: {retention_days} days. "
        f"A request waits "
        f"{expiry_days} days for the owner; requests, their history and your name are kept "
        "while you use Linkpilot, because the other side relies on them.\n\n"
        "/deleteme erases your personal data."
    )


DELETEME_CONFIRM = (
    "<b>Erase your personal data?</b>\n"
    "I'll delete your name and username, your request in progress, your questions, the "
    "accounts you claimed, the Spark codes you made that nobody applied, and the rejection "
    "reasons you wrote or were sent. Your waiting "
    "requests are cancelled, and requests waiting for you are withdrawn; the other side is "
    "told. You leave every ad account's team (one you were the last admin of passes to its "
    "longest-standing member) and your invites go. Decided requests keep their facts, "
    "showing you as \"a deleted user\". This can't be undone."
)
YES_DELETE, NO_DELETE = "Yes, erase my data", "No, keep it"
DELETE_KEPT = "OK, nothing was deleted."


def deleted(cancelled: int, withdrawn: int) -> str:
    extra = []
    if cancelled:
        extra.append(f"{cancelled} waiting request{'s' if cancelled != 1 else ''} of yours "
                     "cancelled")
    if withdrawn:
        extra.append(f"{withdrawn} request{'s' if withdrawn != 1 else ''} waiting for you "
                     "withdrawn")
    done = f" ({'; '.join(extra)}, and the other side told)" if extra else ""
    return (
        f"Done: your personal data is erased{done}. If you write to me again, I'll know your "
        "name again."
    )


def withdrawn_for_owner(handle: str, ad_account: str) -> str:
    return (
        f"The request for {esc(handle)} (ad account {esc(ad_account)}) is withdrawn: the "
        "advertiser deleted their data from Linkpilot. Nothing needs doing."
    )


def withdrawn_for_advertiser(handle: str, ad_account: str) -> str:
    return (
        f"Your request for {esc(handle)} (ad account {esc(ad_account)}) is withdrawn: the "
        "account's owner deleted their data from Linkpilot, so nobody can answer it here. "
        "Send a new one with /link; you'll get an approval link to forward to the owner."
    )


# --- FAQ ----------------------------------------------------------------------------------------
FAQ_MENU = "<b>Questions and answers</b>\nPick a topic, or just type your question."
FAQ_CATEGORY = "<b>{title}</b>"
FAQ_CHOOSE = "I'm not sure which of these you mean. Did you mean one of these?"
FAQ_NONE_OF_THESE = "None of these"
FAQ_DONT_KNOW = (
    "Sorry, I don't know the answer to that. I've noted the question so the answers can grow. "
    "Browse the topics with /faq."
)
FAQ_NOTED = "Thanks, I've noted the question. Browse the topics with /faq."
FAQ_TOPICS = "All topics"
FAQ_RELATED = "Related:"
FAQ_GONE = "That topic is no longer available."
BACK_TO_FLOW = "Back to your request:"

# --- FAQ: questions in other languages (issue 8) -------------------------------------------------
FAQ_ENGLISH_ONLY = (
    "Sorry, Linkpilot answers questions in English only. Please ask again in English, "
    "or pick a topic:"
)


# --- Spark Ads authorization codes (issue 10) ----------------------------------------------------
SPARK_COMMANDS: list[tuple[str, str]] = [
    ("code", "Make a Spark Ads code for one of your videos"),
    ("codes", "Your Spark codes: copy, extend or delete"),
    ("apply", "Apply a creator's Spark code: /apply #code"),
]
# In the menu after the owners' commands, before /faq.
_FAQ_AT = next(i for i, (name, _) in enumerate(COMMANDS) if name == "faq")
COMMANDS[_FAQ_AT:_FAQ_AT] = SPARK_COMMANDS
TEXT_FIELDS["video"] = "The video link"

CODE_USAGE = (
    "Send <code>/code</code> followed by your TikTok video's address or id, for example:\n"
    "<code>/code https://www.tiktok.com/@you/video/7301234567890123456</code>\n"
    "I'll make a Spark Ads code for it that you can send to an advertiser."
)
VIDEO_PROBLEMS = {
    "empty": CODE_USAGE,
    "short_link": (
        "That is a short share link, which doesn't show the video's id. Open it in a browser "
        "and copy the full address (it has /video/ and a long number), or send that number."
    ),
    "photo": "That is a photo post. Spark codes here are for videos: send a video's address.",
    "profile": (
        "That is a profile's address. Send one video's address instead (open the video, tap "
        "Share, then Copy link), or the video's id."
    ),
    "not_a_video": (
        "I couldn't read a TikTok video there. Send the video's full address "
        "(tiktok.com/@you/video/…) or its id, the long number at the end of that address."
    ),
}


def video_label(video_id: str, handle: str | None) -> str:
    """A video as the messages name it (HTML)."""
    return f"@{esc(handle)}'s video {esc(video_id)}" if handle else f"video {esc(video_id)}"


def validity_label(days: int) -> str:
    return "1 year (365 days)" if days == 365 else f"{days} days"


def choose_validity(video: str) -> str:
    return (
        f"<b>Spark code for {video}</b>\n"
        "How long should the code work? The advertiser can apply and use it until then; you "
        "can extend or delete it later in /codes."
    )


def code_made(code: str, video: str, days: int, until: datetime) -> str:
    return (
        f"✅ <b>Your Spark code</b> for {video}, valid {validity_label(days)}, until "
        f"{when(until)}:\n\n<code>{esc(code)}</code>\n\n"
        "Tap the code to copy it, then send it to the advertiser. It works for one advertiser "
        "only. Good to know before it runs: the caption can't be edited once the video is an "
        "ad, and a private video becomes public. /codes shows your codes again."
    )


CODES_EMPTY = (
    "You have no Spark codes. Creators: <code>/code</code> and a video link makes one. "
    "Advertisers: <code>/apply</code> and the code applies one."
)
CODES_TITLE = "<b>Your Spark codes</b>"
CODES_APPLIED_TITLE = "<b>Codes you applied</b>"
EXTEND, DELETE_CODE = "⏳ Extend", "🗑 Delete"
YES_DELETE_CODE = "Yes, delete it"
CODES_CHANGED = "That code changed since; here is your list as it stands."
CODE_KEPT = "Kept."


def _code_state(status: str, until: datetime) -> str:
    if status == "expired":
        return f"expired on {when(until)}"
    return f"works until {when(until)}"


def code_line(number: int, code: str, video: str, days: int, status: str, until: datetime,
              applied_by: str | None) -> str:
    who = f", applied by {esc(applied_by)}" if applied_by else ", not applied yet"
    return (f"{number}. {video} · {validity_label(days)} · {_code_state(status, until)}{who}\n"
            f"<code>{esc(code)}</code>")


def applied_line(video: str, creator: str, status: str, until: datetime) -> str:
    return f"• {video} from {esc(creator)} · {_code_state(status, until)}"


def extend_question(video: str, status: str, until: datetime) -> str:
    return (
        f"New period for the code of {video} (it {_code_state(status, until)}). The new "
        "period starts now:"
    )


def code_extended(video: str, until: datetime) -> str:
    return f"Done: the code for {video} now works until {when(until)}."


def confirm_delete_code(video: str, applied_by: str | None) -> str:
    text = (f"Delete the code for {video}? Whoever applies it from then on is told "
            "auth_code_not_found.")
    if applied_by:
        text += (f" {esc(applied_by)} applied it: in TikTok a code can be deleted only after "
                 "every ad using it is deleted, so check with them first. I'll tell them.")
    return text


def code_deleted(video: str) -> str:
    return f"Deleted: the code for {video} no longer works."


APPLY_USAGE = (
    "Send <code>/apply</code> followed by the Spark code the creator sent you, for example "
    "<code>/apply #AbC…=</code> (the whole code, as they sent it)."
)


def code_applied(video: str, creator: str, until: datetime, again: bool) -> str:
    head = "You applied this code already." if again else "✅ <b>Authorization applied</b>"
    return (
        f"{head}\nPost: {video}\nCreator: {esc(creator)}\nAuthorized until {when(until)}.\n\n"
        "Next: in TikTok Ads Manager, create your ad and choose the identity \"Use other "
        "authorized account or post\", then pick this post. If your campaign runs longer, ask "
        "the creator to extend the code before it expires."
    )


def code_refused(reason: str, until: datetime | None = None) -> str:
    """What Ads Manager answers for a code that can't be applied, and what to do next."""
    if reason == "format":
        return (
            "❌ <b>Error 4013 (auth_code_format_error)</b>: that is not a whole Spark code. A "
            "code starts with # and has 65 characters; it may have been cut short, or spaces or "
            "invisible characters crept in. Copy the whole code again from the creator's "
            "message, or ask them for a new one."
        )
    if reason == "expired":
        ended = f" ended on {when(until)}" if until else " has ended"
        return (
            f"❌ <b>Error 4025 (auth_code_expired)</b>: this code's authorization period{ended}. "
            "Ask the creator to extend it (in /codes, Extend) or to make a new one, then apply "
            "it again."
        )
    if reason == "taken":
        return (
            "❌ This code is already used by another advertiser: a Spark code works for one "
            "advertiser only. Ask the creator for a code of your own."
        )
    if reason == "own":
        return ("This is your own code. Send it to the advertiser; they apply it with "
                "<code>/apply</code>.")
    return (
        "❌ <b>auth_code_not_found</b>: the code has been deleted, or was never made. Ask the "
        "creator for a new code."
    )


def code_applied_for_creator(video: str, advertiser: str, until: datetime) -> str:
    return (
        f"📣 {esc(advertiser)} applied your Spark code for {video}. It works for them until "
        f"{when(until)}; /codes to extend or delete it."
    )


def code_expired_for_creator(video: str, applied_by: str | None, ended: datetime) -> str:
    used = f"; {esc(applied_by)} can't use it for new ads any more" if applied_by else ""
    return (
        f"⌛ Your Spark code for {video} expired on {when(ended)}{used}. To make it work "
        "again, extend it in /codes, or make a new one with /code."
    )


def code_expired_for_advertiser(video: str, creator: str, ended: datetime) -> str:
    return (
        f"⌛ The Spark code for {video} from {esc(creator)} expired on {when(ended)} (Ads "
        "Manager answers error 4025, auth_code_expired). Ask the creator to extend it; it then "
        "works for you again without applying it again."
    )


def code_deleted_for_advertiser(video: str, creator: str) -> str:
    return (
        f"The Spark code for {video} from {esc(creator)} was deleted by the creator; it now "
        "answers auth_code_not_found. Ask them for a new code if you still need the post."
    )


def code_extended_for_advertiser(video: str, creator: str, until: datetime) -> str:
    return (f"The Spark code for {video} from {esc(creator)} was extended: it works for you "
            f"until {when(until)}.")


def spark_erased(codes: int) -> str:
    """Added to /deleteme's summary."""
    gone = (f"{codes} unused Spark code{'s' if codes != 1 else ''} deleted. " if codes else "")
    return (f"\n{gone}Spark codes an advertiser applied keep working until they end, naming "
            "you as a deleted user.")


# --- Meta: Instagram and Facebook Pages, partner access (issue 10) -------------------------------
# Facts: Meta's Business Help Center as mirrored by third parties, and third-party guides where
# nothing official was found; where only a third party says so, the text says so.

_AGENCY_PORTFOLIO = (
    "Does your agency have its own <b>business portfolio</b> in Meta Business Suite, and do "
    "you know its <b>Business ID</b>?",
    "Meta partner access goes from the owner's business portfolio to yours: the owner adds "
    "your portfolio as a partner by its Business ID. A business portfolio (once called "
    "Business Manager) holds a business's Pages, Instagram accounts and ad accounts, and is "
    "managed in Meta Business Suite.",
    "Create a business portfolio at business.facebook.com, then add your own Page, Instagram "
    "account and ad account to it <b>before</b> inviting anyone: a new, empty portfolio that "
    "sends invitations straight away may be put under a security review. Your Business ID is "
    "shown in your portfolio's settings in Meta Business Suite.",
    "your agency's own business portfolio, and its Business ID",
)
PREREQUISITES["instagram"] = {
    "agency_portfolio": _AGENCY_PORTFOLIO,
    "professional_account": (
        "Is the Instagram account a <b>professional account</b> (Business or Creator)?",
        "Only professional Instagram accounts can be connected to a Facebook Page and a "
        "business portfolio; a personal account can't enter Meta's business tools.",
        "The owner switches the account to a professional one (Business or Creator) in the "
        "Instagram app's settings. If they start connecting it to a Page while it is still "
        "personal, Facebook asks them to convert it along the way.",
        "the Instagram account is a professional (Business or Creator) account",
    ),
    "connected_page": (
        "Is the Instagram account <b>connected to a Facebook Page</b>?",
        "In Meta's business tools an Instagram account is reached through the Facebook Page "
        "it is connected to, one Page at a time.",
        "The owner connects it from the Page: Page <b>Settings</b> → <b>Linked accounts</b> → "
        "Instagram → <b>Connect account</b>, logs in to Instagram and confirms adding it to "
        "the business portfolio. (This path comes from third-party guides; Meta's menus "
        "change often.)",
        "the Instagram account is connected to one Facebook Page",
    ),
    "page_in_portfolio": (
        "Is that Page in the owner's <b>business portfolio</b> (Meta Business Suite)?",
        "The owner shares the Instagram account with your portfolio from theirs, so the Page "
        "and its Instagram account must sit in a business portfolio, and a Page sits in one "
        "portfolio at a time.",
        "The owner adds the Page in Meta Business Suite: Settings → Accounts → <b>Pages</b> → "
        "<b>Add</b>. It fails when another portfolio already owns the Page (that portfolio's "
        "admin must remove it first), when Instagram isn't connected to the Page yet, or, "
        "according to a third-party guide, when they have been the Page's admin for less than "
        "about 7 days.",
        "that Page is in the owner's business portfolio",
    ),
}
PREREQUISITES["facebook"] = {
    "agency_portfolio": _AGENCY_PORTFOLIO,
    "page_portfolio": (
        "Is the Page in a <b>business portfolio</b> (Meta Business Suite)?",
        "It decides who approves in Meta: the admin of the portfolio that owns the Page, or, "
        "when no portfolio owns it, the Page's admin.",
        "That's fine: then the <b>Page's admin</b> decides. You ask from your portfolio "
        "(Accounts → Pages → Add → <b>Request access to a Page</b>) and they approve on the "
        "Page (Page settings → Page roles → <b>Partner request</b> → Respond to request). Send "
        "your Linkpilot request to that person.",
        "you know who approves: the portfolio that owns the Page, or the Page's admin",
    ),
    "approver_full_control": (
        "Does the person who will approve have <b>full control</b> of the Page (or of the "
        "portfolio that owns it)?",
        "Only someone with full control can give a partner access; without it they don't even "
        "see <b>Partners</b> in the settings. Full control (once \"admin\") manages "
        "everything, including people and partners.",
        "Ask someone with full control of the owner's portfolio to approve instead, or to give "
        "the approver full control (Settings → People in Meta Business Suite). If "
        "<b>Partners</b> is missing from their Settings, they don't have it.",
        "the person approving has full control of the Page",
    ),
    "two_factor": (
        "Is <b>two-factor authentication</b> on for the person who will approve?",
        "Meta asks for two-factor authentication before a partner can be added.",
        "They turn on two-factor authentication in their Facebook account's security "
        "settings, then add you.",
        "two-factor authentication is on for the person approving",
    ),
}

# Meta's own names for the access it gives, and what each means in plain words.
SCOPE_NAMES.update({
    "full_control": "Full control",
    "content": "Content",
    "community_activity": "Community activity",
    "messages_calls": "Messages and calls",
    "ads": "Ads",
    "insights": "Insights",
    "leads": "Leads",
})
SCOPE_PLAIN = {
    "full_control": "everything, settings and who else has access included (a partner can't "
                    "share it onward, nor do Meta's sensitive actions)",
    "content": "publish, edit and delete posts and other content as the account",
    "community_activity": "answer and moderate comments and other activity",
    "messages_calls": "read and answer messages and calls as the account",
    "ads": "create and run ads as the account",
    "insights": "see how the account, its posts and its ads perform",
    "leads": "see and download the leads its ads collect",
}
SCOPE_MEANINGS.update({
    scope: f"<b>{SCOPE_NAMES[scope]}</b>: they can {plain}." for scope, plain in SCOPE_PLAIN.items()
})
PERMISSIONS_QUESTIONS = {
    platform: (
        "Which access should the owner give your portfolio? Meta offers <b>Full control</b>, or "
        "<b>partial access</b> with the tasks you pick. Tap to select, then <b>Continue</b>."
    ) for platform in ("instagram", "facebook")
}
EDIT_FIELDS["business_id"] = "Business ID"
STEP_TITLES.update({"business_id": "your Business ID", "duration": "how long"})
TEXT_FIELDS.update({"business_id": "The Business ID", "access_days": "The number of days"})
STATUS_WORDS["ended"] = "ended (temporary access over)"
CARD_OUTCOMES["ended"] = "⌛ Temporary access ended"

HANDLE_QUESTIONS = {
    "instagram": (
        "Which Instagram account should be linked? Send its <b>username</b>, like "
        "<code>@brand.name</code>, or paste its profile link."
    ),
    "facebook": (
        "Which Facebook Page should be linked? Send the Page's <b>username</b> (like "
        "<code>brand.name</code>), its numeric <b>Page ID</b>, or paste its address "
        "(<code>facebook.com/…</code> or <code>…/profile.php?id=…</code>).\n"
        "<i>A number on its own is read as a Page ID: Meta's rules don't say a username needs "
        "a letter, but a third-party source does.</i>"
    ),
}
HANDLE_PROBLEMS_BY_PLATFORM = {
    "instagram": {
        "bad_characters": "An Instagram username can only contain letters, digits, "
                          "<code>_</code> and <code>.</code>; this one has {detail}.",
        "too_long": "An Instagram username can have at most {limit} characters (a rule "
                    "reported by third-party sources; Instagram's help doesn't state it).",
        "video_link": "That's a link to an Instagram post or reel, not to an account. Send "
                      "the username of the account it's from.",
        "video_from": "That link is to a post, and I need the account: it is from "
                      "<code>@{handle}</code>; send the account's username.",
    },
    "facebook": {
        "bad_characters": "A Facebook Page username can only contain letters, digits and "
                          "<code>.</code>; this one has {detail}. A numeric Page ID works too.",
        "too_short": "A Facebook Page username has at least {limit} characters.",
        "too_long": "Facebook publishes no maximum length for a username; I take up to {limit} "
                    "characters, and this is longer. Paste the Page's address instead.",
        "video_link": "That's a link to a post or video, not to the Page. Send the Page's "
                      "username or ID, or paste the Page's own address.",
        "video_from": "That link is to a post, and I need the Page: it is from "
                      "<code>{handle}</code>; send the Page's username.",
    },
}

BUSINESS_ID_QUESTION = (
    "What is your agency's <b>Business ID</b> (your business portfolio's ID in Meta Business "
    "Suite)? The owner enters it to add you as a partner.\n"
    "<i>It is a long number: 16 digits according to the one (third-party) source that says; "
    "Meta doesn't publish its length, so 15 to 17 digits are accepted.</i>"
)
ANSWER_PROBLEMS = {
    "business_id": {
        "empty": "Please send your Business ID (digits only).",
        "not_digits": "A Business ID is made of digits only; please send just the number.",
        "too_short": "A Business ID has {low} to {high} digits; this one has {length}.",
        "too_long": "A Business ID has {low} to {high} digits; this one has {length}.",
    },
    "access_days": {
        "empty": "Send a number of days from {low} to {high}, or tap a button.",
        "not_digits": "Send a number of days from {low} to {high}, or tap a button.",
        "out_of_range": "Temporary access lasts {low} to {high} days (Meta's range); send a "
                        "number in it, or tap <b>Until removed</b>.",
    },
}


def answer_problem(field: str, problem: str, low: int = 0, high: int = 0,
                   length: int = 0) -> str:
    """Why a typed Business ID or number of days was refused."""
    return ANSWER_PROBLEMS[field][problem].format(low=low, high=high, length=length)


UNTIL_REMOVED = "Until removed"


def days_label(days: int) -> str:
    return f"{days} days"


def duration_question(low: int, high: int) -> str:
    return (
        "How long should the access last?\n"
        "• <b>Until removed</b>: until the owner or you end it.\n"
        f"• A number of days from the approval ({low} to {high}): Linkpilot ends it then, "
        "tells you both, and reminds the owner to remove it in Meta.\n"
        "Tap a length, or type a number of days.\n"
        f"<i>Meta documents temporary access of {low} to {high} days for people in a business "
        "portfolio; its help says nothing of partners, so the end is kept here in Linkpilot "
        "rather than set in Meta.</i>"
    )


def access_words(days: int | None) -> str:
    """How long an approval lasts, in a few words."""
    return f"{days} days from approval, then it ends by itself" if days else "until removed"


def meta_lines(business_id: str | None, access_days: int | None) -> list[str]:
    """The lines a Meta request adds to a summary or a card."""
    if business_id is None:
        return []
    return [f"Agency's Business ID: <code>{esc(business_id)}</code>",
            f"Access: {access_words(access_days)}"]


def plain_scopes(scopes: list[str]) -> list[str]:
    """Each permission that has plain words, as a line of its own."""
    return [f"  – {SCOPE_NAMES[s]}: {SCOPE_PLAIN[s]}" for s in scopes if s in SCOPE_PLAIN]


def _asset(platform: str, handle: str) -> str:
    return f"<b>{esc(account(platform, handle))}</b> ({PLATFORM_NAMES[platform]})"


def _tasks(scopes: list[str]) -> str:
    if "full_control" in scopes:
        return "<b>Full control</b>"
    return "<b>partial access</b> with the tasks " + ", ".join(
        f"<b>{SCOPE_NAMES[s]}</b>" for s in scopes)


def meta_grant_steps(platform: str, handle: str, business_id: str, scopes: list[str]) -> str:
    """Where the owner gives a partner access in Meta Business Suite."""
    steps = (
        "In <b>Meta Business Suite</b>: <b>Settings</b> → <b>Users</b> → <b>Partners</b> → "
        f"<b>Add</b> (give a partner access to your assets) → enter Business ID "
        f"<code>{esc(business_id)}</code> → choose {_asset(platform, handle)} as the asset "
        f"→ choose {_tasks(scopes)} → save."
    )
    return steps + GRANT_STEPS_MORE.get(platform, "")


# What else a platform's owner may need to know about granting access.
GRANT_STEPS_MORE = {
    "facebook": (
        " If no portfolio owns the Page, the Page's admin approves the agency's partner "
        "request on the Page instead: Page settings → Page roles → <b>Partner request</b> → "
        "Respond to request."
    ),
}


META_REMOVE_STEPS = (
    "Meta Business Suite → <b>Settings</b> → <b>Users</b> → <b>Partners</b> → select the "
    "partner → <b>Remove</b>. Then check <b>People</b> and the account's own access: people the "
    "partner assigned, or access given directly on the Page, can stay after the partner goes."
)


def _temporary_note(days: int | None) -> str:
    if not days:
        return ""
    return (
        f"\n\nThis access is for <b>{days} days</b>. Meta documents temporary access for "
        "people in a portfolio, not for partners, so it isn't set in Meta: Linkpilot ends the "
        "approval when the time is up and tells you both, with a reminder to remove the "
        "partner in Meta."
    )


def meta_approved_for_advertiser(platform: str, handle: str, ad_account: str,
                                 business_id: str, scopes: list[str],
                                 days: int | None) -> str:
    return (
        f"✅ <b>Authorized in Linkpilot</b>: the owner of {esc(account(platform, handle))} "
        "agreed to give your "
        f"business portfolio access for the ad account {esc(ad_account)}.\n\n"
        "Linkpilot records consent; it changes nothing in Meta. The owner gives the access "
        f"there:\n{meta_grant_steps(platform, handle, business_id, scopes)}\n"
        f"Then it shows in your portfolio's accounts and on the owner's Partners tab; assign "
        "your people to it in your own Settings → People (you can't give them more than you "
        f"were given).{_temporary_note(days)}\n\n"
        "When it ends, remove the access you gave your own people to it: it can outlast the "
        "partnership. You can unlink it here any time from /accounts."
    )


def meta_approved_for_owner(requester: str, platform: str, handle: str, business_id: str,
                            scopes: list[str], days: int | None) -> str:
    return (
        f"Recorded in Linkpilot: you approved {esc(requester)}'s request to use "
        f"{esc(account(platform, handle))} "
        "for ads. Nothing has changed in Meta yet. To give them the access:\n"
        f"{meta_grant_steps(platform, handle, business_id, scopes)}{_temporary_note(days)}\n\n"
        f"To take it away later: {META_REMOVE_STEPS} Withdraw your approval here any time "
        "with /owned."
    )


def meta_revoked_for_advertiser(handle: str, ad_account: str) -> str:
    return (
        f"The owner of {esc(handle)} withdrew their approval in Linkpilot (ad account "
        f"{esc(ad_account)}). Stop using it in ads; if your portfolio was added as a partner in "
        "Meta, the owner removes it there, and you should remove the access you gave your own "
        "people to the account (Settings → People): it can stay after the partner is removed."
    )


def meta_revoked_for_owner(requester: str, handle: str, business_id: str | None) -> str:
    return (
        f"Recorded in Linkpilot: your approval for {esc(requester)} to use {esc(handle)} is "
        "withdrawn, and they have been told. Linkpilot can't change Meta: if you added their "
        f"business (Business ID <code>{esc(business_id or '?')}</code>) as a partner, remove "
        f"it: {META_REMOVE_STEPS}"
    )


def meta_unlinked_for_advertiser(handle: str) -> str:
    return (
        f"Unlinked in Linkpilot: you no longer have the owner's approval for {esc(handle)}. "
        "Stop using it in ads and remove the access you gave your own people to it (Settings → "
        "People); the owner has been asked to remove your portfolio under Partners."
    )


def meta_unlinked_for_owner(requester: str, handle: str, business_id: str | None) -> str:
    return (
        f"{esc(requester)} unlinked {esc(handle)} in Linkpilot: they no longer have your "
        f"approval to use it for ads. If their business (Business ID "
        f"<code>{esc(business_id or '?')}</code>) is a partner in Meta, remove it: "
        f"{META_REMOVE_STEPS}"
    )


def access_ended_for_advertiser(handle: str, days: int | None) -> str:
    return (
        f"⌛ Your temporary access to {esc(handle)} ({days} days) has ended in Linkpilot. "
        "Stop using it in ads, and remove the access you gave your own people to it; the "
        "owner has been reminded to remove your portfolio as a partner. Ask again with /link "
        "if you need more time."
    )


def access_ended_for_owner(requester: str, handle: str, days: int | None,
                           business_id: str | None) -> str:
    return (
        f"⌛ The {days} days of access you approved for {esc(requester)} to {esc(handle)} are "
        "over: Linkpilot records the approval as ended. Meta may not end a partner's access by "
        f"itself: if their business (Business ID <code>{esc(business_id or '?')}</code>) is "
        f"still a partner, remove it: {META_REMOVE_STEPS}"
    )


def meta_allowing(handle: str, scopes: list[str], days: int | None) -> str:
    lines = [f"<b>What approving this request for {esc(handle)} allows</b>"]
    lines += [SCOPE_MEANINGS[s] for s in scopes]
    lines.append(f"For how long: {access_words(days)}.")
    lines.append("Approving here records your consent in Linkpilot; nothing happens in Meta "
                 "until you add their business as a partner in Meta Business Suite, and you "
                 "choose the tasks there. Approve only advertisers you know, and withdraw any "
                 "time with /owned.")
    return "\n\n".join(lines)


def meta_confirm_unlink(handle: str, ad_account: str) -> str:
    return (
        f"Unlink {esc(handle)} from the ad account {esc(ad_account)} in Linkpilot? You will "
        "need the owner's approval again to use it, and the owner will be asked to remove your "
        "portfolio as a partner in Meta."
    )


def meta_confirm_revoke(handle: str, requester: str, ad_account: str) -> str:
    return (
        f"Withdraw {esc(requester)}'s approval to use {esc(handle)} (ad account "
        f"{esc(ad_account)})? Linkpilot will record it and tell them; it can't change Meta by "
        "itself, so I'll show you where to remove their business as a partner."
    )


def access_until(ends_at: datetime | None) -> str:
    """After a grant in a list: when its temporary access ends ("" when it doesn't)."""
    return f" · temporary, until {when(ends_at)}" if ends_at else ""


def meta_own_handle(handle: str) -> str:
    return (
        f"You have claimed {esc(handle)} yourself, so there is nobody to ask: as its owner you "
        "can add it to your own business portfolio in Meta Business Suite directly. Edit the "
        "request to ask for someone else's account, or Cancel it."
    )
# --- teams (issue 10): ad accounts' members and roles -------------------------------------------
ROLE_NAMES = {"admin": "Admin", "operator": "Operator", "analyst": "Analyst"}
ROLE_ARTICLES = {"admin": "an admin", "operator": "an operator", "analyst": "an analyst"}
ROLE_MEANINGS = {
    "admin": "makes and unlinks requests, invites people and changes roles",
    "operator": "makes and unlinks requests",
    "analyst": "sees the requests' status only",
}


def role_known(accounts: list[tuple[str, str]]) -> str:
    """Said instead of the role question, when Linkpilot knows the answer."""
    if not accounts:
        return ""
    roles = [f"{ROLE_ARTICLES[role]} of <b>{esc(name)}</b>" for name, role in accounts[:3]]
    more = f" (and {len(accounts) - 3} more)" if len(accounts) > 3 else ""
    listed = roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " and " + roles[-1]
    return (
        f"✅ Ad account role: you are {listed}{more} in Linkpilot, so I won't ask. "
        "For an ad account Linkpilot doesn't know yet, you need Admin or Operator access "
        "there too.\n\n"
    )


def not_in_team(reason: str, ad_account: str) -> str:
    """Why the link flow won't take an ad account (the question is asked again)."""
    name = f"<b>{esc(ad_account)}</b>"
    if reason == "analyst":
        return (
            f"You are an analyst of {name} in Linkpilot: analysts see its requests' status "
            f"but can't make requests. Ask an admin of {name} to make you an operator "
            "(in /team), or name another ad account."
        )
    return (
        f"{name} has a team in Linkpilot and you are not in it, so you can't make requests "
        "for it. Ask one of its admins for an invite link (/team → Invite), or name another "
        "ad account."
    )


def team_refusal(reason: str, ad_account: str = "", role: str = "", *,
                 popup: bool = False) -> str:
    """Why a team action (or a cancel or unlink by a team member) was refused (`popup`: as a
    button's answer, which is plain text)."""
    name = (ad_account if popup else esc(ad_account)) or "this ad account"
    return {
        "stale": f"The team of {name} has changed since; here it is as it is now.",
        "not_admin": f"Only an admin of {name} can do that; you are "
                     f"{ROLE_ARTICLES.get(role, 'a member')}.",
        "last_admin": f"{name} needs at least one admin: make someone else an admin first.",
        "gone": "That team or member is no longer there.",
        "invite_used": f"This invite to {name} was used already: each one works once. "
                       "Ask an admin of the team for a new one.",
        "invite_expired": f"This invite to {name} has expired. Ask an admin of the team for "
                          "a new one.",
        "invite_invalid": "This invite link isn't valid. Ask the team's admin for a new one.",
        "already_member": f"You are already {ROLE_ARTICLES.get(role, 'a member')} of {name}, "
                          "so this invite stays unused, for the person it was meant for.",
        "exists": f"{name} already has a team in Linkpilot. Ask one of its admins for an "
                  "invite link.",
        "analyst": f"You are an analyst of {name}: analysts see its requests' status only, so "
                   "you can't cancel or unlink them. Ask an admin to make you an operator.",
        "not_member": f"You are no longer in the team of {name}, so you can't cancel or "
                      "unlink its requests.",
    }[reason]


TEAMS_EMPTY = (
    "You are not in any ad account's team yet. When you send a link request for an ad account "
    "Linkpilot doesn't know, you become its admin; you can also add one with "
    "<code>/team new Ad account name</code>."
)
TEAMS_TITLE = "<b>Your ad accounts' teams</b>"
TEAM_NEW_HINT = "Add an ad account: <code>/team new Ad account name</code>"
TEAM_USAGE = (
    "To add an ad account: <code>/team new Ad account name</code>. /team alone lists your teams."
)
ALL_TEAMS = "« All teams"
BACK_TO_TEAM = "« Back"
LEAVE_TEAM = "Leave the team"
REMOVE_MEMBER = "Remove from the team"


def teams_line(ad_account: str, role: str) -> str:
    return f"• <b>{esc(ad_account)}</b>: {ROLE_ARTICLES[role]}"


def team_view(ad_account: str, my_role: str, members: list[tuple[str, str, bool]]) -> str:
    """One team: who has which role (name, role, is it me)."""
    lines = [f"<b>{esc(ad_account)}</b>: you are {ROLE_ARTICLES[my_role]} "
             f"({ROLE_MEANINGS[my_role]})", "", "Members:"]
    for name, role, me in members:
        lines.append(f"• {esc(name)}{' (you)' if me else ''}: {ROLE_NAMES[role]}")
    if my_role == "admin":
        lines += ["", "Tap a member to change their role or remove them; an invite link "
                      "lets someone join with the role you choose."]
    return "\n".join(lines)


def member_view(name: str, role: str, ad_account: str, me: bool) -> str:
    who = "You are" if me else f"{esc(name)} is"
    return (f"{who} {ROLE_ARTICLES[role]} of <b>{esc(ad_account)}</b> "
            f"({ROLE_MEANINGS[role]}).")


def member_button(name: str, role: str) -> str:
    label = f"{name} · {ROLE_NAMES[role]}"
    return label if len(label) <= 48 else label[:47] + "…"


def invite_button(role: str) -> str:
    return f"Invite {ROLE_ARTICLES[role].split()[1]}"


def make_role_button(role: str) -> str:
    return f"Make {ROLE_ARTICLES[role]}"


def team_invite(ad_account: str, role: str, link: str, expires: datetime) -> str:
    return (
        f"Invite to <b>{esc(ad_account)}</b> as {ROLE_ARTICLES[role]}:\n{link}\n\n"
        "Forward it to the person who should join. It works once, for one person, until "
        f"{when(expires)}."
    )


def team_joined(ad_account: str, role: str) -> str:
    return (
        f"Welcome to the team of <b>{esc(ad_account)}</b>: you are {ROLE_ARTICLES[role]} "
        f"({ROLE_MEANINGS[role]}). /team shows the team."
    )


def team_joined_for_admin(person: str, ad_account: str, role: str) -> str:
    return f"{esc(person)} joined the team of <b>{esc(ad_account)}</b> as {ROLE_ARTICLES[role]}."


def team_role_for_member(person: str, ad_account: str, role: str) -> str:
    return (f"{esc(person)} made you {ROLE_ARTICLES[role]} of <b>{esc(ad_account)}</b> "
            f"({ROLE_MEANINGS[role]}).")


def team_removed_for_member(ad_account: str) -> str:
    return f"You are no longer in the team of <b>{esc(ad_account)}</b>."


def team_heir(ad_account: str) -> str:
    return (f"The last admin of <b>{esc(ad_account)}</b> left Linkpilot, so you are its admin "
            "now (you joined its team first). /team shows the team.")


def team_created(ad_account: str) -> str:
    return (f"<b>{esc(ad_account)}</b> is in Linkpilot now, with you as its admin. Invite your "
            "colleagues from /team.")


def role_changed(name: str, role: str) -> str:
    return f"{name} is {ROLE_ARTICLES[role]} now."[:200]


def member_removed(name: str) -> str:
    return f"{name} is no longer in the team."[:200]


LEFT_TEAM = "You left the team."
TEAM_REQUESTS_TITLE = "<b>Your teams' requests</b>"


def team_request_line(handle: str, ad_account: str, status: str, platform: str,
                      requester: str) -> str:
    return request_line(handle, ad_account, status, platform) + f" · by {esc(requester)}"


READ_ONLY_NOTE = "<i>(status only: your role on its ad account doesn't allow changes)</i>"


def team_decided_for_requester(person: str, event: str, handle: str, ad_account: str) -> str:
    done = "cancelled your waiting request" if event == "cancel" else "unlinked your request"
    return f"{esc(person)}, your teammate on {esc(ad_account)}, {done} for {esc(handle)}."

# --- trust (issue 11): verified owners and operator tools -----------------------------------------

LINK_WHY["released"] = ("The claim on {handle} was released by the bot's operator, so nobody "
                        "receives its requests in Telegram now.")

STRENGTH_WORDS = {"verified": "verified", "unverified": "unverified"}


def decided_by(strength: str, handle: str) -> str:
    """The line an advertiser's decision message ends with: who decided, and how sure."""
    if strength == "verified":
        return (f"Decided by the <b>verified</b> owner of {esc(handle)} (they proved the "
                "account with the platform's own login).")
    return (f"Decided by an <b>unverified</b> claimant of {esc(handle)}: Linkpilot has not "
            "checked that the account is theirs.")


def strength_mark(strength: str) -> str:
    return " ✅ verified" if strength == "verified" else " (unverified: /verify)"


VERIFY_BUTTON = "🔐 Verify with {platform}"
VERIFY_OFF = ("Verifying an account with the platform's login is not set up on this bot; your "
              "claim stays unverified.")
VERIFY_USAGE = (
    "Send <code>/verify @yourhandle</code> (or <code>/verify instagram @name</code>) to prove "
    "an account is yours by logging in to it."
)


def verify_login(platform: str, handle: str, minutes: int) -> str:
    return (
        f"Log in to {PLATFORM_NAMES.get(platform, platform)} as "
        f"{esc(account(platform, handle))} with the button "
        f"below to prove the account is yours. The link works once, for you only, for "
        f"{minutes} minutes. Linkpilot keeps only the account's id and the time it was checked."
    )


def verify_login_link(link: str) -> str:
    return f"\n\nOr open: {esc(link)}"


def verified(handle: str, waiting: int, voided: int, took_over: bool) -> str:
    lines = [f"✅ {esc(handle)} is verified as yours. Its requests come to this chat."]
    if took_over:
        lines.append("It was claimed by someone who had not proved it; it is yours now.")
    if waiting:
        lines.append(f"Waiting for your decision: {waiting}.")
    if voided:
        lines.append(f"Approvals given for it by someone else are void: {voided}.")
    return "\n".join(lines)


def taken_over(handle: str, moved: int, voided: int) -> str:
    return (
        f"The owner of {esc(handle)} proved the account with the platform's login, so it is "
        f"no longer yours here. Requests that waited for you and went to them: {moved}. "
        f"Approvals you gave that are now void: {voided}."
    )


VERIFY_REFUSALS = {
    "wrong_state": "That sign-in did not come from the link I gave you, so I ignored it. "
                   "Nothing changed; send /verify for a new link.",
    "used": "That sign-in link was already used. Nothing changed; send /verify for a new one.",
    "expired": "That sign-in link had expired. Nothing changed; send /verify for a new one.",
    "denied": "The sign-in was cancelled at the platform. Nothing changed.",
    "code_refused": "The platform refused the sign-in (the code was used already or too old). "
                    "Nothing changed; send /verify to try again.",
    "token_expired": "The platform's access expired before I could read the account. Nothing "
                     "changed; send /verify to try again.",
    "unreachable": "I couldn't reach the platform to check the sign-in. Nothing changed; "
                   "please try /verify again later.",
    "already": "The account changed hands while you were signing in. Nothing changed; send "
               "/verify to try again.",
}


def verify_mismatch(handle: str, usernames: tuple[str, ...]) -> str:
    shown = ", ".join(f"@{esc(u)}" for u in usernames[:3]) or "no username"
    return (
        f"You logged in as {shown}, not {esc(handle)}, so {esc(handle)} is not verified. "
        "Nothing changed; log in with the right account (send /verify again)."
    )


VERIFY_PAGE_TITLE = {"ok": "Account verified", "refused": "Not verified"}
VERIFY_PAGE_OK = "{handle} is verified. You can close this page and go back to Telegram."
VERIFY_PAGE_UNKNOWN = ("This sign-in link is not one Linkpilot gave out. Nothing changed. Send "
                       "/verify to the bot in Telegram for a new one.")
VERIFIED_ALREADY = "{handle} is already verified as yours."
VERIFY_PAGE_ERROR = ("Something went wrong on Linkpilot's side, so the account was not verified. "
                     "Send /verify to the bot in Telegram to try again.")

def void_for_advertiser(handle: str, ad_account: str) -> str:
    return (
        f"⚠️ The approval for {esc(handle)} (ad account {esc(ad_account)}) is void: it was given "
        "by an unverified claimant, and the account's verified owner has now taken it over. "
        "Send a new request with /link; it will go to the verified owner."
    )


def void_for_approver(handle: str, ad_account: str) -> str:
    return (
        f"The approval you gave for {esc(handle)} (ad account {esc(ad_account)}) is void: the "
        "account's owner proved it with the platform's login."
    )


def own_handle_withdrawn(handle: str, ad_account: str) -> str:
    return (
        f"Your request for {esc(handle)} (ad account {esc(ad_account)}) is withdrawn: you proved "
        "the account is yours, so there is nobody to ask. Link it in TikTok Business Center "
        "yourself."
    )


# Operators (/admin and `linkpilot admin`): plain lines, the same in Telegram and a terminal.
BANNED = ("Sorry, this bot is not available to you. If you think this is a mistake, contact "
          "its operator.")
ADMIN_USAGE = ("usage: /admin claim [platform] @handle | release [platform] @handle | "
               "audit <request key or number> | block <user id> | unblock <user id>")


# --- Gaps of issue 10: /claim per platform, accounts as each platform writes them, Spark codes ---
CLAIM_USAGE_FOR = {
    "tiktok": "Send <code>/claim @yourhandle</code> with your TikTok username or profile link.",
    "instagram": "Send <code>/claim instagram @yourhandle</code> with your Instagram username "
                 "or profile link.",
    "facebook": "Send <code>/claim facebook yourpage</code> with your Facebook Page's username, "
                "its Page ID or its address.",
}


def claim_usage(platform: str | None) -> str:
    """How to claim an account on this platform (all platforms when none was named)."""
    usage = CLAIM_USAGE_FOR.get(platform or "")
    if usage is None:
        return CLAIM_USAGE
    return f"{usage} Requests for that account will then come to you here."


def pasted_code(code: str) -> str:
    """A Spark code sent as plain text: what it is and how to use it."""
    return (
        "That looks like a TikTok Spark Ads authorization code. Nothing was done with it. To "
        f"apply it to your ad account, send:\n<code>/apply {esc(code)}</code>\n"
        "If you made it yourself, send it to the advertiser instead; your codes are in /codes."
    )
# --- trust (issue 11): the strength of a decision wherever a request is listed --------------------

def decided_by_note(status: str, strength: str | None, *, after_status: bool = True) -> str:
    """After a request in /accounts: who approved or rejected it, and how sure Linkpilot is.
    `after_status`: the line ends with the status word ("approved"), so "by ..." follows it."""
    if not strength:
        return ""
    if strength == "void":
        return (" · <b>void</b>: approved by an unverified claimant before the account's verified "
                "owner took it over")
    who = ("the <b>verified</b> owner ✅" if strength == "verified"
           else "an <b>unverified</b> claimant")
    if after_status and status in ("authorized", "rejected"):
        return f" by {who}"
    return f" · {'rejected' if status == 'rejected' else 'approved'} by {who}"


def grant_strength(strength: str | None) -> str:
    """After an approval in /owned: whether it was given as the verified owner."""
    if strength == "verified":
        return " · ✅ verified approval"
    return " · unverified approval" if strength else ""


VERIFY_STALE = ("You no longer hold this claim here (it was released or taken over), so there is "
                "nothing to verify. Nothing changed; /claim or /verify starts again.")
