"""Run a study's CLI, SIGKILL it once some cells have finished, and say which had (for resume tests)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from alignlab.core import Store


def kill_after_cells(command: list[str], out: Path, cells: int, *, timeout: float, env: dict | None = None,
                     poll: float = 0.5) -> dict[str, float]:
    """Start ``command``; once ``cells`` cells are done in ``out``'s store, kill it (SIGKILL, no clean-up).

    Returns ``{cell_id: finished time}`` of the cells done at the kill, to check a rerun leaves them alone.
    """
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + timeout
    finished: dict[str, float] = {}
    while time.time() < deadline and proc.poll() is None:
        time.sleep(poll)
        if (out / "results.sqlite").exists():
            store = Store(out / "results.sqlite")
            finished = {r["cell_id"]: r["finished"] for r in store.cells() if r["status"] == "done"}
            store.close()
            if len(finished) >= cells:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    return finished
