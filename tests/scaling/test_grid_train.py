"""Tasks and one training run: the known entropy is right, training lowers the loss and repeats under a seed."""

import numpy as np
import pytest

from alignlab.core import AlignlabError, create
from alignlab.scaling._models import resolve_size
from alignlab.scaling._train import TrainSettings, peak_lr, train_run

SETTINGS = TrainSettings(batch_size=8, ctx=16, lr=1e-2, lr_width=32, checkpoints=4, eval_tokens=2048)


@pytest.fixture(scope="module")
def markov():
    return create("scaling-task", "markov", vocab=12, order=1, branching=2, tokens=60_000, seed=3)


def test_markov_entropy_matches_the_empirical_conditional_entropy(markov):
    stream = np.concatenate([markov.train, markov.val])
    counts = np.zeros((12, 12))
    np.add.at(counts, (stream[:-1], stream[1:]), 1)
    p = counts / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = counts / counts.sum(axis=1, keepdims=True)
        empirical = -np.nansum(np.where(p > 0, p * np.log(cond), 0.0))
    assert 0 < markov.entropy < np.log(2) + 1e-9  # two successors per context: at most ln 2
    assert abs(empirical - markov.entropy) < 0.01
    assert (counts > 0).sum(axis=1).max() <= 2  # sparse: only the chosen successors ever follow


def test_bytes_task_has_a_fixed_split_and_fails_clearly(tmp_path):
    task = create("scaling-task", "bytes")
    again = create("scaling-task", "bytes")
    assert task.vocab_size == 256 and len(task.train) > 300_000
    assert abs(len(task.val) / (len(task.train) + len(task.val)) - 0.1) < 1e-3
    assert np.array_equal(task.val, again.val)
    text = tmp_path / "corpus.txt"
    text.write_text("some words here. " * 1000)
    own = create("scaling-task", "bytes", path=str(text))
    assert own.source == str(text) and len(own.train) + len(own.val) == 17_000
    with pytest.raises(AlignlabError, match="task.path"):
        create("scaling-task", "bytes", path=str(tmp_path / "missing.txt"))


def test_training_lowers_the_loss_and_is_deterministic_under_a_seed(markov):
    import torch

    arch = resolve_size(create("scaling-arch", "rotary", vocab_size=12, ctx=16), n_layer=1, d_model=32, params=None)
    first = train_run(markov, arch, 12_288, 0, SETTINGS)
    again = train_run(markov, arch, 12_288, 0, SETTINGS)
    other = train_run(markov, arch, 12_288, 1, SETTINGS)
    losses = [row["val_loss"] for row in first["curve"]]
    # from ln 12 ≈ 2.48 at the start to near the chain's entropy rate (the floor no model can beat)
    assert len(losses) == 4 and losses[-1] <= losses[0] and losses[-1] < np.log(12) - 1.5
    assert markov.entropy - 0.02 < losses[-1] < markov.entropy + 0.2
    assert first["curve"] == again["curve"]  # same seed: the same numbers, bit for bit
    assert first["curve"] != other["curve"]
    assert first["tokens"] == first["steps"] * 8 * 16 and first["curve"][-1]["flops_6nd"] == 6 * first["N"] * first["tokens"]
    torch.manual_seed(0)
    assert first["peak_lr"] == pytest.approx(peak_lr(SETTINGS, 32)) == pytest.approx(1e-2)
    assert peak_lr(SETTINGS, 128) == pytest.approx(5e-3)  # lr ∝ 1/sqrt(d_model)
