"""The root commands `run`, `report` and `studies`: exit statuses and messages for failures and bad input."""

import socket
import time

import pytest
from pydantic import BaseModel, ConfigDict

import alignlab.core._noop  # noqa: F401  (registers the noop study kind)
from alignlab.cli import main
from alignlab.core import Stage, register


class FailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    fail: bool = False


def _work(ctx):
    if ctx.config.fail:
        raise RuntimeError("the broken cell broke")
    return {"ok": True}


@register("study", "cli-fail-test")
class FailStudy:
    name = "cli-fail-test"
    config_class = FailConfig
    example_spec = ""

    def check(self, spec):
        pass

    def stages(self, config):
        return [Stage("work", config.model_dump(), _work)]

    def report(self, study):
        return []


def _cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return exit_.value.code or 0


def _spec(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return str(path)


def test_a_study_with_failed_cells_exits_1_and_says_how_many_and_where_to_look(tmp_path, capsys):
    spec = _spec(tmp_path, "study: cli-fail-test\nname: f\nfail: [false, true]\nseeds: 2\n")
    assert _cli("run", spec, "--out", str(tmp_path / "f")) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "2 of 4 cell(s) failed" in err and "the broken cell broke" in err
    assert f"alignlab report {tmp_path / 'f'}" in err


def test_a_study_whose_cells_all_finish_exits_0(tmp_path):
    assert _cli("run", _spec(tmp_path, "study: noop\nname: ok\nseeds: 2\n"), "--out", str(tmp_path / "ok")) == 0


@pytest.mark.parametrize("name", ["../../x", "a/b", "/abs/path", "''", ".", "..", "'a\\\\b'"])
def test_study_names_that_leave_the_study_root_are_refused(tmp_path, capsys, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    assert _cli("run", _spec(tmp_path, f"study: noop\nname: {name}\n")) == 2
    assert "field 'name'" in capsys.readouterr().err
    assert not (tmp_path / "studies").exists() and not (tmp_path.parent / "x").exists()


def _closed_port() -> int:
    with socket.socket() as sock:  # bound then closed: nothing listens, so a connection is refused at once
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("where", ["offline", "unreachable"])
def test_an_unknown_hub_model_exits_2_at_once_before_any_cell(tmp_path, capsys, monkeypatch, where):
    from huggingface_hub import constants

    if where == "unreachable":  # online, but the hub (a refusing loopback port) cannot be reached
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = _spec(tmp_path, "study: backdoor\nname: b\nmodel: hf:does/not-exist\n")
    started = time.perf_counter()
    assert _cli("run", spec, "--out", str(tmp_path / "b")) == 2
    assert time.perf_counter() - started < 5
    err = " ".join(capsys.readouterr().err.split())
    assert "field 'model'" in err and "hf:does/not-exist" in err
    assert ("offline" in err) if where == "offline" else ("could not be reached" in err)
    assert not (tmp_path / "b").exists()


def test_a_missing_model_directory_or_prompts_file_exits_2(tmp_path, capsys):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    for body, message in [(f"model: {tmp_path / 'missing'}", "does not exist"),
                          (f"model: {empty}", "no config.json"),
                          ("data: {prompts: no-such-prompts.jsonl}", "field 'data.prompts'")]:
        assert _cli("run", _spec(tmp_path, f"study: backdoor\nname: b\n{body}\n"), "--out", str(tmp_path / "b")) == 2
        assert message in " ".join(capsys.readouterr().err.split())


def test_report_and_studies_on_a_damaged_store(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")  # the table unwrapped
    for name in ("good", "bad"):
        assert _cli("run", _spec(tmp_path, f"study: noop\nname: {name}\nseeds: 2\n")) == 0
    db = tmp_path / "studies" / "bad" / "results.sqlite"
    with open(db, "r+b") as handle:
        handle.truncate(db.stat().st_size // 2)
    capsys.readouterr()
    assert _cli("report", "studies/bad") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "studies/bad/results.sqlite is damaged" in err and "alignlab studies --repair studies/bad" in err
    assert "Traceback" not in err
    assert _cli("studies") == 0
    out = capsys.readouterr()
    assert "damaged" in out.out and "finished" in out.out and "--repair studies/bad" in " ".join(out.err.split())
    assert _cli("studies", "--repair", "studies/bad") == 0
    assert "2 finished cell(s) restored" in " ".join(capsys.readouterr().err.split())
    assert _cli("studies") == 0
    assert "damaged" not in capsys.readouterr().out


def test_a_folder_given_as_the_spec_is_named_as_a_folder(tmp_path, capsys):
    """`alignlab run DIR` (a study folder, say, instead of its spec): one paragraph saying it is a folder."""
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(tmp_path)])
    err = " ".join(capsys.readouterr().err.split())
    assert exit_info.value.code == 2 and "is a folder; expected a YAML study spec file" in err
    assert "does not exist" not in err and "Traceback" not in err
