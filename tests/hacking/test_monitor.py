import math

import numpy as np
import pytest

from alignlab.core import AlignlabError
from alignlab.hacking import Monitor, StepRecord, gao_fits, monitor_callback, monitor_records


def synthetic(kind: str, seed: int, steps: int = 150):
    rng = np.random.default_rng(seed)
    for t in range(steps):
        kl = 0.02 * t
        proxy = 0.3 + 0.6 * (1 - math.exp(-t / 40)) + rng.normal(0, 0.03)
        if kind == "hacking":  # gold follows d(α − βd): peaks at d = α / 2β = 0.6, i.e. KL 0.36, step 18
            d = math.sqrt(kl)
            gold, hit = 0.3 + d * (0.6 - 0.5 * d) + rng.normal(0, 0.03), min(1.0, 0.004 * math.exp(t / 25))
        else:
            gold, hit = proxy - 0.05 + rng.normal(0, 0.03), 0.0
        yield {"step": t, "proxy": proxy, "gold": gold, "kl": kl, "length": 100.0, "hit_rate": hit}


@pytest.mark.parametrize("seed", range(4))
def test_hacking_runs_are_flagged_soon_after_the_gold_peak(seed):
    monitor = monitor_records(synthetic("hacking", seed))
    assert monitor.onset is not None and 10 <= monitor.onset <= 60
    assert {a.kind for a in monitor.alarms} >= {"divergence", "hit-rate"}


@pytest.mark.parametrize("seed", range(4))
def test_runs_whose_gold_tracks_the_proxy_raise_no_alarm(seed):
    assert monitor_records(synthetic("tracking", seed)).alarms == []


def test_gao_fit_recovers_the_gold_peak():
    records = [StepRecord(t, 0.0, 0.3 + math.sqrt(0.02 * t) * (0.6 - 0.5 * math.sqrt(0.02 * t)), 0.02 * t) for t in range(100)]
    fits = gao_fits(records)
    assert fits["bon"]["d_peak"] == pytest.approx(0.6, rel=0.02) and fits["bon"]["r2"] > 0.99
    assert "rl" in fits
    summary = Monitor().summary()
    assert summary["onset"] is None and summary["gao_fits"] == {}


def test_hit_rate_alarm_uses_the_threshold():
    monitor = Monitor(hit_rate_threshold=0.02, hit_rate_window=1)
    assert monitor.update(0, 0.5, hit_rate=0.01) == []
    [alarm] = monitor.update(1, 0.5, hit_rate=0.05)
    assert alarm.kind == "hit-rate" and alarm.step == 1


def test_records_without_step_or_proxy_are_errors():
    with pytest.raises(AlignlabError, match="record 0"):
        monitor_records([{"proxy": 1.0}])
    with pytest.raises(AlignlabError, match="numbers"):
        monitor_records([{"step": 0, "proxy": "high"}])


def test_trainer_callback_feeds_the_monitor_and_can_stop_training():
    from transformers import TrainerControl, TrainerState

    monitor = Monitor(hit_rate_threshold=0.02, hit_rate_window=1)
    callback = monitor_callback(monitor, hit_rate_key="hacks", stop_on_alarm=True)
    state, control = TrainerState(), TrainerControl()
    for step, hacks in enumerate([0.0, 0.0, 0.1]):
        state.global_step = step
        control = callback.on_log(None, state, control, logs={"reward": 0.5, "kl": 0.1, "hacks": hacks})
        callback.on_log(None, state, control, logs={"loss": 1.0})  # no reward: skipped
    assert len(monitor.records) == 3 and monitor.onset == 2 and control.should_training_stop
