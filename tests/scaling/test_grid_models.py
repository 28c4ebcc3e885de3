"""Architectures of the scaling grid: every preset builds, N is counted as documented, sizes resolve."""

import pytest

from alignlab.core import AlignlabError, create
from alignlab.scaling._models import build_model, count_non_embedding, flops_per_token, resolve_size

PRESETS = ["gpt", "swiglu", "rmsnorm", "rotary", "deep", "modern"]


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("size", [{"params": 10_000}, {"params": 300_000}, {"n_layer": 2, "d_model": 48}])
def test_presets_build_and_count_non_embedding_parameters(name, size):
    import torch

    arch = resolve_size(create("scaling-arch", name, vocab_size=40, ctx=16), n_layer=size.get("n_layer"),
                        d_model=size.get("d_model"), params=size.get("params"))
    model = build_model(arch)
    embedding = model.embed.weight.numel() + (model.pos.weight.numel() if model.pos is not None else 0)
    assert model.non_embedding_parameters() == count_non_embedding(arch)
    assert sum(p.numel() for p in model.parameters()) == count_non_embedding(arch) + embedding
    assert model(torch.randint(0, 40, (3, 16))).shape == (3, 16, 40)
    if "params" in size:  # the nearest shape on the preset's depth/width line: within a factor of 2.5
        assert 1 / 2.5 < count_non_embedding(arch) / size["params"] < 2.5


def test_variants_differ_where_they_say_and_flops_follow_kaplan():
    shape = {"n_layer": 2, "d_model": 64, "params": None}
    gpt, swiglu, deep = (resolve_size(create("scaling-arch", n, ctx=32), **shape) for n in ("gpt", "swiglu", "deep"))
    assert abs(count_non_embedding(swiglu) / count_non_embedding(gpt) - 1) < 0.03  # same N within 3%
    assert count_non_embedding(gpt) == 2 * (4 * 64**2 + 2 * 64 * 256 + 2 * 64) + 64
    assert flops_per_token(gpt) == 6 * count_non_embedding(gpt) + 6 * 2 * 32 * 64
    wide = resolve_size(create("scaling-arch", "gpt"), n_layer=None, d_model=None, params=200_000)
    narrow = resolve_size(create("scaling-arch", "deep"), n_layer=None, d_model=None, params=200_000)
    assert narrow.n_layer > wide.n_layer and narrow.d_model < wide.d_model
    rotary = build_model(resolve_size(create("scaling-arch", "rotary", ctx=8), **shape))
    assert rotary.pos is None and build_model(gpt).pos is not None


def test_a_bad_size_names_the_field():
    arch = create("scaling-arch", "gpt")
    with pytest.raises(AlignlabError, match=r"size.d_model.*multiple of the head width 16"):
        resolve_size(arch, n_layer=2, d_model=40, params=None)
    with pytest.raises(AlignlabError, match=r"'size'.*either 'params' or"):
        resolve_size(arch, n_layer=2, d_model=32, params=1000)
