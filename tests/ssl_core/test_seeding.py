"""The named seeds of ssl_core.seeding give exactly the numbers the inline formulas gave before
them (training/, supervised.py, datasets/pretrain.py): a run's random streams, and so its
results, are unchanged."""
import itertools

import pytest

from ssl_core import seeding
from ssl_core.datasets.pretrain import item_seed as reexported


def _old_item_seed(seed, epoch, index):  # the formula of ssl_core.datasets.pretrain before seeding.py
    return (seed * 1_000_003 + epoch) * 10_000_019 + index


CASES = list(itertools.product([0, 1, 7, 29], [0, 1, 5, 255, 10_000], [0, 1, 3]))


@pytest.mark.parametrize("seed,counter,rank", CASES)
def test_named_seeds_equal_the_former_inline_formulas(seed, counter, rank):
    assert seeding.model_init_seed(seed) == seed
    assert seeding.item_seed(seed, counter, rank) == _old_item_seed(seed, counter, rank)
    assert reexported(seed, counter, rank) == _old_item_seed(seed, counter, rank)
    assert seeding.data_order_seed(seed, counter) == _old_item_seed(seed, counter, -1)
    assert seeding.step_seed(seed, counter, rank) == _old_item_seed(seed, counter, -3 - rank)
    assert seeding.strong_augment_seed(seed, counter, rank) == _old_item_seed(seed, counter, -1000 - rank)
    assert seeding.supervised_epoch_seed(seed, counter) == seed * 1_000_003 + counter


def test_streams_of_a_step_are_distinct():
    """Within one step and run, the per-image, order, step and strong-view streams never share a seed
    (for up to 64 processes and 4096 images)."""
    seed, step = 3, 17
    seeds = [seeding.item_seed(seed, step, i) for i in range(4096)] + [seeding.data_order_seed(seed, step)]
    seeds += [seeding.step_seed(seed, step, r) for r in range(64)]
    seeds += [seeding.strong_augment_seed(seed, step, r) for r in range(64)]
    assert len(seeds) == len(set(seeds))


def test_every_training_seed_is_named():
    """No inline seed arithmetic is left in the training code: every seed comes from ssl_core.seeding."""
    from pathlib import Path

    root = Path(seeding.__file__).parent
    for name in ("training/loop.py", "training/step.py", "training/data.py", "supervised.py", "datasets/pretrain.py"):
        text = (root / name).read_text()
        assert "1_000_003" not in text and "10_000_019" not in text, name
        assert "- rank" not in text and "-1000" not in text, name
