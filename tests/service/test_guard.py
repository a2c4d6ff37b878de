"""Bounded work before authentication (issue 11), over a real socket: keys are checked before
a body is read, bodies are capped while they stream in (never read whole first), oversized
lists and URLs are refused early, and OPTIONS names every method of a path."""

from __future__ import annotations

import json
import select
import socket
import urllib.parse
from collections.abc import Iterator

import pytest

from teamrec.service import create_app
from teamrec.store import MemoryEventStore

from .conftest import AUTH, KEYS, live_server, make_settings

T = "/api/v1/teams/demo"
CAP = 1024 * 1024


@pytest.fixture(scope="module")
def server(globex_dir) -> Iterator[tuple[str, int]]:
    app = create_app(make_settings(globex_dir, max_body_bytes=CAP), store=MemoryEventStore())
    with live_server(app) as url:
        parts = urllib.parse.urlsplit(url)
        yield parts.hostname, parts.port


def _response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict[str, str], dict]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(65536)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body or b"{}")


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def test_an_anonymous_post_is_refused_before_its_body_is_read(server):
    # 235 MB announced, not one byte sent: a server that read the body first would wait.
    with socket.create_connection(server) as sock:
        sock.sendall(_head("POST", f"{T}/events", {"Content-Type": "application/json",
                                                    "Content-Length": str(235 * 1024 * 1024)}))
        status, headers, body = _response(sock)
    assert status == 401 and body["error"] == "unauthorized"
    assert headers["content-type"] == "application/json"
    # A read key is not enough to write; another team's key is a 403: both without the body.
    for key, expected in ((KEYS["demo-read"], 403), (KEYS["globex-admin"], 403), ("wrong-key-0123456789", 401)):
        with socket.create_connection(server) as sock:
            sock.sendall(_head("POST", f"{T}/events", {"X-API-Key": key, "Content-Length": str(10**9)}))
            assert _response(sock)[0] == expected, key


def test_a_body_announced_past_the_cap_is_413_at_once(server):
    with socket.create_connection(server) as sock:
        sock.sendall(_head("POST", f"{T}/events", {**AUTH["demo-write"], "Content-Type": "application/json",
                                                    "Content-Length": str(CAP + 1)}))
        status, _, body = _response(sock)
    assert status == 413 and body["error"] == "too_large" and str(CAP) in body["message"]


def test_a_streamed_body_is_cut_off_at_the_cap(server):
    """Chunked, no length: the server answers 413 once the cap is passed, long before the
    128 MB the client would send (one 64 KB buffer reused: nothing big is allocated)."""
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(server) as sock:
        sock.sendall(_head("POST", f"{T}/events", {**AUTH["demo-write"], "Content-Type": "application/json",
                                                    "Transfer-Encoding": "chunked"}))
        try:
            for _ in range(2048):
                if select.select([sock], [], [], 0)[0]:
                    break  # the answer is there
                sock.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = _response(sock)
    assert status == 413 and body["error"] == "too_large"
    assert sent < 32 * CAP, sent  # stopped near the cap (socket buffers hold a few MB)


def test_oversized_candidate_lists_and_urls_are_refused_early(globex_dir):
    from .conftest import TestClient

    with TestClient(create_app(make_settings(globex_dir), store=MemoryEventStore())) as client:
        many = {"candidates": [f"C{i}" for i in range(1001)]}
        response = client.post(f"{T}/people/U0103/recommendations", json=many)
        assert response.status_code == 422 and response.json()["error"] == "validation_error"
        assert "candidates" in response.json()["message"]
        assert client.get(f"{T}/people/U0103/recommendations", params={"k": 10**6}).status_code == 422
        long = client.get(f"{T}/items", params={"q": "x" * 10_000})
        assert long.status_code == 414 and long.json()["error"] == "uri_too_long"


def test_options_and_405_name_every_method_of_the_path(read_client):
    response = read_client.options(f"{T}/people/U0103/recommendations")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, OPTIONS, POST"
    wrong = read_client.put(f"{T}/people/U0103/recommendations")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, OPTIONS, POST"
    assert read_client.options(f"{T}/model/retrain").headers["allow"] == "OPTIONS, POST"
    assert read_client.options("/nowhere").status_code == 404
