import warnings

import pytest

from alignlab.core import AlignlabError, _registry, create, get, names, register


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
        name, value = "broken", "nowhere:thing"

        def load(self):
            raise ImportError("no module named nowhere")

    monkeypatch.setattr(_registry, "_loaded_plugins", False)
    monkeypatch.setattr(_registry, "entry_points", lambda group: [BrokenEntryPoint()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(AlignlabError):
            get("widget", "not-there")
    assert any("broken" in str(w.message) for w in caught)
