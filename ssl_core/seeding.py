"""Every seed of a training run, derived from the run's ``seed`` in one place.

Each function feeds one random stream; the numbers are the ones the runs have always used
(changing one changes every result, so ``tests/test_seeding.py`` pins them). A stream is
``stream_seed(seed, counter, index)``: the counter is an epoch or a step, the index an image's
index (>= 0) or, negative, a named stream of that epoch or step.
"""
from __future__ import annotations

# The negative indices of the per-epoch / per-step streams (an image's index is >= 0).
DATA_ORDER = -1             # the shuffle of one pass over the data
STEP_GLOBAL = -3            # minus the rank: the global RNG of a step (in-method randomness)
STRONG_AUGMENT = -1000      # minus the rank: the strong augmentation of the rescued pairs


def stream_seed(seed: int, counter: int, index: int) -> int:
    """The seed of stream ``index`` at epoch or step ``counter`` of a run seeded ``seed``."""
    return (seed * 1_000_003 + counter) * 10_000_019 + index


def model_init_seed(seed: int) -> int:
    """The global RNG before the model is built: its initial weights (identical on every process)."""
    return seed


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The global RNG while the views of image ``index`` of pass ``epoch`` over the data are drawn."""
    return stream_seed(seed, epoch, index)


def data_order_seed(seed: int, epoch: int) -> int:
    """The generator of the order of pass ``epoch`` over the data (the same on every process)."""
    return stream_seed(seed, epoch, DATA_ORDER)


def step_seed(seed: int, step: int, rank: int) -> int:
    """The global RNG during training step ``step`` on process ``rank`` (e.g. iBOT's masks)."""
    return stream_seed(seed, step, STEP_GLOBAL - rank)


def strong_augment_seed(seed: int, step: int, rank: int) -> int:
    """The generator of the rescue term's strong views at ``step`` on process ``rank`` (rank 0's for
    every process under ``rescue.topk: global``)."""
    return stream_seed(seed, step, STRONG_AUGMENT - rank)


def supervised_epoch_seed(seed: int, epoch: int) -> int:
    """The global RNG at the start of epoch ``epoch`` of a supervised run: its data order, then its
    views' draws, batch after batch."""
    return seed * 1_000_003 + epoch
