"""Helpers for tests that start a real server process."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

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
