"""iBOT's block-wise patch masks as DINOv2 draws them (facebookresearch/dinov2
``dinov2/data/masking.py`` ``MaskingGenerator`` and ``dinov2/data/collate.py``
``collate_data_and_cast``), from torch's global RNG instead of Python's ``random`` so that the
trainer's per-step seed makes them reproducible.

Per batch of B global-crop images: int(B x mask_probability) of them are masked, image i of those
with a ratio drawn uniformly in the i-th of the equal sub-intervals of ``mask_ratio``; the masks
are then shuffled over the B images. Each mask is grown from rectangles (BEiT): area in
[min_num_patches, remaining], aspect ratio log-uniform in [0.3, 1/0.3], kept if it adds at least
one and at most ``max_num_patches`` new patches; up to 10 tries per rectangle.
"""
from __future__ import annotations

import math

import torch


def _uniform(a: float, b: float) -> float:
    """Python's ``random.uniform`` (a + (b - a) u, also for b < a) from torch's RNG."""
    return a + (b - a) * float(torch.rand(()))


def _randint(a: int, b: int) -> int:
    """Python's ``random.randint``: a <= n <= b."""
    return int(torch.randint(a, b + 1, ()))


class BlockMaskGenerator:
    def __init__(self, grid: tuple[int, int], max_num_patches: float, min_num_patches: int = 4,
                 min_aspect: float = 0.3) -> None:
        self.height, self.width = grid
        self.max_num_patches = max_num_patches
        self.min_num_patches = min_num_patches
        self.log_aspect_ratio = (math.log(min_aspect), math.log(1 / min_aspect))

    def _mask(self, mask: torch.Tensor, max_mask_patches: float) -> int:
        delta = 0
        for _ in range(10):
            target_area = _uniform(self.min_num_patches, max_mask_patches)
            aspect_ratio = math.exp(_uniform(*self.log_aspect_ratio))
            h = int(round(math.sqrt(target_area * aspect_ratio)))
            w = int(round(math.sqrt(target_area / aspect_ratio)))
            if w < self.width and h < self.height:
                top, left = _randint(0, self.height - h), _randint(0, self.width - w)
                window = mask[top:top + h, left:left + w]
                new = h * w - int(window.sum())
                if 0 < new <= max_mask_patches:
                    window.fill_(True)
                    delta += new
                if delta > 0:
                    break
        return delta

    def __call__(self, num_masking_patches: int = 0) -> torch.Tensor:
        """A [height, width] bool mask of about ``num_masking_patches`` patches (fewer if no
        rectangle fits)."""
        mask = torch.zeros(self.height, self.width, dtype=torch.bool)
        count = 0
        while count < num_masking_patches:
            delta = self._mask(mask, min(num_masking_patches - count, self.max_num_patches))
            if delta == 0:
                break
            count += delta
        return mask


def batch_masks(n_images: int, generator: BlockMaskGenerator, mask_ratio: tuple[float, float],
                mask_probability: float) -> torch.Tensor:
    """``collate_data_and_cast``: [n_images, P] bool masks, P = height x width."""
    n_tokens = generator.height * generator.width
    n_masked = int(n_images * mask_probability)
    bounds = torch.linspace(mask_ratio[0], mask_ratio[1], n_masked + 1).tolist()
    masks = [generator(int(n_tokens * _uniform(bounds[i], bounds[i + 1]))) for i in range(n_masked)]
    masks += [generator(0) for _ in range(n_masked, n_images)]
    order = torch.randperm(n_images).tolist()  # random.shuffle
    return torch.stack([masks[i] for i in order]).flatten(1)
