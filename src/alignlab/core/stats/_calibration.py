"""Calibration of :func:`factor_effects` on simulated studies: interval coverage and false-positive rates.

Run it with ``python -m alignlab.core.stats._calibration [--reps 200]`` (about a minute on 2 cores); it
prints the figures quoted in docs/statistics.md. The studies are 2 × 2 grids × seeds with
``y = 0.5 + effect·A + seed shift + seed×A shift + noise``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import zlib

__all__ = ["simulate_grid"]


def simulate_grid(rng, *, n_seeds: int = 8, effect: float = 0.0, noise: float = 0.2, seed_sd: float = 0.3,
                  seed_by_a_sd: float = 0.0, b_levels: int = 2):
    """One simulated study: factors ``A`` (a0, a1) and ``B`` (``b_levels`` levels), ``n_seeds`` seeds.

    Example:
        >>> import numpy as np
        >>> simulate_grid(np.random.default_rng(0), n_seeds=3).shape
        (12, 4)
    """
    import pandas as pd

    rows = []
    for seed in range(n_seeds):
        shift, by_a = rng.normal(0, seed_sd), rng.normal(0, seed_by_a_sd)
        for a, b in itertools.product(["a0", "a1"], [f"b{k}" for k in range(b_levels)]):
            y = 0.5 + (effect + by_a) * (a == "a1") + shift + rng.normal(0, noise)
            rows.append({"A": a, "B": b, "seed": seed, "y": y})
    return pd.DataFrame(rows)


def _scenario(name: str, reps: int, progress, task, **kwargs) -> dict:
    import numpy as np

    from alignlab.core.stats._effects import factor_effects

    cluster = kwargs.pop("cluster", "seed")
    rng = np.random.default_rng(zlib.crc32(f"{name}{cluster}".encode()))
    truth = kwargs.get("effect", 0.0)
    covered = per_test = family = 0
    for rep in range(reps):
        table = factor_effects(simulate_grid(rng, **kwargs), factors=["A", "B"], outcomes="y", n_boot=400,
                               n_perm=400, random_state=rep, cluster=cluster)
        a = table.iloc[0]
        covered += bool(a["lo"] <= truth <= a["hi"])
        per_test += int((table["p"] < 0.05).sum()) if truth == 0 else int(a["p"] < 0.05)
        family += bool(table["significant"].any())
        progress.advance(task)
    tests = reps * (len(table) if truth == 0 else 1)
    return {"scenario": name, "cluster": cluster, "coverage": covered / reps,
            "p<0.05" if truth else "false p<0.05": per_test / tests, "family significant": family / reps}


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console

    from alignlab.core._progress import progress_bars

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="simulated studies per scenario")
    reps = parser.parse_args(argv).reps
    scenarios = [
        ("effect 0.3, 8 seeds", {"effect": 0.3}),
        ("effect 0.3, 8 seeds", {"effect": 0.3, "cluster": "stratum"}),
        ("effect 0.3, 3 seeds", {"effect": 0.3, "n_seeds": 3}),
        ("effect 0.3, 5 seeds", {"effect": 0.3, "n_seeds": 5}),
        ("null, 8 seeds", {}),
        ("null, 8 seeds", {"cluster": "stratum"}),
        ("null, seed×A shift, 4 B levels", {"seed_by_a_sd": 0.3, "noise": 0.05, "b_levels": 4}),
        ("null, seed×A shift, 4 B levels", {"seed_by_a_sd": 0.3, "noise": 0.05, "b_levels": 4,
                                           "cluster": "stratum"}),
    ]
    gc.freeze()  # statsmodels' Holm correction calls gc.collect(); frozen objects make that cheap
    rows = []
    with progress_bars(True, transient=True) as progress:
        task = progress.add_task("simulating", total=reps * len(scenarios))
        for name, kwargs in scenarios:
            rows.append(_scenario(name, reps, progress, task, **dict(kwargs)))
    console = Console()
    for row in rows:
        console.print("  ".join(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
