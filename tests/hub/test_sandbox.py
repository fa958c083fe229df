"""The shared sandbox plumbing: a loopback server's lifecycle, and the `python -m` loop."""

from __future__ import annotations

import signal
import subprocess
import sys
from email.message import Message

import httpx
import pytest

from hub.sandbox import LoopbackServer, Reply


class Hello(LoopbackServer):
    """Answers ``hello``; ``/boom`` is a bug in the sandbox; notes every request."""

    server_name = "HelloSandbox"

    def __init__(self, port: int = 0) -> None:
        self.seen: list[tuple[str, str, int, bytes]] = []
        self._listen(port)

    def respond(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
        if target == "/boom":
            raise RuntimeError("broken route")
        if target == "/text":
            return Reply(200, b"plain", (("Content-Type", "text/plain"),))
        return Reply(200, b"hello" + body, (("X-Hello", headers.get("X-Name") or "?"),))

    def record(self, method: str, target: str, status: int, body: bytes) -> None:
        self.seen.append((method, target, status, body))


def test_a_loopback_server_serves_only_while_started() -> None:
    with Hello() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url).text == "hello"
        url = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_the_shared_request_loop_answers_records_and_survives_a_broken_route(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Hello() as server, httpx.Client(base_url=server.url) as http:
        answer = http.post("/greet?x=1", content=b" world", headers={"X-Name": "Ana"})
        assert (answer.status_code, answer.text) == (200, "hello world")
        assert answer.headers["X-Hello"] == "Ana"
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
        assert answer.headers["Server"].startswith("HelloSandbox")
        assert http.get("/text").headers["Content-Type"] == "text/plain"
        broken = http.get("/boom")  # the connection is kept: keep-alive goes on
        assert broken.status_code == 500 and "RuntimeError" in broken.text
        assert http.get("/again").status_code == 200
    assert server.seen == [
        ("POST", "/greet?x=1", 200, b" world"),
        ("GET", "/text", 200, b""),
        ("GET", "/boom", 500, b""),
        ("GET", "/again", 200, b""),
    ]
    assert "broken route" in capsys.readouterr().err  # the traceback, for the sandbox's author


@pytest.mark.parametrize(
    "module", ["connectors.shopify.sandbox", "connectors.awin.sandbox", "connectors.ga4.sandbox"]
)
def test_python_m_sandbox_prints_its_config_and_stops_on_sigterm(module: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = [process.stdout.readline()]
    while "Stop with Ctrl-C." not in banner[-1] and banner[-1]:
        banner.append(process.stdout.readline())
    url = banner[0].split(" at ")[-1].strip()
    assert url.startswith("http://127.0.0.1:"), banner
    assert f"  base_url: {url}\n" in banner
    assert httpx.get(url + "/nowhere", timeout=5).status_code in (401, 404)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "sandbox stopped." in out


def test_a_taken_port_is_a_clear_error() -> None:
    with Hello() as taken:
        port = taken.url.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "connectors.awin.sandbox", "--port", port],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert "cannot start the sandbox" in result.stderr and "--port 0" in result.stderr
