"""The platforms' login endpoints, over HTTP (httpx): exchange the code, read the user info.

Only this module talks to TikTok or Facebook; the rules (what a login proves, what it changes)
are `flows.verification`'s. Tokens are used once, to read who logged in, and never stored.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from flows.verification import Identity, LoginRefused, Provider, UserInfoError, read_identity

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0)
# User-info error codes that mean the access token is no longer valid.
EXPIRED_CODES = frozenset({"access_token_invalid", "access_token_expired", "190"})


async def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


async def fetch_identity(client: httpx.AsyncClient, provider: Provider, platform_id: str, *,
                         code: str, verifier: str, redirect_uri: str, client_id: str,
                         client_secret: str) -> Identity:
    """Exchange the authorization code (with the PKCE verifier) and read who logged in.
    Raises LoginRefused: "code_refused" (a used, expired or forged code), "token_expired"
    (the user info refused the access token), "unreachable" (the platform did not answer)."""
    params = {provider.client_id_param: client_id, "client_secret": client_secret,
              "code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri,
              "code_verifier": verifier}
    try:
        if provider.token_method == "GET":
            answer = await client.get(provider.token_url, params=params, timeout=TIMEOUT)
        else:
            answer = await client.post(provider.token_url, data=params, timeout=TIMEOUT)
        token = (await _json(answer)).get("access_token") if answer.status_code == 200 else None
        if not isinstance(token, str) or not token:
            logger.info("%s refused a login code (HTTP %d)", provider.id, answer.status_code)
            raise LoginRefused("code_refused")
        info = await client.get(provider.userinfo_url, timeout=TIMEOUT,
                                headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        logger.warning("%s login endpoint unreachable: %s", provider.id, type(exc).__name__)
        raise LoginRefused("unreachable") from None
    try:
        return read_identity(provider, platform_id, await _json(info))
    except UserInfoError as exc:
        logger.info("%s user info refused the token (%s)", provider.id, exc.code)
        raise LoginRefused("token_expired" if exc.code in EXPIRED_CODES
                           else "code_refused") from None
