"""How BatchNorm treats the rescue term's strong views (config ``rescue.bn``).

A plain reading of the paper's Algorithm 1 forwards the k strong views through the online
network in train mode, as a batch of their own (rule ``own_batch``). Two things follow that
nobody chooses on purpose:

- the strong views are normalised by the statistics of k strongly augmented images: at k = 2 a
  train-mode BatchNorm maps every feature of the two images to +-gamma (+ beta), and SimCLR's and
  MoCo v3's projectors end in a BatchNorm without a shift, so the two strong embeddings come out
  exactly opposite whatever the images are (cosine -1);
- every BatchNorm's running statistics, which each eval-mode probe reads, take a k-image update of
  strongly augmented images as the last update of every step.

Rule ``common`` (the default): each BatchNorm normalises the strong views with the batch statistics
it computed for the step's common views (its first train-mode forward of the step: both views for
SimCLR, which forwards them as one batch; view 0, the view z_a comes from, for MoCo v3 and BYOL,
which forward one view per pass). A strong view's embedding then depends on its image and not on
k or on the number of processes (under synchronised BatchNorm those statistics are global), and
the running statistics are those of the common views alone: the strong forward leaves them as
they are. The statistics are constants of the strong branch (gradients flow through its
activations and through gamma and beta), as in an eval-mode BatchNorm.

The statistics are read back from the running-statistics update the common forward made
(``running = (1 - m) running + m batch``), so nothing is recomputed and nothing is communicated:
plain, torch's Sync and :class:`ssl_core.distributed.CPUSyncBatchNorm` all qualify. Networks
without BatchNorm (DINOv2's ViT and head) are unaffected by either rule.
"""
from __future__ import annotations

import contextlib
from functools import partial
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core import distributed as dist

#: ``rescue.bn`` values.
RULES = ("common", "own_batch")
DEFAULT_RULE = "common"


class CommonViewStatistics:
    """Records, per BatchNorm layer of ``model``, the batch statistics of its first train-mode
    forward after :meth:`new_step`; :meth:`normalising` makes the layers use them.

    >>> stats = CommonViewStatistics(model)
    >>> stats.new_step(); out = model(views)          # records the common views' statistics
    >>> with stats.normalising(): z_s = model.embed(strong)   # normalised with them
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in self.layers:
            if not m.track_running_stats or m.momentum is None:
                raise ValueError(f"rescue.bn=common reads the batch statistics back from the running ones: {m} "
                                 "needs track_running_stats and a float momentum")
            m.register_forward_pre_hook(self._before)
            m.register_forward_hook(self._after)
        self.stats: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
        self._previous: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
        self._applying = False

    def new_step(self) -> None:
        self.stats.clear()

    def _before(self, m: nn.Module, args: tuple) -> None:
        if m.training and not self._applying and m not in self.stats:
            self._previous[m] = (m.running_mean.detach().clone(), m.running_var.detach().clone())

    @torch.no_grad()
    def _after(self, m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        if m not in self._previous:
            return
        mean0, var0 = self._previous.pop(m)
        mom = m.momentum
        mean = (m.running_mean - (1 - mom) * mean0) / mom
        unbiased = (m.running_var - (1 - mom) * var0) / mom
        x = args[0]
        n = x.numel() // x.shape[1] * dist.world_size()  # elements per channel of the (global) batch
        self.stats[m] = (mean, unbiased * (n - 1) / n)  # BatchNorm normalises with the biased variance

    @contextlib.contextmanager
    def normalising(self) -> Iterator[None]:
        """Within: every recorded layer normalises with its recorded statistics, running statistics
        untouched (a layer not run on the common views this step is an error)."""
        missing = [m for m in self.layers if m.training and m not in self.stats]
        self._applying = True
        try:
            for m in self.layers:
                if m in self.stats:
                    m.forward = partial(_normalise, m, *self.stats[m])
                elif m in missing:
                    m.forward = partial(_unrecorded, m)
            yield
        finally:
            for m in self.layers:
                m.__dict__.pop("forward", None)
            self._applying = False


def _normalise(m: nn.modules.batchnorm._BatchNorm, mean: torch.Tensor, var: torch.Tensor,
               x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, mean, var, m.weight, m.bias, training=False, momentum=0.0, eps=m.eps)


def _unrecorded(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    raise RuntimeError(f"rescue.bn=common: {m} saw no common view this step, so it has no statistics "
                       "for the strong views")


def strong_embed(model: nn.Module, rule: str) -> tuple[Callable[[], None], Callable[[torch.Tensor], torch.Tensor]]:
    """``(new_step, embed)`` for a rescued model under ``rule``: call ``new_step()`` before the
    step's forward; ``embed`` is ``model.embed`` with the rule's BatchNorm treatment."""
    if rule not in RULES:
        raise ValueError(f"rescue.bn must be one of {RULES}, got {rule!r}")
    if rule == "own_batch":
        return (lambda: None), model.embed
    stats = CommonViewStatistics(model)

    def embed(images: torch.Tensor) -> torch.Tensor:
        with stats.normalising():
            return model.embed(images)

    return stats.new_step, embed
