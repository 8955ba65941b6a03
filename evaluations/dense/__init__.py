"""Dense prediction (paper Table 2) with Detectron2: the converter (``convert``, torch only), the
tiny profile's VOC/COCO data (``data``), and fine-tuning + evaluation (``detectron``, needs
Detectron2, which has no PyPI release: ``make detectron2``, docs/detectron2.md)."""
from __future__ import annotations

from typing import Any

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


TRAINED = ("baseline", "rescued")
FLOOR = "random_init"
TASKS = ("voc", "coco")  # one Detectron2 job each: VOC07+12 detection; COCO detection + instance segmentation


def left_out(config: dict[str, Any]) -> dict[str, str]:
    """``eval.dense.left_out``: backbone family -> why the profile leaves it out of Table 2 (the note
    of that family's rows in the claims table); empty where the profile names none."""
    return (config["eval"].get("dense") or {}).get("left_out", {})


def dense_runs(config: dict[str, Any], runs: dict[str, dict[str, Any]]) -> list[str]:
    """The runs that get Detectron2 jobs (one per task): the main runs (group ``main``) of a backbone
    family with a schedule under ``eval.dense``, baseline and rescued, and with ``eval.dense.floor``
    their floors (``random_init``: the same backbone, untrained, through the same detector recipe);
    ``eval.dense.methods`` / ``seeds`` / ``archs`` keep those methods / seeds / architectures only
    (default: all)."""
    from ssl_core.config import MAIN_GROUP, arch_family

    dense = config["eval"].get("dense", {})
    variants = TRAINED + ((FLOOR,) if dense.get("floor", False) else ())
    methods, seeds, archs = dense.get("methods"), dense.get("seeds"), dense.get("archs")
    return sorted(r for r, s in runs.items() if MAIN_GROUP in s["groups"] and s["variant"] in variants
                  and arch_family(s["arch"]) in dense and (methods is None or s["method"] in methods)
                  and (seeds is None or s["seed"] in seeds) and (archs is None or s["arch"] in archs))
