import ast
import importlib
import importlib.util
import re
import warnings
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from alignlab.core import AlignlabError, _registry, create, get, names, parse_spec, register
from alignlab.core._registry import check_part_options


def test_registered_factory_is_created_with_its_arguments():
    @register("widget", "doubler")
    def doubler(factor: int = 2):
        return lambda x: x * factor

    assert create("widget", "doubler", factor=3)(5) == 15
    assert "doubler" in names("widget")
    assert get("widget", "doubler").description == ""


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(AlignlabError, match=r"Unknown optimizer 'adamz'.*adamw"):
        get("optimizer", "adamz")


def test_a_second_factory_cannot_take_a_registered_name():
    @register("widget", "taken")
    def first():
        return 1

    with pytest.raises(ValueError, match="already registered"):
        @register("widget", "taken")
        def second():
            return 2


def test_builtins_cover_every_instrument_kind():
    assert {"adamw", "adam", "sgd", "adafactor", "muon", "lion", "soap"} <= set(names("optimizer"))
    assert {"sft", "adversarial", "dpo", "none"} <= set(names("safety"))
    assert {"bundled:smollm2-135m", "bundled:gemma3-270m", "hf", "tiny"} <= set(names("model"))
    assert "contains" in names("scorer")
    assert "backdoor" in names("study")


def test_a_broken_plugin_only_warns(monkeypatch):
    class BrokenEntryPoint:
        name, value, module = "broken", "nowhere._registry", "nowhere._registry"

        def load(self):
            raise ImportError("no module named nowhere")

    monkeypatch.setattr(_registry, "_loaded", False)
    monkeypatch.setattr(_registry, "entry_points", lambda group: [BrokenEntryPoint()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(AlignlabError):
            get("widget", "not-there")
    assert any("broken" in str(w.message) for w in caught)


def test_builtins_come_from_entry_points_of_the_alignlab_group():
    points = {ep.name: ep.module for ep in entry_points(group="alignlab")}
    assert {"core": "alignlab.core._builtins", "backdoor": "alignlab.backdoor._registry"}.items() <= points.items()
    for module in points.values():
        assert importlib.util.find_spec(module) is not None, module


def test_without_installed_metadata_each_subpackage_registering_module_is_found(monkeypatch):
    monkeypatch.setattr(_registry, "_loaded", False)
    monkeypatch.setattr(_registry, "entry_points", lambda group: [])
    imported = []
    monkeypatch.setattr(_registry.importlib, "import_module",
                        lambda name, real=importlib.import_module: imported.append(name) or real(name))
    names("study")
    found = [m for m in imported if m.endswith(("._registry", "._builtins"))]
    assert {"alignlab.core._builtins", "alignlab.backdoor._registry", "alignlab.hacking._registry",
            "alignlab.forecast._registry"} <= set(found)
    assert "alignlab.core._registry" not in found  # the registry itself registers nothing


def test_the_docstring_lists_exactly_the_kinds_core_registers():
    # Core names only its own kinds: an instrument adding a kind must not have to edit core's docstring.
    names("study")
    listed = set(re.findall(r"``([\w-]+)``", _registry.__doc__.split("Kinds core registers:")[1].split(";")[0]))
    core_kinds = {kind for (kind, _), entry in _registry._entries.items()
                  if entry.builtin and entry.factory.__module__.startswith("alignlab.core.")}
    builtin = {kind for (kind, _), entry in _registry._entries.items() if entry.builtin}
    assert listed == core_kinds and listed < builtin


def test_core_imports_no_instrument():
    core = Path(_registry.__file__).parent
    for path in core.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for module in modules:
                parts = module.split(".")
                assert parts[0] != "alignlab" or parts[1:2] in ([], ["core"]), f"{path.name} imports {module}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("alignlab."):
                assert node.value.startswith("alignlab.core"), f"{path.name} names {node.value}"


def test_check_options_names_the_unknown_keyword_and_the_accepted_ones():
    @register("widget", "knobbed")
    def knobbed(size: int = 1, *, colour: str = "red"):
        return size, colour

    check_part_options("widget", "knobbed", {"size": 2, "colour": "blue"})
    with pytest.raises(AlignlabError, match=r"'color' is not an option of widget 'knobbed' \(did you mean "
                                            r"'colour'\?\); its options are: colour, size"):
        check_part_options("widget", "knobbed", {"color": "blue"})
    with pytest.raises(AlignlabError, match="'size' is set by its own field"):
        check_part_options("widget", "knobbed", {"size": 2}, reserved=["size"])


def test_check_options_follows_forwards_and_kwargs_accept_anything():
    def target(a: int = 0, b: int = 0):
        return a + b

    @register("widget", "forwarding", forwards=f"{__name__}:_FORWARD_TARGET")
    def forwarding(x: int = 0, **options):
        return target(**options)

    @register("widget", "open")
    def open_widget(**options):
        return options

    globals()["_FORWARD_TARGET"] = target
    check_part_options("widget", "forwarding", {"x": 1, "a": 2})
    with pytest.raises(AlignlabError, match="'c' is not an option.*a, b, x"):
        check_part_options("widget", "forwarding", {"c": 3})
    check_part_options("widget", "open", {"anything": 1})


def test_an_unknown_optimizer_option_fails_at_spec_load():
    spec = {"study": "backdoor", "name": "typo", "model": "tiny:2x64",
            "safety": {"train": {"optimizer": {"name": "adamw", "options": {"betaz": [0.9, 0.99]}}}}}
    with pytest.raises(AlignlabError, match=r"safety.train.optimizer.*'betaz' is not an option of optimizer "
                                            r"'adamw' \(did you mean 'betas'\?\)"):
        parse_spec(spec)
    spec["safety"]["train"]["optimizer"]["options"] = {"betas": [0.9, 0.99]}
    assert len(parse_spec(spec).cells) == 1
    spec["safety"]["train"]["optimizer"] = {"name": "adamw", "options": {"lr": 0.1}}
    with pytest.raises(AlignlabError, match="'lr' is set by its own field"):
        parse_spec(spec)


def test_a_scorer_that_cannot_take_the_phrase_is_rejected_by_the_config():
    @register("scorer", "tests/phraseless")
    def phraseless():
        return lambda text: True

    spec = {"study": "backdoor", "name": "s", "model": "tiny:2x64", "evaluation": {"scorer": "tests/phraseless"}}
    with pytest.raises(AlignlabError, match="scorer 'tests/phraseless' cannot take 'phrase'"):
        parse_spec(spec)
