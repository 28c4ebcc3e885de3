"""Malformed tables, unknown variants and file formats each get one clear error naming what is wrong."""

import numpy as np
import pandas as pd
import pytest

from alignlab.core._errors import AlignlabError


def _grid(**extra):
    from alignlab.scaling import synthetic_runs

    return synthetic_runs(noise=0.0, budgets=(1e18, 1e19, 1e20), sizes_per_budget=4)[["N", "D", "loss"]].assign(**extra)


def test_missing_column_is_named():
    from alignlab.scaling import read_runs

    with pytest.raises(AlignlabError, match="no column 'loss'"):
        read_runs(_grid().drop(columns="loss"))
    with pytest.raises(AlignlabError, match="no column 'D'.*--flops-col"):
        read_runs(_grid().drop(columns="D"))
    with pytest.raises(AlignlabError, match="no column 'flops'"):
        read_runs(_grid(), flops_col="flops")


@pytest.mark.parametrize("column, value", [("N", -1.0), ("D", 0.0), ("loss", np.nan), ("loss", "abc")])
def test_bad_value_names_column_and_row(column, value):
    from alignlab.scaling import read_runs

    frame = _grid().astype({column: object})
    frame.loc[3, column] = value
    with pytest.raises(AlignlabError, match=f"Column '{column}'.*data row 4 has '{value}'") as info:
        read_runs(frame)  # rows counted from 1 as a user counts them below the header; the raw value, not a repr
    assert "np." not in str(info.value)


def test_unknown_variant_and_several_variants():
    from alignlab.scaling import ScalingLaw, read_runs

    runs = read_runs(pd.concat([_grid(variant="a"), _grid(variant="b")]))
    with pytest.raises(AlignlabError, match="Unknown variant 'c'.*'a', 'b'"):
        ScalingLaw(n_bootstrap=0).fit(runs, variant="c")
    with pytest.raises(AlignlabError, match="2 variants"):
        ScalingLaw(n_bootstrap=0).fit(runs)


def test_bad_setting_is_an_error():
    from alignlab.scaling import ScalingLaw

    with pytest.raises(AlignlabError, match="huber_delt"):
        ScalingLaw(huber_delt=1e-3).fit(_grid())
    with pytest.raises(AlignlabError, match="not fitted"):
        ScalingLaw().predict(1e9, 1e10)


def test_csv_parquet_and_renamed_columns(tmp_path):
    from alignlab.scaling import read_runs

    frame = _grid().rename(columns={"N": "params", "loss": "val_loss"}).assign(flops=lambda f: 6 * f.params * f.D)
    frame.drop(columns="D").to_csv(tmp_path / "r.csv", index=False)
    frame.to_parquet(tmp_path / "r.parquet")
    from_csv = read_runs(tmp_path / "r.csv", n_col="params", flops_col="flops", loss_col="val_loss")
    from_parquet = read_runs(tmp_path / "r.parquet", n_col="params", loss_col="val_loss")
    assert np.allclose(from_csv["D"], from_parquet["D"]) and len(from_csv) == 12
    with pytest.raises(AlignlabError, match="does not exist"):
        read_runs(tmp_path / "missing.csv")


def test_drop_highest_loss_per_variant():
    from alignlab.scaling import read_runs

    runs = read_runs(pd.concat([_grid(variant="a"), _grid(variant="b")]), drop_highest_loss=2)
    assert runs.groupby("variant").size().tolist() == [10, 10]
    assert runs["loss"].max() < _grid()["loss"].nlargest(2).min()
