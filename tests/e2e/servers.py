"""Helpers for tests that start a real server process."""

from __future__ import annotations

import http.server
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes] | subprocess.Popen[str],
    timeout: float = 60,
) -> None:
    """Poll until ``ready()`` is true; fail early if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        time.sleep(0.2)
    raise AssertionError("server did not become ready in time")


class WebSite(http.server.BaseHTTPRequestHandler):
    """A test's web site on another loopback origin (for cross-origin tests): subclasses answer
    their pages in ``do_GET`` with ``send_page`` and the script files below a folder with
    ``send_script``; nothing is logged."""

    def send_page(self, body: bytes, kind: str = "text/html") -> None:
        """Answer 200 with ``body``."""
        self.send_response(200)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_script(self, root: Path, path: str) -> None:
        """Answer the JavaScript file at ``path`` below ``root``, or 404 (never outside it)."""
        file = (root / path.lstrip("/")).resolve()
        if root.resolve() in file.parents and file.is_file():
            self.send_page(file.read_bytes(), "text/javascript")
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet
