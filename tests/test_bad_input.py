"""Bad input, everywhere: every instrument command answers nonsense with one error paragraph and exit status 2.

One table of hostile inputs (zero, negative, NaN, huge, missing, binary, empty, folders for files and files
for folders, outputs under a file or under /proc). Each runs in-process through ``alignlab.cli.main`` and
is rejected before any model loads or any grading starts, so the whole table takes seconds.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from alignlab.cli import main
from alignlab.core import AlignlabError
from alignlab.core._cli import build_config, output_dir, output_file, user_file

SPEC = str(Path(__file__).resolve().parents[1] / "examples" / "optimizer_cot_grid.yaml")
TASK = {"task_id": "sq", "prompt": "def sq(x):\n", "entry_point": "sq",
        "visible_tests": "assert candidate(3) == 9", "hidden_tests": "assert candidate(4) == 16"}


def _lines(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """The hostile files' paths, by placeholder; the working directory is a fresh folder so no default output lands here."""
    monkeypatch.chdir(tmp_path)
    made = {  # placeholder: (file name, content)
        "binary": ("image.png", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"),
        "empty": ("empty.jsonl", b""),
        "file": ("file.txt", b"just a file\n"),
        "nan": ("nan.jsonl", _lines('{"step": 0, "proxy": NaN}')),
        "inf": ("inf.jsonl", _lines('{"step": 0, "proxy": 0.5, "gold": Infinity}')),
        "dup": ("dup.jsonl", _lines({"step": 0, "proxy": 1}, {"step": 1, "proxy": 1}, {"step": 1, "proxy": 1})),
        "order": ("order.jsonl", _lines({"step": 2, "proxy": 1}, {"step": 1, "proxy": 1})),
        "hit": ("hit.jsonl", _lines({"step": 0, "proxy": 1, "hit_rate": 3})),
        "halfstep": ("halfstep.jsonl", _lines({"step": 0.5, "proxy": 1})),
        "samples": ("samples.jsonl", _lines({"task_id": "sq", "completion": "    return x * x\n"})),
        "syntax": ("syntax.jsonl", _lines({**TASK, "prompt": "def sq(x)\n"})),
        "noentry": ("noentry.jsonl", _lines({**TASK, "entry_point": "square"})),
        "canonical": ("canonical.jsonl", _lines({**TASK, "canonical_solution": "    return x *\n"})),
        "notgzip": ("notgzip.jsonl.gz", b"not gzip at all"),
        "badutf8gz": ("badutf8.jsonl.gz", gzip.compress(b'{"step": 0, "proxy": 1}\n\xff\xfe\n')),
        "spec": ("spec.yaml", b"study: backdoor\nname: [unclosed\n"),
    }
    paths = {"folder": tmp_path / "folder"}
    paths["folder"].mkdir()
    for key, (name, data) in made.items():
        paths[key] = tmp_path / name
        paths[key].write_bytes(data if isinstance(data, bytes) else data.encode())
    return {key: str(path) for key, path in paths.items()}


# (arguments, a fragment the message must contain); {name} is replaced by that file's path.
CASES = [
    # forecast
    ("forecast sutton --sets 0", "--sets must be at least 1 (got 0)"),
    ("forecast sutton --walks -3", "--walks must be at least 1"),
    ("forecast sutton --sets 100000000", "--sets must be at most"),
    ("forecast sutton --sets many", "Invalid value for '--sets'"),
    ("forecast sutton --seed -1", "--seed must be at least 0 (got -1)"),
    ("forecast sutton --seed 99999999999999999999", "--seed must be at most"),
    ("forecast stocks --origins 5", "--origins must be at least 10 (got 5)"),
    ("forecast stocks --step 0", "--step must be at least 1 (got 0)"),
    ("forecast stocks --refit 0", "--refit must be at least 1 (got 0)"),
    ("forecast stocks --out {file}", "is a file, not a folder"),
    ("forecast stocks --out {file}/sub", "is a file, not a folder"),
    ("forecast stocks --out /proc/alignlab-out", "cannot write there"),
    ("forecast backtest --data sp500 --target bogus", "Invalid value for '--target'"),
    ("forecast backtest --data sp500 --models bogus", "Unknown forecaster 'bogus'"),
    ("forecast backtest --data sp500 --models statsforecast:Bogus", "no model 'Bogus'"),
    ("forecast backtest --data sp500 --models ,", "--models names no model"),
    ("forecast backtest --data sp500 --h 0", "--h must be at least 1 (got 0)"),
    ("forecast backtest --data sp500 --origins -1", "--origins must be at least 1"),
    ("forecast backtest --data sp500 --step 0", "--step must be at least 1"),
    ("forecast backtest --data sp500 --h 1000000", "--h must be at most"),
    ("forecast backtest --data sp500 --cv-out {file}/cv.csv", "is a file, not a folder"),
    ("forecast backtest --data sp500 --cv-out cv.txt", "--cv-out must end in .csv or .parquet"),
    ("forecast backtest --data {binary}", "expected a .csv or .parquet file"),
    ("forecast backtest --data {folder}", "expected a .csv or .parquet file"),
    ("forecast backtest --data missing.csv", "missing.csv"),
    ("forecast collusion --h 0", "--h must be at least 1 (got 0)"),
    ("forecast collusion --h -5", "--h must be at least 1"),
    ("forecast lm --origins 0", "--origins must be at least 1 (got 0)"),
    ("forecast lm --h 0", "--h must be at least 1 (got 0)"),
    ("forecast lm --history 0", "--history must be at least 1"),
    ("forecast lm --out {file}", "is a file, not a folder"),
    ("forecast data sp500 --out {file}/x.csv", "is a file, not a folder"),
    ("forecast data sp500 --out {folder}", "is a folder; give the path of a file"),
    ("forecast data sp500 --out series.txt", "--out must end in .csv or .parquet"),
    ("forecast data sp500 --out /proc/alignlab.csv", "cannot write it"),
    ("forecast data bogus", "Unknown bundled series 'bogus'"),
    # hacking: monitor
    ("hacking monitor {empty}", "no step records"),
    ("hacking monitor {nan}", "line 1: 'proxy' must be a finite number"),
    ("hacking monitor {inf}", "line 1: 'gold' must be a finite number"),
    ("hacking monitor {dup}", "line 3: step 1 repeats step 1"),
    ("hacking monitor {order}", "line 2: step 1 comes before step 2"),
    ("hacking monitor {hit}", "'hit_rate' is a share of episodes"),
    ("hacking monitor {halfstep}", "'step' must be an integer"),
    ("hacking monitor {binary}", "line 1: not UTF-8 text"),
    ("hacking monitor {notgzip}", "cannot read it"),
    ("hacking monitor {badutf8gz}", "line 2: not UTF-8 text"),
    ("hacking monitor {folder}", "is a folder"),
    ("hacking monitor missing.jsonl", "no such file"),
    ("hacking monitor {dup} --hit-rate-threshold 2", "--hit-rate-threshold must be at most 1"),
    ("hacking monitor {dup} --hit-rate-threshold -0.1", "--hit-rate-threshold must be at least 0"),
    ("hacking monitor {dup} --hit-rate-threshold nan", "--hit-rate-threshold must be a finite number"),
    # hacking: scan and task files
    ("hacking scan {samples} --timeout nan", "--timeout must be a finite number (got nan)"),
    ("hacking scan {samples} --timeout inf", "--timeout must be a finite number"),
    ("hacking scan {samples} --timeout 0", "--timeout must be greater than 0"),
    ("hacking scan {samples} --timeout 100000", "--timeout must be at most 600"),
    ("hacking scan {samples} --workers 1000", "--workers must be at most 64 (got 1000)"),
    ("hacking scan {samples} --workers 0", "--workers must be at least 1"),
    ("hacking scan {binary} --no-grade", "line 1: not UTF-8 text"),
    ("hacking scan {empty} --tasks {syntax}", "task 'sq': its prompt is not valid Python"),
    ("hacking scan {samples} --tasks {syntax}", "line 1: task 'sq'"),
    ("hacking scan {samples} --tasks {noentry}", "not the entry point 'square'"),
    ("hacking scan {samples} --tasks {canonical}", "prompt + canonical_solution is not valid Python"),
    ("hacking scan {samples} --tasks {binary}", "not UTF-8 text"),
    ("hacking scan {samples} --tasks {folder}", "is a folder"),
    ("hacking scan {samples} --tasks {empty}", "no tasks"),
    # hacking: the other commands
    ("hacking corpus --out corpus.jsonl --buggy -1", "--buggy must be at least 0 (got -1)"),
    ("hacking corpus --out {file}/corpus.jsonl", "is a file, not a folder"),
    ("hacking corpus --out {folder}", "is a folder"),
    ("hacking impossible --out /proc/alignlab.jsonl", "cannot write it"),
    ("hacking impossible --out {file}/x.jsonl", "is a file, not a folder"),
    ("hacking impossible --out x.jsonl --variant sideways", "--variant must be one of"),
    ("hacking awareness --model tiny:2x64 --max-new-tokens 0", "--max-new-tokens must be at least 1 (got 0)"),
    ("hacking awareness --model tiny:2x64 --n 0", "--n must be at least 1 (got 0)"),
    ("hacking awareness --model tiny:2x64 --n -4", "--n must be at least 1"),
    ("hacking demo --steps 1", "--steps must be at least 20"),
    ("hacking demo --seed -2", "--seed must be at least 0"),
    ("hacking demo --tasks 1000", "--tasks must be at most 164"),
    ("hacking demo --out {file}", "is a file, not a folder"),
    # backdoor
    ("backdoor run " + SPEC + " --out {file}", "is a file, not a folder"),
    ("backdoor run " + SPEC + " --out {file}/study", "is a file, not a folder"),
    ("backdoor run " + SPEC + " --out /proc/alignlab-study", "cannot write there"),
    ("backdoor run " + SPEC + " --workers 0", "--workers must be at least 1 (got 0)"),
    ("backdoor run " + SPEC + " --workers 1000", "--workers must be at most 64"),
    ("backdoor run " + SPEC + " --retries -1", "--retries must be at least 0"),
    ("backdoor run " + SPEC + " --executor bogus", "Invalid value for '--executor'"),
    ("backdoor run {binary}", "not UTF-8 text"),
    ("backdoor run {spec}", "line"),
    ("backdoor run missing.yaml", "missing.yaml"),
    ("backdoor init {file}/x.yaml", "is a file, not a folder"),
    ("backdoor init {folder} --force", "is a folder"),
    ("backdoor init {file}", "already exists"),
    ("backdoor init /proc/alignlab.yaml", "cannot write it"),
    # click's own usage errors: one paragraph naming the option and the command's --help, no boxed panel
    ("forecast sutton --sets abc", "Invalid value for '--sets'"),
    ("forecast sutton --bogus", "No such option: --bogus. See `alignlab forecast sutton --help`"),
    ("hacking init --kind bogus", "Invalid value for '--kind'"),
    ("no-such-command", "No such command 'no-such-command'"),
    ("run", "Missing argument 'spec'"),
    ("run " + SPEC + " --workers 0", "--workers must be at least 1 (got 0)"),
    ("run " + SPEC + " --workers 1000", "--workers must be at most 64"),
    ("run " + SPEC + " --executor bogus", "Invalid value for '--executor'"),
    ("run {binary}", "not UTF-8 text"),
    ("forecast init {file}", "already exists"),
    ("forecast init {folder} --force", "is a folder"),
    ("hacking init {file} --kind awareness", "already exists"),
    ("hacking awareness --model tiny:2x64 --out {file}", "is a file, not a folder"),
]


@pytest.mark.parametrize(("command", "message"), CASES, ids=[c for c, _ in CASES])
def test_bad_input_gets_one_error_paragraph_and_exit_status_2(files, capsys, command, message):
    args = [a.format(**files) for a in command.split()]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    text = " ".join((out + err).replace("│", " ").split())
    assert exit_info.value.code == 2, text
    assert "Error" in text and message in text, text
    assert "Traceback" not in text and "╭" not in out + err  # one paragraph, not a boxed panel


def test_the_console_script_prints_no_traceback():
    result = subprocess.run([sys.executable, "-m", "alignlab.cli", "forecast", "stocks", "--origins", "5"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--origins must be at least 10 (got 5)" in " ".join(result.stderr.split()) and result.stdout == ""


class _Config(BaseModel):
    n_windows: int = Field(10, ge=10)
    alpha: float = Field(0.05, gt=0, lt=1)


def test_build_config_names_options_as_typed():
    assert build_config(_Config, n_windows=12).n_windows == 12
    with pytest.raises(AlignlabError, match=r"^--origins must be at least 10 \(got 5\); --alpha must be less than 1"):
        build_config(_Config, {"n_windows": "--origins"}, n_windows=5, alpha=2.0)
    with pytest.raises(AlignlabError, match="--alpha must be a finite number"):
        build_config(_Config, alpha=float("nan"))


def test_output_paths_are_created_or_refused(tmp_path):
    made = output_dir(tmp_path / "a" / "b")
    assert made.is_dir() and list(made.iterdir()) == []  # the write test leaves nothing behind
    target = output_file(tmp_path / "c" / "out.jsonl")
    assert target.parent.is_dir() and not target.exists()
    (tmp_path / "keep.txt").write_text("kept")
    output_file(tmp_path / "keep.txt")
    assert (tmp_path / "keep.txt").read_text() == "kept"  # an existing file is never truncated by the check
    with pytest.raises(AlignlabError, match="--cv-out .* is a folder"):
        output_file(tmp_path / "a", "--cv-out")


def test_user_file_names_the_file_it_could_not_read(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(AlignlabError, match="spec.yaml: not UTF-8 text"), user_file(path, "a YAML spec"):
        path.read_text(encoding="utf-8")
    with pytest.raises(AlignlabError, match="cannot read it"), user_file(tmp_path / "gone"):
        (tmp_path / "gone").read_text()
