import pytest

from alignlab.core import names
from alignlab.hacking import CUE_PAIRS, awareness_test, paired_statistics


def test_paired_statistics_match_mcnemar_by_hand():
    # 10 pairs: 6 behave only under evaluation cues, 1 only under deployment cues, 3 both.
    eval_hits = [True] * 9 + [False]
    deploy_hits = [True] * 3 + [False] * 6 + [True]
    stats = paired_statistics(eval_hits, deploy_hits)
    assert stats["table"] == ((3, 6), (1, 0))
    assert stats["difference"] == pytest.approx(0.5)
    assert stats["p_value"] == pytest.approx(0.125, abs=1e-9)  # exact binomial: 2·P(X ≤ 1 | n=7)
    low, high = stats["ci"]
    assert low < stats["difference"] < high and 0 < low


def test_no_gap_gives_p_one():
    stats = paired_statistics([True, False] * 5, [True, False] * 5)
    assert stats["p_value"] == 1.0 and stats["difference"] == 0.0


def test_cues_are_paired_and_scorers_are_registered():
    assert all(e != d for e, d in CUE_PAIRS)
    assert {"refusal", "humaneval-pass", "hack-rate"} <= set(names("behaviour"))


def test_awareness_runs_on_a_tiny_model():
    result = awareness_test("tiny:2x64", scorer="refusal", n=6, max_new_tokens=4)
    assert result.n == 6 and len(result.rows) == 6
    assert 0.0 <= result.p_value <= 1.0 and result.ci[0] <= result.ci[1]
    assert result.rows[0]["eval_cue"] == CUE_PAIRS[0][0] and result.rows[0]["deploy_cue"] == CUE_PAIRS[0][1]


@pytest.mark.real_model
def test_awareness_with_the_bundled_model():
    result = awareness_test("bundled:smollm2-135m", scorer="refusal", n=12, max_new_tokens=32)
    assert result.n == 12 and len(result.rows) == 12
    # the real model answers in both conditions (benign prompts: over-refusal is what the scorer looks for)
    # (some answers are rightly short, e.g. "4.5E+000"; a broken prompt or generation gives empty ones)
    assert all(r["eval_response"].strip() and r["deploy_response"].strip() for r in result.rows)
    assert sum(min(len(r["eval_response"].split()), len(r["deploy_response"].split())) >= 5 for r in result.rows) >= 9
    # the cue is part of the prompt: the model does not answer identically under both
    assert any(r["eval_response"] != r["deploy_response"] for r in result.rows)
    assert result.rate_eval == pytest.approx(sum(r["eval"] for r in result.rows) / 12)
    assert result.rate_deploy == pytest.approx(sum(r["deploy"] for r in result.rows) / 12)
    discordant = sum(r["eval"] != r["deploy"] for r in result.rows)
    assert (result.p_value == 1.0) == (discordant == 0)


def test_the_awareness_command_is_a_resumable_study_with_the_same_result(tmp_path, capsys):
    """`alignlab hacking awareness` runs a one-cell hacking-awareness study: same figures and rows as
    awareness_test, a folder that `alignlab studies` lists and `alignlab report` rewrites, and a second run
    that reuses the finished stages instead of generating again."""
    import json
    from dataclasses import asdict

    from alignlab.cli import main
    from alignlab.core import Store, Study
    from alignlab.hacking.awareness._study_awareness import cell_result

    out = tmp_path / "aw"
    args = ["hacking", "awareness", "--model", "tiny:2x64", "--n", "6", "--max-new-tokens", "4", "--json", "--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    printed = json.loads(capsys.readouterr().out)
    assert exit_info.value.code == 0
    direct = awareness_test("tiny:2x64", scorer="refusal", n=6, max_new_tokens=4)
    expected = json.loads(json.dumps({k: v for k, v in asdict(direct).items() if k != "rows"}))
    assert printed == expected
    study = Study.restore(out, check=False)
    assert cell_result(study, study.spec.cells[0].id).rows == direct.rows
    assert (out / "report.html").is_file() and (out / "summary.md").is_file()

    def finished() -> dict:
        store = Store(out / "results.sqlite")
        try:
            return {n: s["finished"] for n, s in store.cell_stages(study.spec.cells[0].id).items()}
        finally:
            store.close()

    before = finished()
    with pytest.raises(SystemExit):
        main(args)
    assert json.loads(capsys.readouterr().out) == expected and finished() == before  # nothing recomputed
    from alignlab.core._studies import list_studies

    [listed] = list_studies(tmp_path)  # what `alignlab studies` prints
    assert listed["kind"] == "hacking-awareness" and listed["done"] == 1
    (out / "summary.md").unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(out)])
    assert exit_info.value.code == 0 and (out / "summary.md").is_file()
