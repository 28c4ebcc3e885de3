import json

import pytest

from alignlab.core import AlignlabError, load_prompts


def test_bundled_prompts_are_many_distinct_and_split_without_overlap():
    train, evaluation = load_prompts("bundled", "train"), load_prompts("bundled", "eval")
    texts = [p.text.lower() for p in train + evaluation]
    assert len(texts) >= 600
    assert len(set(texts)) == len(texts)
    assert not {p.text for p in train} & {p.text for p in evaluation}
    assert len({p.topic for p in train}) >= 30


def test_jsonl_prompts_accept_instruction_field_and_split_by_hash(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps({"instruction": f"Explain item number {i} briefly."}) for i in range(200)))
    train, evaluation = load_prompts(str(path), "train"), load_prompts(str(path), "eval")
    assert len(train) + len(evaluation) == 200
    assert 15 <= len(evaluation) <= 70  # eval_fraction 0.2 of 200, by hash
    assert load_prompts(str(path), "eval") == evaluation  # deterministic


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "fine"}\n{not json}\n')
    with pytest.raises(AlignlabError, match="line 2"):
        load_prompts(str(path))
    path.write_text('{"prompt": "fine"}\n{"text": "no prompt field"}\n')
    with pytest.raises(AlignlabError, match="record 2.*'prompt' or 'instruction'"):
        load_prompts(str(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AlignlabError, match="no such file"):
        load_prompts(str(tmp_path / "nope.jsonl"))
