"""The study engine's own cost, and what parallel workers buy, in one run.

Run:  .venv/bin/python benchmarks/executor_overhead.py [--cells 200] [--seconds 4] [--ray]

1. Overhead per no-op cell (the built-in ``noop`` study kind: one stage that does nothing): the wall
   time of a study of N such cells divided by N — store writes, scheduling, progress — for the local
   executor in-process, with 2 worker processes, and (``--ray``) on a local Ray cluster (cluster start-up
   excluded: it is timed and printed on its own). Goal: ≤ 50 ms per cell locally.
2. Speed-up of 4 equal CPU-bound cells (each spins one core for ``--seconds``) with 2 workers vs 1,
   printed as the ratio of wall times. Goal: ≤ 0.6.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from alignlab.core import Study, parse_spec


def timed_study(data: dict, folder: Path, **run) -> float:
    study = Study(parse_spec(data), folder)
    started = time.perf_counter()
    counts = study.run(show_progress=False, report=False, **run)
    elapsed = time.perf_counter() - started
    assert counts == {"done": len(study.spec.cells)}, counts
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--ray", action="store_true", help="also measure the Ray executor (needs alignlab[ray])")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="alignlab-bench-"))
    noop = {"study": "noop", "name": "overhead", "seeds": args.cells, "work": "none"}
    print(f"{args.cells} no-op cells; {os.cpu_count()} CPUs")
    try:
        rows = {
            "local, in-process": timed_study(noop, root / "serial"),
            "local, 2 workers": timed_study(noop, root / "pool", workers=2),
        }
        if args.ray:
            import ray

            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            started = time.perf_counter()
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1",
                     logging_level="ERROR", log_to_driver=False)
            print(f"  Ray local cluster start-up: {time.perf_counter() - started:.1f} s (not counted below)")
            rows["ray, local cluster"] = timed_study(noop, root / "ray", executor="ray")
            ray.shutdown()
        for name, seconds in rows.items():
            per_cell = 1000 * seconds / args.cells
            goal = "" if name.startswith("ray") else f" (goal ≤ 50 ms: {'PASS' if per_cell <= 50 else 'FAIL'})"
            print(f"  overhead per no-op cell, {name:20s} {per_cell:7.1f} ms{goal}")

        busy = {"study": "noop", "name": "cpu", "seeds": 4, "work": "cpu", "seconds": args.seconds}
        one = timed_study(busy, root / "cpu1")
        two = timed_study(busy, root / "cpu2", workers=2)
        ratio = two / one
        print(f"4 CPU-bound cells of {args.seconds:.0f} s: 1 worker {one:.1f} s, 2 workers {two:.1f} s; "
              f"ratio {ratio:.2f} (goal ≤ 0.6): {'PASS' if ratio <= 0.6 else 'FAIL'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
