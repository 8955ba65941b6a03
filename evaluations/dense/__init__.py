"""Dense prediction (paper Table 2) with Detectron2: the converter (``convert``, torch only), the
tiny profile's VOC/COCO data (``data``), and fine-tuning + evaluation (``detectron``, needs
Detectron2, which has no PyPI release: ``make detectron2``, docs/detectron2.md)."""
from __future__ import annotations

DETECTRON2_COMMIT = "02b5c4e295e990042a714712c21dc79b731e8833"
DETECTRON2_MISSING = (
    "Detectron2 is not installed, so the dense-prediction jobs (Table 2: VOC07+12 detection, COCO "
    "detection and instance segmentation) are left out and Table 2 shows the published values only. "
    "Install it with `make detectron2` (docs/detectron2.md), i.e. pip install 'setuptools<81' && pip install "
    f"--no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git@{DETECTRON2_COMMIT}'"
)


def detectron2_available() -> bool:
    try:
        import detectron2  # noqa: F401
    except ImportError:
        return False
    return True
