"""One optimisation step of a run (``TrainStep``) and what builds it from a run spec: the objective
on the device, its optimiser at the recipe's peak lr, the rescue term, the recipe's precision and
the check that the global batch splits over the processes.

Precision (``recipe.precision``, applied on CUDA only; a CPU run is fp32 whatever the value, so
the CPU profiles' numbers do not depend on it):

- ``fp32``: no autocast (google-research/simclr: its TPU program has no mixed-precision flag);
- ``bf16``: ``torch.autocast(bfloat16)``, no loss scaling (the default where a recipe says nothing);
- ``fp16``: ``torch.autocast(float16)`` with a dynamic ``GradScaler``: facebookresearch/moco-v3
  ``main_moco.py`` (``torch.cuda.amp.autocast(True)`` + ``GradScaler``) and facebookresearch/dinov2
  (``compute_precision``: fp16 parameters, ``grad_scaler: true``). A step whose scaled gradients
  overflow is skipped by the scaler and logged, as in those codes.

Under autocast the losses' reductions stay in fp32 (autocast runs softmax, log-softmax,
cross-entropy, norms and cosine similarity in fp32); the gradients are all-reduced in fp32 (the
parameters are fp32: DINOv2's heads reduce in fp32 officially, its backbone in fp16).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ssl_core import distributed as dist
from ssl_core.augment.originals import original_size
from ssl_core.augment.strong import StrongAugment
from ssl_core.backbones import is_vit
from ssl_core.batchnorm import DEFAULT_RULE, strong_embed
from ssl_core.host import retain_freed_memory
from ssl_core.methods import Method, StepInfo
from ssl_core.optim import build_optimizer, scaled_lr
from ssl_core.rescue import RescueRegularizer
from ssl_core.training.data import rescue_rule
from ssl_core.training.variants import variant

#: ``recipe.precision`` values and their autocast dtype (None: no autocast).
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
DEFAULT_PRECISION = "bf16"


def std_of_l2_normalized(z: torch.Tensor) -> torch.Tensor:
    """Mean per-dimension std of the l2-normalised embeddings (lightly's collapse statistic, the
    SimSiam paper's): ~1/sqrt(D) when healthy, ~0 when every image maps to one point."""
    return torch.nn.functional.normalize(z, dim=1).std(dim=0).mean()


def build_method(spec: dict[str, Any]) -> Method:
    """The model a spec trains: its variant's objective (``ssl_core.training.variants``)."""
    return variant(spec).objective(spec)


@dataclass
class TrainStep:
    """One optimisation step: forward of the method, the rescue term on rescued runs, backward,
    gradient all-reduce, clipping, the method's optimizer hooks and the update. The trainer and
    ``benchmarks/`` run exactly this.

    Logged scalars stay on the device until one transfer at the end of the step (one
    device-to-host sync per step, after backward was queued), so the forward and the rescue term
    are queued without waiting for the device. A non-finite loss skips the update (the run is
    then recorded as collapsed)."""

    model: Method
    optimizer: torch.optim.Optimizer
    rescue: RescueRegularizer | None
    s: float | None
    device: torch.device
    peak_lr: float  # the recipe's scaled lr, the top of the trainer's schedule
    precision: str = DEFAULT_PRECISION
    clip_grad: float | None = None

    rescue_bn: str = DEFAULT_RULE

    def __post_init__(self) -> None:
        # Convolutional networks train in channels-last layout (NHWC): the faster convolution
        # kernels on CPU (oneDNN; 1.1-1.5x per step here, benchmarks/throughput.py) and on GPU
        # (cuDNN's tensor-core kernels under bf16); the weights keep their values and names.
        self.memory_format = training_layout(self.model.eval_backbone)
        self.model.to(memory_format=self.memory_format)
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        # How BatchNorm treats the strong views (ssl_core.batchnorm): `new_step` before the forward.
        self.new_step, self.strong_embed = strong_embed(self.model, self.rescue_bn) if self.rescue is not None \
            else ((lambda: None), None)
        if self.precision not in PRECISIONS:
            raise ValueError(f"recipe.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        # The recipe's mixed precision on GPU (module docstring); fp32 on CPU.
        dtype = PRECISIONS[self.precision]
        on_gpu = self.device.type == "cuda" and dtype is not None
        self.autocast = torch.autocast(self.device.type, dtype=dtype, enabled=on_gpu) if on_gpu \
            else contextlib.nullcontext()
        self.scaler = torch.amp.GradScaler(self.device.type) if on_gpu and dtype is torch.float16 else None

    def __call__(self, views: list[torch.Tensor], originals: torch.Tensor, info: StepInfo,
                 strong_rng: torch.Generator | None = None) -> tuple[dict[str, float], int]:
        """Returns the step's logged scalars (averaged over processes) and the embedding width.
        The uint8 originals go to the device with the views (a quarter of a float view's bytes):
        selecting and augmenting the k easiest there needs no device-to-host sync, where taking
        only those k on the host would wait for the forward pass."""
        views = [v.to(self.device, non_blocking=True, memory_format=self.memory_format) for v in views]
        originals = originals.to(self.device, non_blocking=True)
        self.new_step()
        with self.autocast:
            out = self.model(views, info)
            loss = out.loss
            logs = {"loss_ssl": out.loss.detach(), **out.logs}
            if self.rescue is not None:
                r = self.rescue(out.z_a, out.z_b, originals, self.strong_embed, strong_rng)
                loss = loss + self.s * r.loss
                logs.update(loss_topk=r.loss.detach(), topk_sim=r.topk_similarity, pair_sim=r.pair_similarity,
                            strong_sim=r.strong_similarity)
        logs["loss"] = loss.detach()
        logs["emb_std"] = std_of_l2_normalized(out.z_a.detach().float())
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
            # the loss scale of this step, left on the device (get_scale() would sync): a step the
            # scaler skips for overflow shows as a halved scale on the next
            logs["grad_scale"] = self.scaler._get_scale_async()
        record = to_floats(dist.mean_over_processes(logs))  # the step's one device-to-host sync
        if math.isfinite(record["loss"]):
            dist.all_reduce_gradients(self.params)
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)  # clipping and the hooks see the true gradients
            if self.clip_grad:
                torch.nn.utils.clip_grad_norm_(self.params, self.clip_grad)
            self.model.on_before_optimizer_step(info)
            if self.scaler is None:
                self.optimizer.step()
            else:
                self.scaler.step(self.optimizer)  # skipped when a gradient overflowed (the scale drops)
                self.scaler.update()
            self.model.on_after_optimizer_step(info)
        return record, out.z_a.shape[1]


def training_layout(backbone: nn.Module) -> torch.memory_format:
    """channels-last for a convolutional backbone (ResNet), the default layout for a ViT, whose
    only convolution is the patch projection."""
    convolutional = not is_vit(backbone) and any(isinstance(m, nn.Conv2d) for m in backbone.modules())
    return torch.channels_last if convolutional else torch.contiguous_format


def to_floats(logs: dict[str, torch.Tensor | float]) -> dict[str, float]:
    """Python floats of a dict of scalars, with one device-to-host copy for all tensors."""
    keys = [k for k, v in logs.items() if isinstance(v, torch.Tensor)]
    values = torch.stack([logs[k].float().reshape(()) for k in keys]).tolist() if keys else []
    return {k: float(v) for k, v in logs.items() if k not in keys} | dict(zip(keys, values))


def build_train_step(spec: dict[str, Any], device: torch.device, world: int = 1) -> TrainStep:
    """The model, optimizer (at the recipe's peak lr) and rescue term of a run spec, on ``device``.
    Also keeps the process's freed host memory (``ssl_core.host``), as every training step wants."""
    retain_freed_memory()
    recipe = spec["recipe"]
    model = dist.convert_sync_batchnorm(build_method(spec), device).to(device)
    # (The supervised recipe states no lr_scaling: its base_lr is at batch 256, scaled linearly.)
    peak_lr = scaled_lr(recipe["base_lr"], recipe["batch_size"], recipe.get("lr_scaling", "linear"),
                        recipe.get("lr_ref_batch", 256))
    optimizer = build_optimizer(model.param_groups(recipe["weight_decay"]), recipe["optimizer"], peak_lr,
                                tuple(recipe.get("betas", (0.9, 0.999))))
    rescue, rule = None, rescue_rule(spec)
    if spec["variant"] == "rescued":
        rescue = RescueRegularizer(spec["k"], StrongAugment(size=recipe["image_size"], original_size=original_size(recipe)),
                                   rule["topk"])
    return TrainStep(model, optimizer, rescue, spec["s"], device, peak_lr, recipe.get("precision", DEFAULT_PRECISION),
                     recipe.get("clip_grad"), rule["bn"])


def check_processes(spec: dict[str, Any], world: int) -> None:
    """The batch and the rescue term's k split over ``world`` processes as the rescue rule needs,
    and each process's share of the batch fits ``train.max_batch_per_process``."""
    rule, k, batch_size = rescue_rule(spec), spec["k"], spec["recipe"]["batch_size"]
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the {world} processes")
    limit = spec["train"].get("max_batch_per_process")
    if limit is not None and batch_size // world > limit:
        need = -(-batch_size // limit)
        raise ValueError(
            f"{spec['run']}: recipe.batch_size {batch_size} over {world} process(es) is {batch_size // world} images per "
            f"forward, over train.max_batch_per_process {limit}: run it on at least {need} processes (GPUs), or raise "
            "train.max_batch_per_process where the memory allows (no gradient accumulation: a split batch would change "
            "the contrastive negatives and the BatchNorm statistics, docs/scaling.md)")
    if k is not None and rule["topk"] == "per_process" and k % world:
        raise ValueError(f"k {k} must be divisible by the {world} processes (rescue.topk: per_process)")
    if k is not None and rule["bn"] == "own_batch" and k // world < 2:
        raise ValueError(f"k / processes = {k} / {world} < 2: with rescue.bn own_batch the strong views are "
                         "a train-mode BatchNorm batch of their own")
    if rule == {"bn": "own_batch", "topk": "global"}:
        raise ValueError("rescue.topk global gives each process any number of strong views, which rescue.bn own_batch "
                         "would normalise as a batch of their own: use rescue.bn common")
