"""A mock Slack Web API server: a real local HTTP server that slack_sdk talks to via ``base_url``.

Its workspace is built from the real Slack export in ``../shared/data`` (read with the
project's export file reader), so sync is tested on real ids, threads and reactions. It
implements exactly the methods the app uses, the way Slack does: cursor pagination
(``limit`` + ``response_metadata.next_cursor``), ``ok: false`` errors (``invalid_auth``,
``not_in_channel``, ``channel_not_found``, ``missing_scope``), and HTTP 429 with
``Retry-After`` when a test asks for rate limiting. Every call is recorded (method, params,
whether the token was right) so tests assert what was read and published.

Bots see what Slack shows a bot token: public channels, private channels only when the bot is a
member, history only of channels the bot is in (``not_in_channel`` otherwise).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from teamrec.data.sources.slack_export import _Export

BOT_USER = "UBOTTEAMREC"
BOT_ID = "BTEAMREC01"
TOKEN = "xoxb-test-0123456789-SECRETSECRET"


@dataclass
class Workspace:
    """The state the mock serves: users, channels (with members) and messages per channel."""

    team_id: str
    users: list[dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    messages: dict[str, list[dict[str, Any]]]  # channel id -> every message, oldest first
    bot_channels: set[str] = field(default_factory=set)

    @classmethod
    def from_export(cls, path: Path, *, private: dict[str, bool] | None = None,
                    bot_in: set[str] | None = None) -> Workspace:
        """The export as a live workspace.

        ``private`` makes channels (by name) private, the value saying whether the bot is a
        member (the export has no private channels; Slack only lists a private channel to a bot
        that is in it). ``bot_in`` names public channels the bot is already in.
        """
        export = _Export(Path(path))
        try:
            users = export.load("users.json")
            raw_channels = export.load("channels.json")
            by_name = {c["name"]: c for c in raw_channels}
            messages: dict[str, list[dict[str, Any]]] = {c["id"]: [] for c in raw_channels}
            for name in export.names():
                if "/" not in name:
                    continue
                channel = by_name.get(name.split("/", 1)[0])
                if channel is not None:
                    messages[channel["id"]].extend(m for m in export.load(name) if isinstance(m, dict))
        finally:
            export.close()
        team_id = next((u["team_id"] for u in users if u.get("team_id")), "T0000000")
        channels: dict[str, dict[str, Any]] = {}
        bot_channels: set[str] = set()
        for c in raw_channels:
            entry = dict(c)
            entry["members"] = list(c.get("members") or [])
            is_private = c["name"] in (private or {})
            entry["is_private"] = is_private
            entry["is_channel"] = not is_private
            entry["is_group"] = is_private
            channels[c["id"]] = entry
            if (is_private and (private or {})[c["name"]]) or c["name"] in (bot_in or set()):
                bot_channels.add(c["id"])
        for chan in messages.values():
            chan.sort(key=lambda m: float(m.get("ts", 0)))
        users = [dict(u) for u in users] + [{
            "id": BOT_USER, "team_id": team_id, "name": "teamrec", "real_name": "teamrec",
            "is_bot": True, "deleted": False, "tz": "UTC", "tz_offset": 0, "profile": {},
        }]
        return cls(team_id=team_id, users=users, channels=channels, messages=messages,
                   bot_channels=bot_channels)

    def __post_init__(self) -> None:
        self._index: dict[str, tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]] = {}

    def post(self, channel: str, message: dict[str, Any]) -> None:
        """Add a message (a test's new activity)."""
        self.messages[channel].append(message)
        self.messages[channel].sort(key=lambda m: float(m.get("ts", 0)))
        self._index.pop(channel, None)

    def index(self, channel: str) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """The channel's history (newest first: top-level and broadcasts) and threads by ``ts``."""
        if channel not in self._index:
            history = [m for m in reversed(self.messages[channel])
                       if m.get("thread_ts") in (None, m.get("ts")) or m.get("subtype") == "thread_broadcast"]
            threads: dict[str, list[dict[str, Any]]] = {}
            for m in self.messages[channel]:
                if m.get("thread_ts"):
                    threads.setdefault(m["thread_ts"], []).append(m)
            for ts, thread in threads.items():  # the parent first, as Slack answers
                thread.sort(key=lambda m: (m.get("ts") != ts, float(m.get("ts", 0))))
            self._index[channel] = (history, threads)
        return self._index[channel]

    def copy(self) -> Workspace:
        """A copy a test may change (messages are shared: the mock never edits one in place)."""
        return Workspace(team_id=self.team_id, users=[dict(u) for u in self.users],
                         channels={k: {**c, "members": list(c["members"])} for k, c in self.channels.items()},
                         messages={k: list(v) for k, v in self.messages.items()},
                         bot_channels=set(self.bot_channels))

    def channel_by_name(self, name: str) -> dict[str, Any]:
        return next(c for c in self.channels.values() if c["name"] == name)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    authorized: bool
    status: int


def _encode(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise _SlackError("invalid_cursor") from None


class _SlackError(Exception):
    def __init__(self, error: str) -> None:
        self.error = error


class MockSlack:
    """The server; start with :meth:`start`, point ``WebClient(base_url=mock.base_url)`` at it."""

    #: The page size Slack uses when ``limit`` is not given.
    DEFAULT_LIMIT = 100

    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        self.workspace = workspace
        self.token = token
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._rate_limits: dict[str, list[int]] = {}  # method -> [calls to refuse, retry_after]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------
    def start(self) -> MockSlack:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                mock._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                mock._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def response_url(self, name: str = "r1") -> str:
        """A ``response_url`` for a payload; what is posted to it is recorded as ``response_url``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/{name}"

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After``."""
        self._rate_limits[method] = [times, retry_after]

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    # -- HTTP ------------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urlsplit(req.path)
        method = url.path.removeprefix("/api/")
        params: dict[str, Any] = dict(parse_qsl(url.query))
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        ctype = req.headers.get("Content-Type") or ""
        if body and "json" in ctype:
            params.update(json.loads(body))
        elif body:
            params.update(parse_qsl(body.decode()))
        if url.path.startswith("/hooks/"):  # a response_url: Bolt's respond() posts here
            with self._lock:
                self.calls.append(Call("response_url", params, True, 200))
            req.send_response(200)
            req.send_header("Content-Length", "2")
            req.end_headers()
            req.wfile.write(b"ok")
            return
        auth = req.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.pop("token", "")
        authorized = token == self.token
        with self._lock:
            limit = self._rate_limits.get(method)
            if limit and limit[0] > 0:
                limit[0] -= 1
                self.calls.append(Call(method, params, authorized, 429))
                self._send(req, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(limit[1])})
                return
        try:
            if not authorized:
                raise _SlackError("invalid_auth" if token else "not_authed")
            handler = getattr(self, "m_" + method.replace(".", "_"), None)
            if handler is None:
                raise _SlackError("unknown_method")
            with self._lock:
                payload = {"ok": True, **handler(params)}
        except _SlackError as exc:
            payload = {"ok": False, "error": exc.error}
        except Exception:  # a malformed request: Slack answers invalid_arguments, never hangs up
            payload = {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            self.calls.append(Call(method, params, authorized, 200))
        self._send(req, 200, payload, {})

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)

    def _page(self, rows: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
        start = _decode(params.get("cursor"))
        limit = int(params.get("limit") or self.DEFAULT_LIMIT)
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return {key: page, "has_more": more,
                "response_metadata": {"next_cursor": _encode(start + limit) if more else ""}}

    def _channel(self, params: dict[str, Any], *, need_member: bool) -> dict[str, Any]:
        cid = params.get("channel")
        channel = self.workspace.channels.get(cid or "")
        if channel is None or (channel["is_private"] and cid not in self.workspace.bot_channels):
            raise _SlackError("channel_not_found")
        if need_member and cid not in self.workspace.bot_channels:
            raise _SlackError("not_in_channel")
        return channel

    # -- methods ---------------------------------------------------------------------------
    def m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://example.slack.com/", "team": "Example", "user": "teamrec",
                "team_id": self.workspace.team_id, "user_id": BOT_USER, "bot_id": BOT_ID}

    def m_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._page(self.workspace.users, params, "members")

    def m_conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = set((params.get("types") or "public_channel").split(","))
        exclude_archived = str(params.get("exclude_archived", "false")).lower() in ("1", "true")
        rows = []
        for cid, c in self.workspace.channels.items():
            if c["is_private"] and ("private_channel" not in types or cid not in self.workspace.bot_channels):
                continue
            if not c["is_private"] and "public_channel" not in types:
                continue
            if exclude_archived and c.get("is_archived"):
                continue
            shown = {k: v for k, v in c.items() if k != "members"}
            shown["num_members"] = len(c["members"])
            shown["is_member"] = cid in self.workspace.bot_channels
            rows.append(shown)
        return self._page(rows, params, "channels")

    def m_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, need_member=False)
        return self._page(list(channel["members"]), params, "members")

    def m_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, need_member=False)
        if channel.get("is_archived"):
            raise _SlackError("is_archived")
        self.workspace.bot_channels.add(channel["id"])
        return {"channel": {k: v for k, v in channel.items() if k != "members"}}

    def m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, need_member=True)
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        history, _ = self.workspace.index(channel["id"])
        rows = [m for m in history if oldest < float(m["ts"]) < latest]
        return self._page(rows, params, "messages")

    def m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params, need_member=True)
        ts = params.get("ts")
        thread = self.workspace.index(channel["id"])[1].get(ts or "", [])
        if not thread:
            raise _SlackError("thread_not_found")
        return self._page(thread, params, "messages")

    def m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not params.get("user_id") or not isinstance(view, dict) or view.get("type") != "home":
            raise _SlackError("invalid_arguments")
        return {"view": {"id": "V" + params["user_id"], **view}}

    def m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if not params.get("channel"):
            raise _SlackError("channel_not_found")
        return {"channel": params["channel"], "ts": f"{1700000000 + len(self.calls)}.000100"}

    def m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel = self.workspace.channels.get(params.get("channel") or "")
        if channel is None:
            raise _SlackError("channel_not_found")
        if params.get("user") not in channel["members"]:
            raise _SlackError("user_not_in_channel")
        return {"message_ts": f"{1700000000 + len(self.calls)}.000200"}

    def m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = params.get("users") or ""
        if not users:
            raise _SlackError("users_list_not_supplied")
        return {"channel": {"id": "D" + users.split(",")[0][1:]}}
