from alignlab.hacking import DemoConfig, run_demo


def test_demo_hacking_emerges_is_flagged_and_the_control_stays_silent(tmp_path):
    result = run_demo(DemoConfig(tasks=12, steps=80, seed=0), out=tmp_path)
    proxy, control = result.monitors["proxy"], result.monitors["control"]
    assert result.hack_share["proxy"][0] < 0.02
    assert result.hack_share["proxy"][-1] > 0.9
    assert proxy.onset is not None
    frame = proxy.frame()
    late = frame.tail(20)
    assert late.proxy.mean() > 0.9 and late.gold.mean() < 0.2  # the proxy is maxed out, the gold is gone
    peak = proxy.summary()["gold_peak"]["step"]
    assert proxy.onset <= peak + 15  # flagged around the gold peak, long before the end
    assert control.alarms == []
    html = (tmp_path / "report.html").read_text()
    assert "flagged" in html and "data:image/png;base64" in html
    summary = (tmp_path / "summary.md").read_text()
    # page and summary come from the same core.Report calls: the summary holds the same sections and tables
    assert "## Alarms" in summary and "## The candidate pool" in summary and "| strategy" in summary
    assert f"flags the run at step {proxy.onset}" in summary and "isolation:" in summary


def test_demo_is_deterministic_for_a_seed():
    from alignlab.hacking.monitor._demo import Candidate, _train

    pool = [Candidate(f"t{i}", s, "x" * 10, proxy=p, gold=g, control=g, flagged=s != "honest")
            for i in range(4) for s, p, g in (("honest", 1, 1), ("honest", 0, 0), ("exit", 1, 0),
                                              ("always-equal", 1, 0), ("special-casing", 1, 0))]
    config = DemoConfig(tasks=4, steps=30, seed=3)
    a, b = _train(pool, config, "proxy"), _train(pool, config, "proxy")
    assert a[1] == b[1] and a[0].frame().equals(b[0].frame())
