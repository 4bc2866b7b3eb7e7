"""Verified owners (issue 11): /verify gives a platform login link; the platform sends the
browser back to our small HTTP endpoint, which checks the login and tells both the browser
(a short page) and the person in Telegram.

The endpoint is served by the webhook server when the bot runs in webhook mode, else by a
small server of its own on OAUTH_LISTEN. Logins are off unless their settings are there.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import timedelta
from html import escape
from typing import Any

import httpx
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application

from bot import keyboards, texts
from bot.context import Context, Deps, deps_of, traced
from bot.handlers.messaging import answer, reply
from bot.handlers.requests import actor_of
from bot.oauth import fetch_identity
from bot.render import Reply
from bot.settings import Settings, login_credentials, logins_enabled, oauth_address
from flows import verification
from flows.platforms import (
    AccountArgs,
    InvalidHandle,
    UnsafeText,
    account,
    get_platform,
    read_account_args,
)
from flows.records import LoginRow, Notice
from flows.request_flow import Refused
from flows.verification import LoginRefused, Provider

logger = logging.getLogger(__name__)

OAUTH_PATH = "/oauth"


def provider_of(settings: Settings, provider_id: str) -> Provider | None:
    provider = verification.PROVIDERS.get(provider_id)
    if provider is not None and settings.oauth_api_base_url:
        provider = provider.at(settings.oauth_api_base_url)
    return provider


def redirect_uri(settings: Settings, provider: Provider) -> str:
    assert settings.oauth_redirect_base_url
    return f"{settings.oauth_redirect_base_url.rstrip('/')}{OAUTH_PATH}/{provider.id}"


def verify_keyboard(platform_id: str, handle_key: str) -> InlineKeyboardMarkup:
    """The "Verify" button under a claim (callback data `v:<platform>:<handle key>`)."""
    name = texts.PLATFORM_NAMES.get(platform_id, platform_id)
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        texts.VERIFY_BUTTON.format(platform=name),
        callback_data=keyboards.verify_data(platform_id, handle_key))]])


# --- Telegram: /verify and the Verify button ----------------------------------------------------

@traced("verify")
async def verify(update: Update, context: Context) -> None:
    """/verify [platform] @handle: a one-time login link that proves the handle is yours.
    Without a handle: the one claim of yours that is not verified yet."""
    args = list(context.args or [])
    said = read_account_args(args)  # a bare platform word is no handle (issue 10, gaps)
    platform_id = said.platform.id if said.platform else ""
    if said.raw is None:
        unverified = [c for c in await context.uow.claims.of_owner(actor_of(update).id)
                      if c.verified_at is None and c.platform == (platform_id or c.platform)]
        if len(args) > 1 or len(unverified) != 1:
            await reply(update, texts.VERIFY_USAGE)
            return
        platform_id, said = unverified[0].platform, AccountArgs(None, unverified[0].handle)
    if said.raw is None or platform_id not in texts.PLATFORM_NAMES:
        await reply(update, texts.VERIFY_USAGE)
        return
    try:
        handle = get_platform(platform_id).handle_rule.normalise(said.raw)
    except (InvalidHandle, UnsafeText, KeyError):
        await reply(update, texts.VERIFY_USAGE)
        return
    await reply(update, await _login_link(context, update, platform_id, handle))


@traced("verify_button")
async def on_verify_button(update: Update, context: Context) -> None:
    """The Verify button under a claim: the same as /verify for that handle, while the presser
    still holds the claim. A button from before a release or a takeover only says so."""
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = keyboards.parse_verify(query.data)
    if pressed is None:
        await answer(query, texts.refusal("gone"))
        return
    platform_id, key = pressed
    claim = await context.uow.claims.get(platform_id, key)
    if claim is None or claim.owner_id != actor_of(update).id:
        await answer(query, texts.VERIFY_STALE)
        return
    await answer(query)
    await reply(update, await _login_link(context, update, platform_id, claim.handle))


async def _login_link(context: Context, update: Update, platform_id: str,
                      handle: str) -> Reply | str:
    settings = context.deps.settings
    provider = provider_of(settings, verification.PROVIDER_OF.get(platform_id, ""))
    credentials = login_credentials(settings, provider.id) if provider else None
    if provider is None or credentials is None:
        return texts.VERIFY_OFF
    lifetime = timedelta(minutes=settings.login_minutes)
    try:
        started = await verification.start_verification(
            context.uow, actor_of(update), platform_id, handle, context.deps.clock(), lifetime)
    except Refused as refused:
        if refused.reason == "verified_already":
            return texts.VERIFIED_ALREADY.format(handle=texts.esc(account(platform_id, handle)))
        return texts.VERIFY_OFF
    link = verification.authorize_address(provider, credentials[0],
                                          redirect_uri(settings, provider), started.state,
                                          started.verifier)
    shown = account(platform_id, handle)
    button = InlineKeyboardButton(f"Log in to {provider.name} as {shown}"[:64], url=link)
    return Reply(texts.verify_login(platform_id, handle, round(settings.login_minutes)),
                 InlineKeyboardMarkup([[button]]))


# --- HTTP: the platform sends the browser back here ---------------------------------------------

def _page(status: int, title: str, body: str) -> web.Response:
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            "<meta name='viewport' content='width=device-width'></head><body>"
            f"<h1>{escape(title)}</h1><p>{escape(body, quote=False)}</p></body></html>")
    return web.Response(status=status, text=html, content_type="text/html")


def _tell(uow: Any, user_id: int, text: str) -> None:
    uow.outbox.add(Notice("message", user_id, data={"text": text, "markup": None}))


def _refused_text(refused: LoginRefused, login: LoginRow) -> str:
    if refused.reason == "mismatch":
        return texts.verify_mismatch(account(login.platform, login.handle), refused.usernames)
    return texts.VERIFY_REFUSALS.get(refused.reason, texts.VERIFY_REFUSALS["code_refused"])


async def _refuse(uow: Any, refused: LoginRefused, login: LoginRow | None) -> web.Response:
    """Say no in the browser and, when the login names whom, in Telegram; keep only the
    login's use (it is single use whatever came back). Commits; the caller sends what is owed
    once the unit of work is closed."""
    if login is None:
        await uow.commit()
        return _page(400, texts.VERIFY_PAGE_TITLE["refused"], texts.VERIFY_PAGE_UNKNOWN)
    said = _refused_text(refused, login)
    _tell(uow, login.user_id, said)
    await uow.commit()
    plain = html.unescape(re.sub(r"<[^>]+>", "", said))  # the page escapes it again
    return _page(400, texts.VERIFY_PAGE_TITLE["refused"], plain)


async def complete_login(deps: Deps, provider_id: str, query: dict[str, str],
                         client: httpx.AsyncClient) -> web.Response:
    """The return from the platform: check the state, exchange the code, read who logged in,
    and prove the handle (or say why not, in the browser and in Telegram)."""
    page, owed = await _complete(deps, provider_id, query, client)
    if owed and deps.dispatcher is not None:
        await deps.dispatcher.deliver(owed)
    return page


async def _complete(deps: Deps, provider_id: str, query: dict[str, str],
                    client: httpx.AsyncClient) -> tuple[web.Response, list[Any]]:
    settings, db = deps.settings, deps.db
    provider = provider_of(settings, provider_id)
    credentials = login_credentials(settings, provider.id) if provider else None
    async with db.unit_of_work() as uow:
        try:
            if provider is None or credentials is None:
                raise LoginRefused("unknown")
            login = await verification.take_login(
                uow, provider.id, query.get("state", ""), deps.clock(),
                denied="error" in query or not query.get("code"))
        except LoginRefused as refused:
            return await _refuse(uow, refused, refused.login), uow.owed
        await uow.commit()  # the login is used up before anything is asked of the platform
    assert provider is not None and credentials is not None
    try:
        identity = await fetch_identity(
            client, provider, login.platform, code=query["code"], verifier=login.verifier,
            redirect_uri=redirect_uri(settings, provider), client_id=credentials[0],
            client_secret=credentials[1])
    except LoginRefused as refused:
        async with db.unit_of_work() as uow:
            return await _refuse(uow, refused, login), uow.owed
    async with db.unit_of_work() as uow:
        try:
            proven = await verification.prove_owner(uow, login, identity, deps.clock())
        except LoginRefused as refused:
            return await _refuse(uow, refused, login), uow.owed
        except Refused as refused:
            return await _refuse(uow, LoginRefused(refused.reason), login), uow.owed
        handle = account(proven.claim.platform, proven.claim.handle)
        # The verifier's line goes before the cards the use case owes them.
        uow.outbox.add(Notice("message", login.user_id, data={"text": texts.verified(
            handle, proven.waiting, len(proven.voided), proven.previous_owner is not None),
            "markup": None}), first=True)
        if proven.previous_owner is not None:
            _tell(uow, proven.previous_owner, texts.taken_over(
                handle, len(proven.moved),
                sum(1 for r in proven.voided if r.owner_id == proven.previous_owner)))
        await uow.commit()
    logger.info("user %s verified a %s handle", login.user_id, login.platform)
    page = _page(200, texts.VERIFY_PAGE_TITLE["ok"], texts.VERIFY_PAGE_OK.format(handle=handle))
    return page, uow.owed


def routes(application: Application[Any, Any, Any, Any, Any, Any]) -> list[web.RouteDef]:
    """The redirect endpoint, GET <OAUTH_PATH>/<provider>, to add to an aiohttp server."""

    async def on_return(request: web.Request) -> web.Response:
        try:
            async with httpx.AsyncClient() as client:
                return await complete_login(deps_of(application),
                                            request.match_info["provider"],
                                            dict(request.query), client)
        except Exception:
            # Logged without the query: it holds the login's state and code.
            logger.exception("a platform login's return failed")
            return _page(500, texts.VERIFY_PAGE_TITLE["refused"], texts.VERIFY_PAGE_ERROR)

    return [web.get(f"{OAUTH_PATH}/{{provider}}", on_return)]


async def start_server(application: Application[Any, Any, Any, Any, Any, Any]
                       ) -> web.AppRunner | None:
    """In polling mode: serve the redirect endpoint on OAUTH_LISTEN (None when logins are off).
    Clean it up with `runner.cleanup()`."""
    settings = deps_of(application).settings
    if not logins_enabled(settings):
        return None
    host, port = oauth_address(settings)
    server = web.Application()
    server.add_routes(routes(application))
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    logger.info("platform logins return to %s:%d%s", host, port, OAUTH_PATH)
    return runner
