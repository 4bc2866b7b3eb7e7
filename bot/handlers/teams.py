"""Teams (issue 10): /team, its buttons, invite links (/start inv_...), and the team check in
front of cancelling or unlinking a request."""

from __future__ import annotations

from telegram import Update

from bot import keyboards, render, texts
from bot.context import Context, traced
from bot.handlers import requests
from bot.handlers.link import unsafe_reply
from bot.handlers.messaging import answer, redraw, reply
from bot.handlers.requests import actor_of
from bot.render import Reply
from flows import teams
from flows.platforms import InvalidAdAccountName, UnsafeText
from flows.teams import TeamRefused

# --- what the messages look like ----------------------------------------------------------------

def _teams_reply(mine: list[teams.Membership]) -> Reply:
    if not mine:
        return Reply(texts.TEAMS_EMPTY)
    lines = [texts.TEAMS_TITLE, *(texts.teams_line(m.account.name, m.role) for m in mine), "",
             texts.TEAM_NEW_HINT]
    return Reply("\n".join(lines),
                 keyboards.teams_list([(m.account.id, m.account.name) for m in mine]))


def _team_reply(team: teams.Team, me: int) -> Reply:
    members = [(m.user_id, render.person(u), m.role) for m, u in team.members]
    text = texts.team_view(team.account.name, team.my_role,
                           [(name, role, user_id == me) for user_id, name, role in members])
    return Reply(text, keyboards.team_view(team.account.id, team.account.version, me,
                                           team.my_role is teams.TeamRole.ADMIN, members))


def _member_reply(team: teams.Team, member_id: int, me: int) -> Reply | None:
    for member, user in team.members:
        if member.user_id == member_id:
            return Reply(texts.member_view(render.person(user), member.role, team.account.name,
                                           member_id == me),
                         keyboards.member_view(team.account.id, team.account.version,
                                               member_id, member.role, member_id == me))
    return None


# --- commands -------------------------------------------------------------------------------------

@traced("team")
async def team_command(update: Update, context: Context) -> None:
    """/team: the person's teams; /team new <name>: add an ad account with them as admin."""
    actor, args = actor_of(update), list(context.args or [])
    if not args:
        await reply(update, _teams_reply(await teams.my_teams(context.uow, actor.id)))
        return
    if args[0].lower() != "new" or len(args) < 2:
        await reply(update, texts.TEAM_USAGE)
        return
    message = update.message
    raw = (message.text or "").split(maxsplit=2)[2] if message else " ".join(args[1:])
    await context.uow.users.seen(actor.id, actor.first_name, actor.username,
                                 context.deps.clock())
    try:
        account = await teams.new_ad_account(context.uow, actor.id, raw, context.deps.clock())
    except InvalidAdAccountName as exc:
        await reply(update, texts.AD_ACCOUNT_PROBLEMS[exc.problem])
        return
    except UnsafeText as exc:
        await reply(update, unsafe_reply(exc, "ad_account"))
        return
    except TeamRefused as refused:
        await reply(update, texts.team_refusal(refused.reason, refused.ad_account, refused.role))
        return
    await reply(update, texts.team_created(account.name))


@traced("team_invite")
async def open_invite(update: Update, context: Context) -> None:
    """/start inv_<token>: join a team through a one-time invite link."""
    actor = actor_of(update)
    now = context.deps.clock()
    await context.uow.users.seen(actor.id, actor.first_name, actor.username, now)
    try:
        joined = await teams.join(context.uow, actor.id, (context.args or [""])[0], now)
    except TeamRefused as refused:
        await reply(update, texts.team_refusal(refused.reason, refused.ad_account, refused.role))
        return
    await reply(update, texts.team_joined(joined.account.name, joined.role))


# --- buttons --------------------------------------------------------------------------------------

@traced("team_button")
async def on_team_button(update: Update, context: Context) -> None:
    """A team's buttons: show it, invite, pick a member, change a role, remove or leave."""
    query, deps = update.callback_query, context.deps
    assert query is not None and query.data is not None
    press = keyboards.parse_team(query.data)
    me, now, uow = actor_of(update).id, deps.clock(), context.uow
    try:
        if press is None:
            raise TeamRefused("gone")
        aid, version, args = press.ad_account_id, press.version, press.args
        if press.action == "l":
            await answer(query)
            await redraw(query, _teams_reply(await teams.my_teams(uow, me)))
        elif press.action == "o":
            await answer(query)
            await redraw(query, _team_reply(await teams.team(uow, me, aid), me))
        elif press.action == "i" and len(args) == 1:
            await teams.invite(uow, me, aid, version, args[0], now,
                               deps.settings.team_invite_lifetime)
            await answer(query)
        elif press.action == "m" and len(args) == 1 and args[0].isdigit():
            team = await teams.team(uow, me, aid)
            if team.account.version != version:
                raise TeamRefused("stale", team.account.name)
            shown = _member_reply(team, int(args[0]), me)
            if shown is None:
                raise TeamRefused("gone")
            await answer(query)
            await redraw(query, shown)
        elif press.action == "s" and len(args) == 2 and args[0].isdigit():
            role = await teams.change_role(uow, me, aid, version, int(args[0]), args[1], now)
            team = await teams.team(uow, me, aid)
            name = next((render.person(u) for m, u in team.members
                         if m.user_id == int(args[0])), "")
            await answer(query, texts.role_changed(name, role))
            await redraw(query, _team_reply(team, me))
        elif press.action == "x" and len(args) == 1 and args[0].isdigit():
            await _remove(update, context, aid, version, int(args[0]))
        else:
            raise TeamRefused("gone")
    except TeamRefused as refused:
        await answer(query, texts.team_refusal(refused.reason, refused.ad_account,
                                               refused.role, popup=True))
        if refused.reason == "stale" and press is not None:
            await _redraw_current(update, context, press.ad_account_id)


async def _redraw_current(update: Update, context: Context, ad_account_id: int) -> None:
    """Show the team as it is now, with buttons that work (or the list, if they left it)."""
    query, me = update.callback_query, actor_of(update).id
    assert query is not None
    try:
        fresh = _team_reply(await teams.team(context.uow, me, ad_account_id), me)
    except TeamRefused:
        fresh = _teams_reply(await teams.my_teams(context.uow, me))
    await redraw(query, fresh)


async def _remove(update: Update, context: Context, ad_account_id: int, version: int,
                  member_id: int) -> None:
    query, uow, me = update.callback_query, context.uow, actor_of(update).id
    assert query is not None
    team = await teams.team(uow, me, ad_account_id)
    name = next((render.person(u) for m, u in team.members if m.user_id == member_id), "")
    await teams.remove(uow, me, ad_account_id, version, member_id, context.deps.clock())
    if member_id == me:
        await answer(query, texts.LEFT_TEAM)
        await redraw(query, _teams_reply(await teams.my_teams(uow, me)))
        return
    await answer(query, texts.member_removed(name))
    await redraw(query, _team_reply(await teams.team(uow, me, ad_account_id), me))


@traced("request_button_team_check")
async def on_guarded_request_button(update: Update, context: Context) -> None:
    """Cancel or unlink: the requester's role on the request's ad account must still allow it;
    then it goes on as any request button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    key, _ = keyboards.parse_pair(query.data, "r") or ("", "")
    try:
        await teams.check_request_action(context.uow, actor_of(update).id, key)
    except TeamRefused as refused:
        await answer(query, texts.team_refusal(refused.reason, refused.ad_account, popup=True))
        return
    await requests.on_request_button(update, context)
