"""Example and validation inputs of each network."""

import torch

from .contract import MAX_LENGTH

# ======================================================================================================
# Example and validation inputs
# ======================================================================================================

def _token_batch(rows, gen):
    """Token ids shaped like the CLIP tokenizer's output: BOS, n tokens, EOS, EOS padding; mask to the first EOS."""
    ids = torch.full((len(rows), MAX_LENGTH), 49407, dtype=torch.int64)
    mask = torch.zeros((len(rows), MAX_LENGTH), dtype=torch.int64)
    for b, n in enumerate(rows):
        ids[b, 0] = 49406
        ids[b, 1:1 + n] = torch.randint(0, 49406, (n,), generator=gen)
        mask[b, :n + 2] = 1
    return ids, mask


def make_inputs(name, dims, seed):
    """(example_for_export, [validation cases]) as CPU float32 / int64 tensors; shapes differ between the
    export example and the cases so that dynamic batch and spatial axes are exercised."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    def ratio(b):
        return torch.rand(b, generator=g)

    if name in ("prior_text_encoder", "decoder_text_encoder"):
        example = _token_batch([5, 20], g)
        cases = [_token_batch([7], g), _token_batch([0, 75, 13], g)]
    elif name == "prior":
        d = dims["prior_clip"]
        example = (randn(2, 16, 12, 12), ratio(2), randn(2, MAX_LENGTH, d))
        cases = [(randn(1, 16, 6, 9), ratio(1), randn(1, MAX_LENGTH, d)),
                 (randn(3, 16, 12, 8), torch.tensor([1.0, 0.5, 0.0123]), randn(3, MAX_LENGTH, d))]
    elif name == "decoder":
        d = dims["decoder_clip"]
        example = (randn(2, 4, 128, 128), ratio(2), randn(2, 16, 12, 12, scale=3.0), randn(2, MAX_LENGTH, d))
        cases = [(randn(1, 4, 64, 96), ratio(1), randn(1, 16, 6, 9, scale=3.0), randn(1, MAX_LENGTH, d)),
                 (randn(2, 4, 32, 64), torch.tensor([1.0, 0.0833]), randn(2, 16, 3, 6, scale=3.0), randn(2, MAX_LENGTH, d))]
    elif name == "vqgan":
        example = (randn(1, 4, 64, 64, scale=0.5),)
        cases = [(randn(1, 4, 32, 48, scale=0.5),), (randn(2, 4, 16, 24, scale=0.5),)]
    elif name == "effnet":
        example = (randn(1, 3, 256, 256),)
        cases = [(randn(1, 3, 192, 288),), (randn(2, 3, 64, 96),)]
    else:
        raise KeyError(name)
    if not isinstance(example, tuple):
        example = tuple(example)
    return tuple(example), [tuple(c) for c in cases]


