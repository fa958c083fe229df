"""The shared sandbox plumbing: a loopback server's lifecycle, and the `python -m` loop."""

from __future__ import annotations

import signal
import subprocess
import sys
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from hub.sandbox import LoopbackServer


class _Hello(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")


class Hello(LoopbackServer):
    def __init__(self, port: int = 0) -> None:
        self._listen(port, _Hello)


def test_a_loopback_server_serves_only_while_started() -> None:
    with Hello() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url).text == "hello"
        url = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


@pytest.mark.parametrize("module", ["connectors.shopify.sandbox", "connectors.awin.sandbox"])
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
