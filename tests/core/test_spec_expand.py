"""A study kind's optional ``expand`` hook: one written field value standing for many factor levels."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from alignlab.core import AlignlabError, Stage, register
from alignlab.core._spec import parse_spec
from alignlab.core._study import Study


class ShelfConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    book: str = "none"
    pages: int = 1
    seed: int = 0


READS: list[str] = []


def _read(ctx):
    READS.append(Path(ctx.config.book).name)
    return {"book": ctx.config.book, "words": len(Path(ctx.config.book).read_text().split())}


@register("study", "expand_plugin/shelf")
class ShelfStudy:
    """``shelf: DIR`` stands for one cell per ``.txt`` file in DIR (a plugin kind; core names no instrument)."""

    name = "expand_plugin/shelf"
    config_class = ShelfConfig
    example_spec = ""

    def expand(self, raw):
        shelf = raw.pop("shelf", None)
        if shelf is None:
            return raw
        books = sorted(str(p) for p in Path(shelf).glob("*.txt"))
        if not books:
            raise AlignlabError(f"field 'shelf': the folder '{shelf}' holds no .txt file.")
        return {**raw, "book": books}

    def check(self, spec):
        pass

    def stages(self, config):
        return [Stage("read", config.model_dump(mode="json"), _read)]

    def report(self, study):
        return []


@register("study", "expand_plugin/plain")
class PlainStudy:
    """A kind without the hook: its fields are used as written."""

    name = "expand_plugin/plain"
    config_class = ShelfConfig
    example_spec = ""

    def check(self, spec):
        pass


@pytest.fixture
def shelf(tmp_path):
    folder = tmp_path / "shelf"
    folder.mkdir()
    for name, text in {"a.txt": "one two", "b.txt": "one two three", "notes.md": "skipped"}.items():
        (folder / name).write_text(text)
    return folder


def test_expand_turns_one_value_into_a_factor_of_cells(shelf):
    spec = parse_spec({"study": "expand_plugin/shelf", "name": "s", "shelf": str(shelf), "pages": [1, 2]})
    assert spec.factors == {"book": [str(shelf / "a.txt"), str(shelf / "b.txt")], "pages": [1, 2]}
    assert len(spec.cells) == 4 and len({c.id for c in spec.cells}) == 4
    assert {c.factors["book"] for c in spec.cells} == {str(shelf / "a.txt"), str(shelf / "b.txt")}
    # The spec's data holds the expanded fields (what workers re-parse), its kind and name untouched.
    assert spec.data["book"] == spec.factors["book"] and "shelf" not in spec.data
    assert spec.data["study"] == "expand_plugin/shelf" and spec.data["name"] == "s"
    assert parse_spec(spec.data).factors == spec.factors  # re-parsing the expanded data: the same cells


def test_the_hook_gets_a_copy_and_a_kind_without_it_is_unchanged(shelf):
    data = {"study": "expand_plugin/shelf", "name": "s", "shelf": str(shelf)}
    parse_spec(data)
    assert data["shelf"] == str(shelf)  # the hook popped 'shelf' from its own copy
    plain = parse_spec({"study": "expand_plugin/plain", "name": "p", "pages": [3, 4]})
    assert plain.factors == {"pages": [3, 4]} and list(plain.data) == ["study", "name", "pages"]


def test_an_expand_error_names_the_spec_and_field_and_is_skipped_without_checks(tmp_path):
    (tmp_path / "empty").mkdir()
    data = {"study": "expand_plugin/shelf", "name": "s", "shelf": str(tmp_path / "empty")}
    with pytest.raises(AlignlabError, match=r"^my\.yaml: field 'shelf': the folder .* holds no \.txt file\.$"):
        parse_spec(data, where="my.yaml")
    # Re-read without checks (a report on another machine): the fields stay as written, and the config
    # then rejects 'shelf' like any unknown field; so that path is only as lenient as the kind's check.
    with pytest.raises(AlignlabError, match="'shelf' is not a known field"):
        parse_spec(data, check=False)


def test_each_expanded_level_is_its_own_resumable_cell(shelf, tmp_path):
    path = tmp_path / "shelf.yaml"
    path.write_text(f"study: expand_plugin/shelf\nname: s\nshelf: {shelf}   # one cell per book\n")
    study = Study.from_spec(path, out=tmp_path / "study")
    READS.clear()
    assert study.run(show_progress=False, report=False) == {"done": 2}
    (shelf / "c.txt").write_text("four words are here")
    # The study folder keeps the spec as written, so resuming re-expands it: the new book is a new cell,
    # the finished ones are not run again.
    again = Study.restore(tmp_path / "study")
    assert "shelf:" in (tmp_path / "study" / "spec.yaml").read_text() and len(again.spec.cells) == 3
    assert again.run(show_progress=False, report=False) == {"done": 3}
    assert READS == ["a.txt", "b.txt", "c.txt"]  # each book read once over both runs
