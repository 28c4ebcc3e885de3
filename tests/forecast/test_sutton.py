from alignlab.forecast import sutton_random_walk

LAMBDAS = ["0.0", "0.1", "0.3", "0.5", "0.7", "0.9", "1.0"]


def test_sutton_1988_orderings():
    result = sutton_random_walk()
    rep, single = result["repeated"], result["single"]
    assert set(LAMBDAS) <= set(rep) and set(LAMBDAS) <= set(single)
    # Repeated presentations: every TD(lambda < 1) beats Widrow-Hoff, error rises with lambda (figure 3).
    assert all(rep[lam] < rep["1.0"] for lam in LAMBDAS[:-1])
    assert rep["0.0"] < rep["0.5"] < rep["0.9"]
    # Single presentation at the best alpha: TD beats Widrow-Hoff; the best lambda is 0.1-0.3 (figure 5).
    assert all(single[lam] < single["1.0"] for lam in LAMBDAS[:-1])
    best = min(single, key=single.get)
    assert 0.1 <= float(best) <= 0.3


def test_sutton_is_seeded():
    a = sutton_random_walk(n_sets=5, seed=3)
    b = sutton_random_walk(n_sets=5, seed=3)
    assert a == b
