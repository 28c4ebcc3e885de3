import numpy as np

from alignlab.forecast import simulate_collusion, td_anchor_dynamics


def _row(frame, forecaster, closing):
    return frame[(frame["forecaster"] == forecaster) & (frame["closing"] == closing)].iloc[0]


def test_colluding_constant_wins_without_an_anchor_and_loses_with_one():
    sim = simulate_collusion(h=26)
    colluder_free = _row(sim, "colluding constant", "unanchored")
    honest_free = _row(sim, "honest", "unanchored")
    assert colluder_free["total"] == 0.0  # perfect intermediate rewards, no outcome to contradict it
    assert honest_free["total"] < colluder_free["total"]
    assert _row(sim, "colluding constant", "captured")["total"] == 0.0  # a captured anchor is no anchor
    colluder = _row(sim, "colluding constant", "anchored")
    honest = _row(sim, "honest", "anchored")
    assert honest["total"] > colluder["total"]
    assert colluder["step0_sq_error"] > 10 * honest["step0_sq_error"]


def test_fitted_td_needs_the_anchor_to_leave_a_colluding_start():
    anchored = td_anchor_dynamics(h=10, iterations=30, start=2.0, anchored=True)
    free = td_anchor_dynamics(h=10, iterations=30, start=2.0, anchored=False)
    growth = np.exp(0.002 + 0.02**2 / 2)
    assert np.allclose(anchored[-1], growth ** np.arange(1, 11))
    assert free[-1][0] == 2.0 and free[-1][-1] > 1.9  # stays wrong forever
