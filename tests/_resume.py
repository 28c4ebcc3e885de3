"""Interrupt a study's CLI like Ctrl-C once its first cell is done (for resume tests)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from alignlab.core import Store


def default_sigint() -> None:
    """``preexec_fn`` for a child the test will Ctrl-C. A shell that starts the suite in the background (``cmd &``,
    nohup) sets SIGINT to *ignored*, children inherit that, and Python then installs no KeyboardInterrupt handler:
    the interrupt would be lost and the study run to the end. Restore the default so the test means the same
    wherever it is launched."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupt_after_first_cell(command: list[str], out: Path, timeout: float = 300) -> int:
    """Start ``command``; send it SIGINT (Ctrl-C) once a cell is done in ``out``'s store; return its exit status.

    The store is polled every 50 ms, so the interrupt lands while later cells are still unfinished as long
    as each cell takes well over that.
    """
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=default_sigint)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if (out / "results.sqlite").exists():
            store = Store(out / "results.sqlite")
            try:
                done = sum(c["status"] == "done" for c in store.cells())
            finally:
                store.close()
            if done:
                proc.send_signal(signal.SIGINT)
                break
    return proc.wait(timeout=120)
