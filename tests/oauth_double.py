"""A local double of the platforms' login endpoints (the far side of the network), served by a
real aiohttp server in-process: TikTok Login Kit v2 and Facebook Login.

It answers as the platforms do, and checks what they check: the client's id and secret, the
redirect address, single-use codes, and PKCE (S256; TikTok writes the challenge in hex,
Facebook in base64url). Who "logs in" at the authorize page is set on the double.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer

TIKTOK_CLIENT = ("tt-client-key", "tt-client-secret")
FACEBOOK_CLIENT = ("fb-app-id", "fb-app-secret")


@dataclass
class TikTokAccount:
    open_id: str
    username: str


@dataclass
class FacebookAccount:
    id: str
    pages: list[tuple[str, str | None]] = field(default_factory=list)  # (page, instagram)


@dataclass
class Code:
    provider: str
    client_id: str
    redirect_uri: str
    challenge: str
    account: Any
    used: bool = False


def _s256(verifier: str, encoding: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return digest.hex() if encoding == "hex" else \
        base64.urlsafe_b64encode(digest).decode().rstrip("=")


class OAuthDouble:
    """The platforms' login endpoints. `tiktok_user` / `facebook_user` log in at the next
    authorize; `expire_tokens` makes every access token expired by the time it is used."""

    def __init__(self) -> None:
        self.tiktok_user: TikTokAccount | None = None
        self.facebook_user: FacebookAccount | None = None
        self.expire_tokens = False
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Any] = {}
        self.refusals: list[str] = []  # why the double said no, for assertions
        self.server: TestServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v2/auth/authorize/", self._tiktok_authorize)
        app.router.add_post("/v2/oauth/token/", self._tiktok_token)
        app.router.add_get("/v2/user/info/", self._tiktok_user_info)
        app.router.add_get("/v19.0/dialog/oauth", self._facebook_authorize)
        app.router.add_get("/v19.0/oauth/access_token", self._facebook_token)
        app.router.add_get("/v19.0/me", self._facebook_me)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    # --- authorize: the person logs in, the browser is sent back with a code ---------------------
    def _authorize(self, request: web.Request, provider: str, id_param: str,
                   expected_id: str, account: Any) -> web.Response:
        q = request.query
        if q.get(id_param) != expected_id or q.get("response_type") != "code" \
                or q.get("code_challenge_method") != "S256" or not q.get("code_challenge") \
                or not q.get("redirect_uri") or "code_verifier" in q:
            self.refusals.append("bad authorize request")
            return web.Response(status=400, text="bad request")
        code = secrets.token_urlsafe(16)
        self.codes[code] = Code(provider, expected_id, q["redirect_uri"], q["code_challenge"],
                                account)
        back = urlencode({"code": code, "state": q.get("state", "")})
        raise web.HTTPFound(f"{q['redirect_uri']}?{back}")

    async def _tiktok_authorize(self, request: web.Request) -> web.Response:
        return self._authorize(request, "tiktok", "client_key", TIKTOK_CLIENT[0],
                               self.tiktok_user)

    async def _facebook_authorize(self, request: web.Request) -> web.Response:
        return self._authorize(request, "facebook", "client_id", FACEBOOK_CLIENT[0],
                               self.facebook_user)

    # --- token: the code (once) and the PKCE verifier for an access token ----------------------
    def _exchange(self, provider: str, params: Any, client: tuple[str, str], id_param: str,
                  encoding: str) -> tuple[str | None, str]:
        code = self.codes.get(params.get("code", ""))
        if (params.get(id_param), params.get("client_secret")) != client:
            return None, "invalid_client"
        if code is None or code.provider != provider:
            return None, "invalid_grant"
        if code.used:
            return None, "invalid_grant: code already used"
        code.used = True
        if params.get("redirect_uri") != code.redirect_uri:
            return None, "invalid_grant: redirect_uri"
        if _s256(params.get("code_verifier", ""), encoding) != code.challenge:
            return None, "invalid_request: Code verifier or code challenge is invalid."
        token = secrets.token_urlsafe(24)
        self.tokens[token] = code.account
        return token, ""

    async def _tiktok_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "authorization_code":
            return web.json_response({"error": "invalid_request"}, status=400)
        token, error = self._exchange("tiktok", form, TIKTOK_CLIENT, "client_key", "hex")
        if token is None:
            self.refusals.append(error)
            return web.json_response({"error": error.split(":")[0],
                                      "error_description": error, "log_id": "x"}, status=400)
        account = self.tokens[token]
        return web.json_response({"access_token": token, "expires_in": 86400,
                                  "open_id": account.open_id, "refresh_token": "r",
                                  "refresh_expires_in": 31536000, "scope": "user.info.basic",
                                  "token_type": "Bearer"})

    async def _facebook_token(self, request: web.Request) -> web.Response:
        token, error = self._exchange("facebook", request.query, FACEBOOK_CLIENT, "client_id",
                                      "base64url")
        if token is None:
            self.refusals.append(error)
            return web.json_response({"error": {"message": error, "type": "OAuthException",
                                                "code": 100}}, status=400)
        return web.json_response({"access_token": token, "token_type": "bearer",
                                  "expires_in": 5183944})

    # --- user info ------------------------------------------------------------------------------
    def _account(self, request: web.Request) -> Any:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        if self.expire_tokens:
            return None
        return self.tokens.get(token)

    async def _tiktok_user_info(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if account is None:
            return web.json_response({"data": {}, "error": {
                "code": "access_token_invalid", "log_id": "x",
                "message": "The access token is invalid or not found in the request."}},
                status=401)
        fields = request.query.get("fields", "").split(",")
        user = {k: v for k, v in (("open_id", account.open_id),
                                  ("username", account.username)) if k in fields}
        return web.json_response({"data": {"user": user},
                                  "error": {"code": "ok", "message": "", "log_id": "x"}})

    async def _facebook_me(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if account is None:
            return web.json_response({"error": {
                "message": "Error validating access token: Session has expired.",
                "type": "OAuthException", "code": 190}}, status=400)
        pages = []
        for page, instagram in account.pages:
            entry: dict[str, Any] = {"id": f"p-{page}", "username": page}
            if instagram:
                entry["instagram_business_account"] = {"id": f"ig-{instagram}",
                                                       "username": instagram}
            pages.append(entry)
        return web.json_response({"id": account.id, "accounts": {"data": pages}})
