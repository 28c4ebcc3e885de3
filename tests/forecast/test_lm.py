import json

import numpy as np
import pytest

from alignlab.forecast import (
    LMForecaster,
    parse_chained_answer,
    parse_number,
    run_lm_chain,
    synthetic_random_walk,
)


@pytest.mark.parametrize("text,expected", [
    ("2,450.50", 2450.5),
    ("$1,234", 1234.0),
    ("The value will be 2450.", 2450.0),
    ("1200-1300", 1250.0),
    ("between 1,200 and 1,300", 1250.0),
    ("+5%", 1050.0),  # a change relative to the last value (1000)
    ("2.5k", 2500.0),
    ("2004-07-09: 2100", 2100.0),  # an echoed date is not the answer
    ("unknown", None),
    ("I don't know, maybe 5", None),
    ("N/A", None),
    ("", None),
])
def test_parse_number(text, expected):
    assert parse_number(text, reference=1000.0) == expected


def test_ranges_can_be_rejected_and_percent_needs_a_reference():
    assert parse_number("1200 to 1300", ranges="reject") is None
    assert parse_number("5%") is None


def test_parse_chained_answer():
    assert parse_chained_answer("Forecast: 2,450; Next: 2460") == (2450.0, 2460.0)
    assert parse_chained_answer("2450 then 2470") == (2450.0, 2470.0)
    assert parse_chained_answer("Forecast: unknown; Next: 5") == (None, 5.0)
    assert parse_chained_answer("2019-01-04: 2929.67\n2019-01-11: 2950") == (2929.67, 2950.0)


def test_chain_protocol_records_prompts_answers_and_rewards(tmp_path):
    df = synthetic_random_walk(n_series=1, n_steps=60, seed=0)
    answers = iter(["Forecast: 110; Next: 110", "Forecast: 110; Next: 111", "Forecast: 120; Next: 120", "unknown"] * 10)
    lm = LMForecaster(generator=lambda texts: [next(answers) for _ in texts], history=5)
    log = tmp_path / "log.jsonl"
    frame = run_lm_chain(lm, df, h=4, origins=[20], log_path=str(log))
    assert list(frame["step"]) == [0, 1, 2, 3]
    y0, yT = frame["y_origin"].iloc[0], frame["y_target"].iloc[0]
    assert frame["reward_chain"].iloc[0] == 0.0  # 110 then 110: a perfect intermediate reward
    assert frame["reward_chain"].iloc[1] == pytest.approx(-((110 - 120) / y0) ** 2)
    assert frame["reward_self"].iloc[1] == pytest.approx(-((111 - 120) / y0) ** 2)
    assert np.isnan(frame["forecast"].iloc[3]) and not frame["parsed"].iloc[3]  # "unknown" is missing
    assert frame["reward_outcome"].iloc[0] == pytest.approx(-((110 - yT) / y0) ** 2)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 4 and "What will the value be on" in records[0]["prompt"]
    assert records[0]["answer"] == "Forecast: 110; Next: 110"
    assert "Next: <number>" in records[0]["prompt"]


def test_predict_falls_back_to_naive_and_logs(small_df):
    lm = LMForecaster(generator=lambda texts: ["no idea"] * len(texts)).fit(small_df)
    out = lm.predict(2)
    last = small_df.groupby("unique_id")["y"].last()
    assert np.allclose(out.groupby("unique_id")["lm"].first().sort_index(), last.sort_index())
    assert all(r["fallback"] for r in lm.records_)
    missing = LMForecaster(generator=lambda texts: ["no idea"] * len(texts), fallback="missing").fit(small_df)
    assert missing.predict(2)["lm"].isna().all()


@pytest.mark.real_model
def test_bundled_model_runs_the_chained_protocol(tmp_path):
    df = synthetic_random_walk(n_series=1, n_steps=40, start=2000.0, seed=0)
    lm = LMForecaster("bundled:smollm2-135m", history=6)
    frame = run_lm_chain(lm, df, h=3, origins=[20], log_path=str(tmp_path / "log.jsonl"))
    assert len(frame) == 3 and frame["answer"].map(len).gt(0).all()
    assert (tmp_path / "log.jsonl").exists()
