"""Fig. 3: one image, centre-cropped, three common views and three strong views, drawn with the
suite's own augmentation code (``ssl_core.augment``)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from evaluations.formatting import save_figure  # noqa: E402
from ssl_core.augment.common import CommonViewConfig, common_view_transform  # noqa: E402
from ssl_core.augment.ops import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from ssl_core.augment.originals import original_transform  # noqa: E402
from ssl_core.augment.strong import StrongAugment  # noqa: E402
from ssl_core.datasets import pretrain_split  # noqa: E402


def _to_image(x: torch.Tensor) -> torch.Tensor:
    """Undo the normalisation: [3, H, W] float -> [H, W, 3] in [0, 1]."""
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return (x * std + mean).clamp(0, 1).permute(1, 2, 0)


def augmentation_grid(img: Image.Image, size: int, out_stem: str | Path, seed: int = 1,
                      min_scale: float = 0.08, blur_prob: float = 0.5) -> None:
    original = original_transform(size)(img)  # uint8 [3, size, size], what the rescue term keeps
    torch.manual_seed(seed)
    common = common_view_transform(CommonViewConfig(size=size, min_scale=min_scale, blur_prob=blur_prob))
    common_views = [common(img) for _ in range(3)]
    strong, ops = StrongAugment(size=size)(original[None].repeat(3, 1, 1, 1),
                                           torch.Generator().manual_seed(seed), return_ops=True)
    fig, axes = plt.subplots(1, 7, figsize=(14, 2.6))
    panels = [(original.permute(1, 2, 0), "original (centre crop)")]
    panels += [(_to_image(v), f"common view {i + 1}") for i, v in enumerate(common_views)]
    panels += [(_to_image(v), f"strong view {i + 1}\n" + ", ".join(f"{n}" for n, _ in o))
               for i, (v, o) in enumerate(zip(strong, ops))]
    for ax, (pixels, title) in zip(axes, panels):
        ax.imshow(pixels, interpolation="nearest" if size < 64 else "antialiased")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, out_stem, formats=("png",))


def fig3_figure(spec: dict, out_stem: str | Path) -> None:
    """Fig. 3 of a run ``spec``: the first val image of its pretraining data (fixed) with the
    common views of its recipe (crop scale, blur) and the rescue term's strong views."""
    image = pretrain_split(spec["data"], "val")[0][0]
    r = spec["recipe"]
    augmentation_grid(image, r["image_size"], out_stem, min_scale=r.get("min_scale", 0.08),
                      blur_prob=r.get("blur_prob", 0.5))
