import pytest
from pydantic import BaseModel, ConfigDict, Field

from alignlab.core import AlignlabError, parse_spec, register
from alignlab.core._spec import config_hash


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lr: float = Field(0.1, gt=0)
    modules: list[str] = Field(default_factory=lambda: ["q", "v"])


class GridConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    size: int = 1
    mode: str = "a"
    inner: Inner = Field(default_factory=Inner)


@register("study", "grid-test")
class GridStudy:
    name = "grid-test"
    config_class = GridConfig
    example_spec = ""

    def check(self, spec):
        pass


def test_lists_become_factors_and_seeds_multiply():
    spec = parse_spec({"study": "grid-test", "seeds": 3, "size": [1, 2], "mode": ["a", "b"]})
    assert len(spec.cells) == 2 * 2 * 3
    assert spec.factors == {"size": [1, 2], "mode": ["a", "b"]}
    assert {c.factors["seed"] for c in spec.cells} == {0, 1, 2}
    assert len({c.id for c in spec.cells}) == 12


def test_a_list_for_a_list_field_is_a_value_and_a_list_of_lists_a_factor():
    spec = parse_spec({"study": "grid-test", "inner": {"modules": ["q", "k"]}})
    assert len(spec.cells) == 1 and spec.cells[0].config.inner.modules == ["q", "k"]
    spec = parse_spec({"study": "grid-test", "inner": {"modules": [["q"], ["q", "k"]]}})
    assert len(spec.cells) == 2 and spec.factors == {"inner.modules": [["q"], ["q", "k"]]}


def test_cell_ids_are_content_addresses():
    a = parse_spec({"study": "grid-test", "size": 2}).cells[0]
    b = parse_spec({"study": "grid-test", "size": 2, "mode": "a"}).cells[0]  # "a" is the default
    assert a.id == b.id == config_hash(a.config)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"study": "grid-test", "sise": 2}, r"'sise' is not a known field \(did you mean 'size'\?\)"),
        ({"study": "grid-test", "size": "big"}, r"field 'size': Input should be a valid integer"),
        ({"study": "grid-test", "mode": []}, r"field 'mode' is an empty list"),
        ({"study": "grid-test", "inner": {"lr": -0.01}}, r"field 'inner.lr': Input should be greater than 0"),
        ({"study": "grid-test", "seeds": 0}, r"'seeds' must be a count"),
        ({"study": "grid-test", "seeds": [1, 1]}, r"repeats a seed"),
        ({"study": "nonexistent"}, r"Unknown study 'nonexistent'"),
        ({"name": "x"}, r"field 'study' is missing"),
        ([1, 2], r"expected a YAML mapping"),
    ],
)
def test_malformed_specs_name_the_problem(data, message):
    with pytest.raises(AlignlabError, match=message):
        parse_spec(data, where="spec.yaml")


@pytest.mark.parametrize("name", ["../../x", "a/b", "/abs", "", ".", "..", "a\\b", " padded ", None])
def test_a_study_name_must_be_a_folder_name_under_the_study_root(name):
    with pytest.raises(AlignlabError, match=r"field 'name'"):
        parse_spec({"study": "grid-test", "name": name}, where="spec.yaml")


def test_a_plain_study_name_and_a_missing_one_are_accepted():
    assert parse_spec({"study": "grid-test", "name": "my-study_2.v1"}).name == "my-study_2.v1"
    assert parse_spec({"study": "grid-test"}).name == "grid-test"
