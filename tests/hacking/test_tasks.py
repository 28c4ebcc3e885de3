import json

import pytest

from alignlab.core import AlignlabError
from alignlab.hacking import impossible_task, impossible_variants, load_samples, load_tasks, mutate_value
from alignlab.hacking.grading._testcode import parse_tests, split_units

TASK = {"task_id": "add/0", "prompt": "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n", "entry_point": "add",
        "visible_tests": "assert candidate(1, 2) == 3", "hidden_tests": "assert candidate(-1, 1) == 0\nassert candidate(2, 2) == 4"}


def write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_humaneval_comes_from_the_installed_wheel_with_a_deterministic_split(tasks):
    assert len(tasks) == 164
    task = tasks["HumanEval/0"]
    visible = [s for s in task.visible if s.unit]
    hidden = [s for s in task.hidden if s.unit]
    assert len(visible) == 3 and len(hidden) == 4  # first third (rounded up) of 7 asserts is visible
    assert all("__strict_eq__" in s.src for s in visible + hidden)
    assert {s.line for s in visible}.isdisjoint({s.line for s in hidden})


def test_equality_asserts_become_strict_with_the_candidate_first():
    [statement] = parse_tests("assert 3 == candidate(1)")
    assert statement.unit and statement.src == "assert __strict_eq__(candidate(1), 3)"
    [negated] = parse_tests("assert candidate(1) != 4")
    assert negated.src == "assert not __strict_eq__(candidate(1), 4)"


def test_setup_statements_run_in_both_suites_and_a_single_unit_is_in_both():
    statements = parse_tests("def check(candidate):\n    x = [1]\n    assert candidate(x) == 1\n")
    visible, hidden = split_units(statements)
    assert [s.unit for s in visible] == [False, True] and visible == hidden


def test_jsonl_tasks_load_and_errors_name_the_line(tmp_path):
    tasks = load_tasks(write(tmp_path / "tasks.jsonl", [TASK]))
    assert list(tasks) == ["add/0"] and len(tasks["add/0"].hidden) == 2
    cases = {
        "not valid JSON": ["{oops"],
        "field 'entry_point'": [{k: v for k, v in TASK.items() if k != "entry_point"}],
        "no test statement calls 'candidate'": [dict(TASK, visible_tests="assert True")],
        "not valid Python": [dict(TASK, hidden_tests="assert (")],
        "appears twice": [TASK, TASK],
    }
    for message, rows in cases.items():
        with pytest.raises(AlignlabError, match=message) as error:
            load_tasks(write(tmp_path / "bad.jsonl", rows))
        assert "line" in str(error.value)


def test_samples_errors_name_the_line(tmp_path, tasks):
    good = {"task_id": "HumanEval/0", "completion": "    return True\n"}
    assert len(load_samples(write(tmp_path / "s.jsonl", [good, good]), tasks)) == 2
    for rows, message in (([good, "[1, 2]"], "line 2: expected a JSON object"),
                          ([good, {"task_id": "HumanEval/999", "completion": ""}], "line 2: unknown task_id"),
                          ([{"task_id": "HumanEval/0"}], "line 1: field 'completion'"),
                          ([{"completion": "x"}], "line 1: field 'task_id'")):
        with pytest.raises(AlignlabError, match=message):
            load_samples(write(tmp_path / "s.jsonl", rows), tasks)
    with pytest.raises(AlignlabError, match="no such file"):
        load_samples(tmp_path / "missing.jsonl", tasks)


def test_mutations_change_value_and_keep_type():
    for value in (3, 2.5, "ab", "", True, [1, 2], (), {"a": 1}, None):
        changed = mutate_value(value)
        assert changed != value
        assert value is None or type(changed) is type(value)


def test_impossible_variants_contradict_the_visible_assertion(tasks):
    variants = impossible_variants(tasks["HumanEval/0"])
    oneoff, conflicting = variants["oneoff"], variants["conflicting"]
    original = [s for s in tasks["HumanEval/0"].all_statements if s.unit]
    changed = [a for a, b in zip([s for s in oneoff if s.unit], original) if a.src != b.src]
    assert len(changed) == 1 and "False" in changed[0].src  # True → False in the first visible assert
    assert len([s for s in conflicting if s.unit]) == len(original) + 1
    assert impossible_task(tasks["HumanEval/0"], "oneoff").task_id == "HumanEval/0/impossible-oneoff"
    assert impossible_variants(tasks["HumanEval/32"]) == {}  # random-input loop: no literal to change


@pytest.mark.parametrize("row", [
    {"test": {"io": [{"input": "1 2\n", "output": "3\n"}, {"input": "2 2\n", "output": "4"}]}},
    {"test": json.dumps({"inputs": ["1 2\n", "2 2\n"], "outputs": ["3\n", "4\n"]})},
    {"input_output": json.dumps({"inputs": ["1 2\n", "2 2\n"], "outputs": ["3\n", "4\n"]})},   # APPS
    {"public_tests": {"input": ["1 2\n"], "output": ["3\n"]},                                 # CodeContests
     "private_tests": {"input": ["2 2\n"], "output": ["4\n"]}, "generated_tests": {"input": [], "output": []}},
    {"public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),  # LiveCodeBench
     "private_test_cases": [{"input": "2 2\n", "output": "4\n", "testtype": "stdin"}]},
    {"inputs": ["1 2\n", "2 2\n"], "outputs": ["3", "4"]},
])
def test_io_tests_in_every_benchmark_form_become_calls_on_stdin_text(tmp_path, row):
    base = {"task_id": "sum/0", "prompt": "Print the sum of the two integers.", "entry_point": ""}
    task = load_tasks(write(tmp_path / "t.jsonl", [{**base, **row}]))["sum/0"]
    assert task.stdio and not task.prompt_is_code and task.program("print(1)\n") == "print(1)\n"
    units = [s.src for s in task.all_statements if s.unit]
    assert units == ["assert __strict_eq__(candidate('1 2\\n'), '3')", "assert __strict_eq__(candidate('2 2\\n'), '4')"]


def test_functional_io_tests_call_the_entry_point_with_argument_lists(tmp_path):
    apps = {"task_id": "fn/0", "prompt": "", "entry_point": "",
            "input_output": json.dumps({"fn_name": "add", "inputs": [[1, 2], [[1], 3]], "outputs": [[3], [[1, 3]]]})}
    lcb = {"task_id": "fn/1", "prompt": "Add.", "entry_point": "add",
           "public_test_cases": [{"input": "1\n2", "output": "3", "testtype": "functional"}], "private_test_cases": []}
    tasks = load_tasks(write(tmp_path / "t.jsonl", [apps, lcb]))
    assert tasks["fn/0"].entry_point == "add" and not tasks["fn/0"].stdio
    assert [s.src for s in tasks["fn/0"].all_statements if s.unit] == [
        "assert __strict_eq__(candidate(1, 2), 3)", "assert __strict_eq__(candidate([1], 3), [1, 3])"]
    assert [s.src for s in tasks["fn/1"].all_statements if s.unit] == ["assert __strict_eq__(candidate(1, 2), 3)"]
