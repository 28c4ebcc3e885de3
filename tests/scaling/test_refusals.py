"""Refusal fixtures: a fit that cannot give a trustworthy number says which reason applies."""

import numpy as np
import pandas as pd
import pytest


def _runs(rows):
    from alignlab.scaling import read_runs

    return read_runs(pd.DataFrame(rows, columns=["N", "D", "loss"]))


def _law(n, d):
    return 1.8 + 480 * n**-0.35 + 2000 * d**-0.37


def test_two_runs_only():
    from alignlab.scaling import FitRefused, ScalingLaw

    with pytest.raises(FitRefused, match="2 run") as info:
        ScalingLaw().fit(_runs([(1e8, 1e10, 3.0), (1e9, 1e11, 2.5)]))
    assert info.value.reason == "too_few_runs"


def test_fixed_tokens_per_parameter_is_degenerate():
    from alignlab.scaling import FitRefused, ScalingLaw

    n = np.geomspace(1e7, 1e10, 12)
    with pytest.raises(FitRefused) as info:
        ScalingLaw(n_bootstrap=0).fit(_runs([(x, 20 * x, _law(x, 20 * x)) for x in n]))
    assert info.value.reason == "degenerate_grid"


def test_narrow_range():
    from alignlab.scaling import FitRefused, ScalingLaw

    rows = [(n, d, _law(n, d)) for n in np.geomspace(1e8, 2e8, 4) for d in np.geomspace(1e9, 1e11, 4)]
    with pytest.raises(FitRefused) as info:
        ScalingLaw(n_bootstrap=0).fit(_runs(rows))
    assert info.value.reason == "narrow_range" and "parameters N" in str(info.value)


def test_exponent_at_bound():
    from alignlab.scaling import FitRefused, ScalingLaw

    rng = np.random.default_rng(0)  # loss falls with N only: the D term (B or beta) runs to a bound
    rows = [(n, d, (1.8 + 480 * n**-0.35) * np.exp(0.002 * rng.standard_normal()))
            for n in np.geomspace(1e7, 1e10, 5) for d in np.geomspace(1e9, 1e12, 5)]
    with pytest.raises(FitRefused) as info:
        ScalingLaw(n_bootstrap=0).fit(_runs(rows))
    assert info.value.reason == "at_bound" and ("beta" in str(info.value) or "log B" in str(info.value))


def test_isoflop_without_interior_minimum():
    from alignlab.scaling import CHINCHILLA_EPOCH, FitRefused, isoflop_fit, law_from_params, synthetic_runs

    # every size far below the compute-optimal one: each profile's parabola bottoms out beyond the sizes tried
    runs = synthetic_runs(noise=0.0, size_span=4.0)
    runs = runs.assign(N=runs["N"] / 30, D=runs["D"] * 30)
    runs["loss"] = law_from_params(**CHINCHILLA_EPOCH).predict(runs["N"], runs["D"])
    with pytest.raises(FitRefused, match="interior minimum") as info:
        isoflop_fit(runs)
    assert info.value.reason == "no_interior_minimum"


def test_isoflop_degenerate_grid():
    from alignlab.scaling import FitRefused, isoflop_fit, synthetic_runs

    with pytest.raises(FitRefused, match="2 model size") as info:
        isoflop_fit(synthetic_runs(noise=0.0, sizes_per_budget=2))
    assert info.value.reason == "degenerate_grid"


def test_refusal_is_one_paragraph_with_exit_2(tmp_path, capsys):
    import alignlab.cli as root
    from alignlab.scaling.cli import app

    pd.DataFrame({"N": [1e8, 1e9], "D": [1e10, 1e11], "loss": [3.0, 2.5]}).to_csv(tmp_path / "two.csv", index=False)
    root.app.add_typer(app, name="scaling")  # the lead mounts it for good in alignlab/cli.py
    try:
        with pytest.raises(SystemExit) as info:
            root.main(["scaling", "fit", str(tmp_path / "two.csv")])
    finally:
        root.app.registered_groups.pop()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "too_few_runs" in err and "Traceback" not in err
    assert err.count("Refused (") == 1, err  # the variant's context wraps the refusal without repeating it
