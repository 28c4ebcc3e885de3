"""Benchmark: our chained backtest vs statsforecast's own cross_validation, S&P 500 + NASDAQ weekly.

26 weekly steps x 190 origins (every 4 weeks) x 2 series. Ours fits the chained (TD(0)) and direct
(MC) linear quantile forecasters and runs Naive and RandomWalkWithDrift from *every* week of the test
period (the whole chain, 786 cutoffs per series, not only the 190 origins); statsforecast's
cross_validation runs the same two baselines from the 190 origins only. Goal: ours under 2 minutes on
2 cores.

Run:  . .venv/bin/activate && python benchmarks/forecast_backtest.py
"""

from __future__ import annotations

import time

import pandas as pd


def main() -> None:
    from statsforecast import StatsForecast
    from statsforecast.models import Naive, RandomWalkWithDrift

    from alignlab.forecast import ChainedForecaster, StatsForecastModel, backtest, load_series, to_weekly

    df = pd.concat([to_weekly(load_series(n)) for n in ("sp500", "nasdaq")], ignore_index=True)
    h, n_windows, step = 26, 190, 4
    levels = [10, 20, 30, 40, 50, 60, 70, 80, 90]

    start = time.perf_counter()
    sf = StatsForecast(models=[Naive(), RandomWalkWithDrift()], freq="W-FRI", n_jobs=1)
    sf.cross_validation(h=h, df=df, n_windows=n_windows, step_size=step, level=levels)
    t_sf = time.perf_counter() - start

    start = time.perf_counter()
    backtest(df, [StatsForecastModel("Naive"), StatsForecastModel("RandomWalkWithDrift")], h=h,
             n_windows=n_windows, step_size=step, level=levels)
    t_base = time.perf_counter() - start

    models = [
        ChainedForecaster("linear", h=h, target="td0", distribution="quantile", alias="chained-td0"),
        ChainedForecaster("linear", h=h, target="mc", distribution="quantile", alias="direct-mc"),
        StatsForecastModel("Naive"),
        StatsForecastModel("RandomWalkWithDrift"),
    ]
    start = time.perf_counter()
    full = backtest(df, models, h=h, n_windows=n_windows, step_size=step, level=levels, refit=52)
    t_full = time.perf_counter() - start

    print(f"series: {df['unique_id'].nunique()}, weeks each: {df.groupby('unique_id').size().iloc[0]}, "
          f"h={h}, origins={n_windows} every {step} weeks")
    print(f"statsforecast cross_validation (Naive, RWD; 190 origins):      {t_sf:7.2f} s")
    print(f"alignlab backtest, same baselines, full chains (786 cutoffs):  {t_base:7.2f} s  "
          f"(ratio {t_base / t_sf:.1f}x)")
    print(f"alignlab backtest, chained + direct + baselines, full chains: {t_full:7.2f} s  "
          f"(ratio {t_full / t_sf:.1f}x; goal < 120 s)")
    print("per model:", {k: round(v, 2) for k, v in full.seconds.items()})
    print(f"chain rows: {len(full.chains)}, cross_validation rows: {len(full.cv)}")


if __name__ == "__main__":
    main()
