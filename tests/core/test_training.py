import pytest
import torch
import torch.nn.functional as F

from alignlab.core import Example, OptimizerConfig, TrainConfig, evaluate_loss, load_model, names, train
from alignlab.core._training import collate, encode, response_loss


def test_collate_aligns_every_response_at_one_column():
    batch = collate([([1, 2, 3], [7, 8]), ([4], [9, 9, 9])], pad_id=0)
    assert batch["input_ids"].tolist() == [[1, 2, 3, 7, 8, 0], [0, 0, 4, 9, 9, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1]]
    assert batch["position_ids"][1].tolist()[2:] == [0, 1, 2, 3]
    assert batch["keep"].tolist() == [2, 3, 4]
    # padding is masked by length, even where the response holds the pad id (often the end-of-turn token)
    assert batch["labels"].tolist() == [[7, 8, -100], [9, 9, 9]]
    assert collate([([1], [0, 0])], pad_id=0)["labels"].tolist() == [[0, 0]]


def test_response_loss_equals_the_full_logits_loss_on_response_tokens(tiny):
    model, tokenizer = tiny
    examples = [Example("Hello there", "General Kenobi!"), Example("Count to three please", "One, two, three.")]
    pairs, _ = encode(tokenizer, examples, max_length=64)
    batch = collate(pairs, tokenizer.pad_token_id)
    ours = response_loss(model, batch)
    # reference: one unpadded sequence at a time, all logits, loss on the response tokens only
    total, count = 0.0, 0
    for p, r in pairs:
        ids = torch.tensor([p + r])
        logits = model(input_ids=ids).logits[0, len(p) - 1 : -1]
        total += F.cross_entropy(logits, torch.tensor(r), reduction="sum")
        count += len(r)
    assert torch.allclose(ours, total / count, atol=1e-4)


def test_responses_are_cut_to_max_length_and_oversized_prompts_dropped(tiny):
    _, tokenizer = tiny
    pairs, dropped = encode(tokenizer, [Example("short", "word " * 200), Example("long " * 200, "x")], max_length=48)
    assert dropped == 1 and len(pairs[0][0]) + len(pairs[0][1]) == 48


def test_training_lowers_the_loss_and_changes_only_trainable_weights():
    from peft import LoraConfig, get_peft_model

    model, tokenizer = load_model("tiny:2x64", seed=0)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    examples = [Example(f"Question {i}?", "The answer is always forty two.") for i in range(16)]
    before = evaluate_loss(model, tokenizer, examples)
    stats = train(model, tokenizer, examples, TrainConfig(steps=30, batch_size=8, precision="fp32",
                                                          optimizer=OptimizerConfig(lr=1e-2)), seed=0)
    # A random tiny model's frozen head limits what LoRA can do; the drop is still unmistakable.
    assert evaluate_loss(model, tokenizer, examples) < before - 0.3
    assert stats.steps == 30 and stats.tokens > 0 and len(stats.losses) == 30
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    assert any(not torch.equal(p, trainable[n]) for n, p in model.named_parameters() if n in trainable)


def test_full_fine_tuning_memorises_a_fixed_answer():
    model, tokenizer = load_model("tiny:2x64", seed=0)
    examples = [Example(f"Question {i}?", "The answer is always forty two.") for i in range(16)]
    before = evaluate_loss(model, tokenizer, examples)
    train(model, tokenizer, examples, TrainConfig(steps=30, batch_size=8, optimizer=OptimizerConfig(lr=1e-2)))
    assert evaluate_loss(model, tokenizer, examples) < before * 0.3


@pytest.mark.parametrize("optimizer", sorted(names("optimizer")))
def test_every_registered_optimizer_trains(optimizer):
    model, tokenizer = load_model("tiny:1x32", seed=0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(model, tokenizer, [Example("a", "b c d")] * 4,
          TrainConfig(steps=2, batch_size=2, precision="fp32", optimizer=OptimizerConfig(name=optimizer, lr=1e-2)))
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert changed, f"{optimizer} changed no parameter"


def test_checkpoints_run_on_schedule_including_step_zero(tiny):
    model, tokenizer = load_model("tiny:1x32", seed=0)
    seen = []
    train(model, tokenizer, [Example("a", "b")] * 4, TrainConfig(steps=6, batch_size=2),
          checkpoints=[0, 3, 6], on_checkpoint=lambda step, m: seen.append(step))
    assert seen == [0, 3, 6]


def test_epochs_convert_to_steps():
    assert TrainConfig(epochs=2, batch_size=8).total_steps(40) == 10
    with pytest.raises(ValueError, match="either steps or epochs"):
        TrainConfig(steps=3, epochs=1)


def test_schedules_warm_up_then_decay_without_a_wasted_last_step():
    from alignlab.core._optim import lr_at

    linear = OptimizerConfig(lr=1.0, schedule="linear", warmup_steps=2)
    assert [lr_at(s, 6, linear) for s in range(1, 7)] == [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    cosine = OptimizerConfig(lr=1.0, schedule="cosine")
    assert lr_at(1, 10, cosine) == 1.0 and 0 < lr_at(10, 10, cosine) < 0.05
    assert lr_at(7, 10, OptimizerConfig(lr=0.3, schedule="constant")) == 0.3


def test_training_runs_after_another_trainer_set_accelerates_global_precision(tiny):
    # TRL's DPO trainer (on GPU) leaves accelerate's process-wide state at bf16; the next cell in the same
    # process must still train instead of failing with "AcceleratorState has already been initialized".
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    model, tokenizer = tiny
    AcceleratorState._reset_state()
    Accelerator(mixed_precision="bf16", cpu=True)
    try:
        stats = train(model, tokenizer, [Example("Hi", "Hello.")] * 4, TrainConfig(steps=1, batch_size=4), seed=0)
        assert stats.steps == 1
        assert str(AcceleratorState().mixed_precision) == "no"
    finally:
        AcceleratorState._reset_state()
