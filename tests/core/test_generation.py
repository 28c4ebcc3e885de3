import torch

from alignlab.core import format_prompt, generate


def _prompts(tokenizer, n=5):
    texts = ["Hi", "What is the tallest mountain on Earth?", "Sort 3, 1, 2.", "Name a colour.", "Tell me a long story about a cat."]
    return [format_prompt(tokenizer, t) for t in texts[:n]]


def test_batched_greedy_generation_matches_one_prompt_at_a_time(tiny):
    model, tokenizer = tiny
    prompts = _prompts(tokenizer)
    batched = generate(model, tokenizer, prompts, max_new_tokens=8, batch_size=8, precision="fp32")
    single = [generate(model, tokenizer, [p], max_new_tokens=8, batch_size=1, precision="fp32")[0] for p in prompts]
    assert batched == single


def test_stop_predicate_ends_rows_early(tiny):
    model, tokenizer = tiny
    prompts = _prompts(tokenizer, 3)
    full = generate(model, tokenizer, prompts, max_new_tokens=12, precision="fp32")
    stopped = generate(model, tokenizer, prompts, max_new_tokens=12, precision="fp32", stop=lambda text: len(text) > 0)
    for f, s in zip(full, stopped):
        assert f[0].startswith(s[0])
        assert len(tokenizer(s[0], add_special_tokens=False)["input_ids"]) <= 2 < len(tokenizer(f[0], add_special_tokens=False)["input_ids"])


def test_sampling_returns_n_continuations_and_leaves_the_global_rng_alone(tiny):
    model, tokenizer = tiny
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    out = generate(model, tokenizer, _prompts(tokenizer, 2), max_new_tokens=4, temperature=1.0, n=3, seed=7)
    assert [len(o) for o in out] == [3, 3]
    assert torch.rand(1) == expected


def test_progress_callback_counts_prompts(tiny):
    model, tokenizer = tiny
    seen = []
    generate(model, tokenizer, _prompts(tokenizer), max_new_tokens=2, batch_size=2, on_batch=seen.append)
    assert sum(seen) == 5


def test_generating_with_lora_adapters_merges_them_and_restores_the_frozen_weights_exactly():
    from peft import LoraConfig, get_peft_model

    from alignlab.core import load_model

    model, tokenizer = load_model("tiny:2x64", seed=0)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    with torch.no_grad():  # a trained-looking adapter: PEFT initialises lora_B to zero
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    prompts = [format_prompt(tokenizer, f"Question {i}?") for i in range(5)]
    merged = generate(model, tokenizer, prompts, max_new_tokens=6, batch_size=2, precision="fp32")
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())  # bit for bit, not approximately
    with model.disable_adapter():
        plain = generate(model, tokenizer, prompts, max_new_tokens=6, batch_size=2, precision="fp32")
    assert merged != plain  # the adapters took part
