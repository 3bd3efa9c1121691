"""The tracking inbox processor as a process of its own, kept running beside ``onefunnel serve``.

Expanding inbox batches is CPU work in Python; in a thread of a web worker it competes with
answering requests for that process's interpreter lock. In its own process it has a core to
itself. The supervisor (a thread of the serving process) restarts it when it dies — the crash
is logged, the batches stay in the inbox — and stops it with the server.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.synchronize import Event

log = logging.getLogger("onefunnel.tracking")

# Seconds between restarts of a processor that keeps dying (a broken database, a bug).
RESTART_PAUSE = 2.0


def run_processor(stop: Event, parent: int) -> None:
    """The processor process: expand the inbox until told to stop or the server is gone."""
    # Ctrl-C reaches the whole process group: the server stops this process itself, after the
    # turn under way has committed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from onefunnel.cli import setup_django

    setup_django()
    from onefunnel.services.tracking_writer import serve_inbox

    serve_inbox(stop, alive=lambda: os.getppid() == parent)


class ProcessorSupervisor:
    """Start, restart on a crash, and stop the inbox processor process."""

    def __init__(self) -> None:
        # spawn, not fork: the serving process has threads and open database connections.
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._thread = threading.Thread(
            target=self._watch, name="onefunnel-processor-supervisor", daemon=True
        )

    def start(self) -> None:
        """Start the processor and watch it."""
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            process = self._context.Process(
                target=run_processor,
                args=(self._stop, os.getpid()),
                name="onefunnel-tracking-processor",
                daemon=True,
            )
            process.start()
            self._process = process
            process.join()
            if self._stop.is_set():
                return
            log.error(
                "tracking inbox processor exited with code %s; restarting it", process.exitcode
            )
            self._stop.wait(RESTART_PAUSE)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the processor to stop after its turn; kill it if it has not within ``timeout``."""
        self._stop.set()
        self._thread.join(timeout)
        process = self._process
        if process is not None and process.is_alive():
            process.join(timeout)
            if process.is_alive():
                process.kill()
