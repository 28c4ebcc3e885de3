import subprocess
import sys

import pytest
import yaml

from alignlab.core import load_spec

CLI = [sys.executable, "-m", "alignlab.cli"]


def _run(*args, cwd=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_init_writes_a_commented_spec_that_validates(tmp_path):
    path = tmp_path / "study.yaml"
    result = _run("backdoor", "init", str(path))
    assert result.returncode == 0
    assert "# alignlab backdoor study" in path.read_text()
    spec = load_spec(path)
    assert len(spec.cells) == 2 * 2 * 2  # modes × optimizers × seeds in the example
    assert _run("backdoor", "init", str(path)).returncode == 2  # no silent overwrite


@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "blue"}, "'colour' is not a known field"),
        ({"insertion": {"train": {"batch_size": "eight"}}}, "insertion.train.batch_size"),
        ({"backdoor": {"mode": []}}, "'backdoor.mode' is an empty list"),
        ({"insertion": {"train": {"optimizer": {"lr": -0.001}}}}, "insertion.train.optimizer.lr"),
        ({"model": "gpt-17"}, "Unknown model 'gpt-17'"),
        ({"backdoor": {"trigger": ""}}, "backdoor.trigger"),
        ({"safety": {"method": "prayer"}}, "unknown safety method 'prayer'"),
    ],
)
def test_malformed_specs_get_one_clear_error_without_a_traceback(tmp_path, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"study": "backdoor", "name": "bad", **change}))
    result = _run("backdoor", "run", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # a spec that fails leaves no study folder behind


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("study: backdoor\nname: [unclosed\n")
    result = _run("backdoor", "run", str(path))
    assert result.returncode == 2 and "line" in result.stderr and "Traceback" not in result.stderr


def test_help_everywhere():
    for args in ([], ["backdoor"], ["backdoor", "run"], ["report"], ["studies"]):
        result = _run(*args, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout


def test_studies_lists_study_folders(tmp_path):
    result = _run("studies", str(tmp_path))
    assert result.returncode == 0 and "No studies" in result.stdout


def test_run_takes_a_spec_without_the_study_field(tmp_path):
    """`alignlab backdoor run` knows its kind: a spec that leaves out `study: backdoor` is a backdoor spec
    (checked through a bad seed count, so that nothing trains); `alignlab run` still needs the field."""
    path = tmp_path / "nostudy.yaml"
    assert _run("backdoor", "init", str(path)).returncode == 0
    data = {k: v for k, v in yaml.safe_load(path.read_text()).items() if k != "study"} | {"seeds": -1}
    path.write_text(yaml.safe_dump(data))
    result = _run("backdoor", "run", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "not a valid" not in result.stderr
    assert "field 'seeds'" in " ".join(result.stderr.split())
    plain = _run("run", str(path))
    assert plain.returncode == 2 and "field 'study' is missing" in " ".join(plain.stderr.split())


def test_instrument_run_refuses_another_kinds_spec(tmp_path):
    """Each instrument's `run` runs its own kind only and points at `alignlab run` for the others (the shared
    `core._cli.run_study`); nothing is created for the refused spec."""
    path = tmp_path / "forecast.yaml"
    assert _run("forecast", "init", str(path)).returncode == 0
    for instrument, kind in (("backdoor", "backdoor"), ("scaling", "scaling")):
        result = _run(instrument, "run", str(path), "--out", str(tmp_path / instrument))
        text = " ".join(result.stderr.split())
        assert result.returncode == 2, result.stderr
        assert f"field 'study' is 'forecast', not '{kind}'" in text and f"alignlab run {path}" in text
        assert "Traceback" not in result.stderr and not (tmp_path / instrument).exists()
