"""Detectron2 fine-tuning and evaluation of a converted backbone (paper Table 2).

- ResNets: facebookresearch/moco ``detection/`` — ``configs/Base-RCNN-C4-BN.yaml`` (R50-C4,
  ``Res5ROIHeadsExtraNorm``, naiveSyncBN, FREEZE_AT 0, precise BN, 6000/1000 test proposals),
  ``pascal_voc_R_50_C4_24k_moco.yaml`` (Faster R-CNN, VOC07+12 trainval -> VOC07 test,
  ``PascalVOCDetectionEvaluator``) and ``coco_R_50_C4_2x_moco.yaml`` (Mask R-CNN C4,
  ``COCOEvaluator`` bbox + segm), with ``train_net.py``'s trainer. The configs are built here in
  Python from detectron2's ``get_cfg()``; the schedule values come from our config
  (``eval.dense``). BasicBlock ResNets (ResNet-18, the tiny ResNet with its 3x3 stride-1 stem)
  get the same C4 model with BasicBlock stages and a BasicBlock res5 head.
- ViTs: detectron2 ``projects/ViTDet`` — the simple feature pyramid over the plain ViT
  (``configs/common/models/mask_rcnn_vitdet.py``: window attention with 4 evenly spaced global
  blocks, relative positions, LN heads), AdamW with layer-wise lr decay (``mask_rcnn_vitdet_b_100ep.py``).
  The data pipeline is the yacs one of the ResNet recipe (ResizeShortestEdge), not ViTDet's
  large-scale jitter.

Needs detectron2 (installed from its repository at the commit docs/detectron2.md pins).
"""
from __future__ import annotations

import copy
import logging
import math
from functools import partial
from pathlib import Path
from typing import Any

import torch
from detectron2 import model_zoo
from detectron2.config import CfgNode, get_cfg, instantiate
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances, register_pascal_voc
from detectron2.engine import DefaultTrainer, HookBase, launch
from detectron2.evaluation import COCOEvaluator, PascalVOCDetectionEvaluator
from detectron2.layers import Conv2d, ShapeSpec, get_norm
from detectron2.modeling import BACKBONE_REGISTRY, ROI_HEADS_REGISTRY
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, ResNet, build_resnet_backbone
from detectron2.modeling.backbone.vit import get_vit_lr_decay_rate
from detectron2.modeling.roi_heads import Res5ROIHeads
from detectron2.solver import get_default_optimizer_params
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng
from detectron2.utils.logger import setup_logger
from torch import nn

from evaluations.dense.convert import PIXEL_MEAN, PIXEL_STD
from ssl_core.io import write_json
from ssl_core.preemption import RESUME_EXIT_CODE, Preempted, Preemption, agreed


class CifarStem(nn.Module):
    """The tiny ResNet's stem (3x3 conv, stride 1, BN, ReLU, no max-pool) in Detectron2's naming
    (``stem.conv1`` with ``conv1.norm``), so its weights land where the converter puts them."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, 1
        self.conv1 = Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False,
                            norm=get_norm(norm, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv1(x))


def _basic_stage(n: int, first_stride: int, in_channels: int, out_channels: int, norm: str) -> list[nn.Module]:
    return ResNet.make_stage(BasicBlock, n, stride_per_block=[first_stride] + [1] * (n - 1),
                             in_channels=in_channels, out_channels=out_channels, norm=norm)


@BACKBONE_REGISTRY.register()
def build_ssl_resnet_backbone(cfg: CfgNode, input_shape) -> nn.Module:
    """Detectron2's ``build_resnet_backbone`` for a Bottleneck ResNet with the 7x7 stem (MoCo's
    R50); else the same ResNet built from the block counts and widths of our backbone."""
    r = cfg.MODEL.RESNETS
    if r.BLOCK == "bottleneck":
        if r.STEM_KERNEL != 7:
            raise ValueError("a Bottleneck ResNet with a CIFAR stem has no Detectron2 counterpart here")
        return build_resnet_backbone(cfg, input_shape)
    stem = (BasicStem if r.STEM_KERNEL == 7 else CifarStem)(input_shape.channels, r.STEM_OUT_CHANNELS, r.NORM)
    stages, in_ch, out_ch = [], r.STEM_OUT_CHANNELS, r.RES2_OUT_CHANNELS
    for i, n in enumerate(r.BLOCKS_PER_STAGE):
        stages.append(_basic_stage(n, 1 if i == 0 else 2, in_ch, out_ch, r.NORM))
        in_ch, out_ch = out_ch, 2 * out_ch
    return ResNet(stem, stages, out_features=r.OUT_FEATURES, freeze_at=cfg.MODEL.BACKBONE.FREEZE_AT)


@ROI_HEADS_REGISTRY.register()
class Res5ROIHeadsExtraNorm(Res5ROIHeads):
    """moco ``detection/train_net.py``: "As described in the MOCO paper, there is an extra BN layer
    following the res5 stage." The res5 head is BasicBlock for BasicBlock backbones."""

    def __init__(self, cfg: CfgNode, input_shape) -> None:
        super().__init__(cfg, input_shape)
        self.res5.add_module("norm", get_norm(cfg.MODEL.RESNETS.NORM, self.res5[-1].out_channels))

    @classmethod
    def _build_res5_block(cls, cfg: CfgNode):
        r = cfg.MODEL.RESNETS
        if r.BLOCK == "bottleneck":
            return super()._build_res5_block(cfg)
        out_channels = r.RES2_OUT_CHANNELS * 8
        return nn.Sequential(*_basic_stage(r.BLOCKS_PER_STAGE[3], 2, out_channels // 2, out_channels, r.NORM)), out_channels


def register_datasets(data: dict[str, Any]) -> dict[str, tuple[tuple[str, ...], str]]:
    """Register the train and test sets of both tasks; returns task -> (train names, test name).

    ``data["name"] == "shapes"``: the tiny profile's generated sets (``evaluations.dense.data``).
    ``"real"``: VOC07+12 trainval -> VOC07 test under ``voc_root`` (``VOC2007/``, ``VOC2012/``) and
    COCO train2017 -> val2017 under ``coco_root`` (``annotations/``, ``train2017/``, ``val2017/``),
    the layout detectron2's ``datasets/README.md`` describes."""
    names: dict[str, tuple[tuple[str, ...], str]] = {}
    if data["name"] == "shapes":
        from evaluations.dense.data import dense_classes

        root = Path(data["root"])
        classes = dense_classes(root)
        voc = {"trainval": "shapes_voc_trainval", "test": "shapes_voc_test"}
        coco = {"trainval": "shapes_coco_train", "test": "shapes_coco_test"}
        for split in ("trainval", "test"):
            if voc[split] not in DatasetCatalog:
                # year 2007: the VOC07 11-point metric of the paper's VOC column
                register_pascal_voc(voc[split], str(root / "voc"), split, 2007, class_names=classes)
                register_coco_instances(coco[split], {}, str(root / "coco" / f"instances_{split}.json"),
                                        data["shapes_root"])
        names["voc"] = ((voc["trainval"],), voc["test"])
        names["coco"] = ((coco["trainval"],), coco["test"])
        return names
    voc_root, coco_root = Path(data["voc_root"]), Path(data["coco_root"])
    voc = [("rescue_voc_2007_trainval", "VOC2007", "trainval", 2007), ("rescue_voc_2012_trainval", "VOC2012", "trainval", 2012),
           ("rescue_voc_2007_test", "VOC2007", "test", 2007)]
    coco = [("rescue_coco_2017_train", "train2017"), ("rescue_coco_2017_val", "val2017")]
    for name, sub, split, year in voc:
        if name not in DatasetCatalog:
            register_pascal_voc(name, str(voc_root / sub), split, year)
    for name, split in coco:
        if name not in DatasetCatalog:
            register_coco_instances(name, {}, str(coco_root / "annotations" / f"instances_{split}.json"),
                                    str(coco_root / split))
    names["voc"] = ((voc[0][0], voc[1][0]), voc[2][0])
    names["coco"] = ((coco[0][0],), coco[1][0])
    return names


def build_cfg(task: str, info: dict[str, Any], sched: dict[str, Any], datasets: tuple[tuple[str, ...], str],
              weights: str, out_dir: str, seed: int = 0, mask_format: str = "polygon") -> CfgNode:
    """The yacs config of one fine-tuning job: MoCo's C4 recipe (ResNets) or the data, solver and
    schedule half of it for ViTDet (whose model is built from ``vit_model``)."""
    train, test = datasets
    cfg = get_cfg()
    r = cfg.MODEL.RESNETS
    # Base-RCNN-C4-BN.yaml
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    cfg.MODEL.RPN.PRE_NMS_TOPK_TEST, cfg.MODEL.RPN.POST_NMS_TOPK_TEST = 6000, 1000
    cfg.MODEL.ROI_HEADS.NAME = "Res5ROIHeadsExtraNorm"
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    r.NORM = "naiveSyncBN"  # "SyncBN seems to cause larger variance for unknown reasons"
    cfg.TEST.PRECISE_BN.ENABLED = True
    cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BASE_LR = 16, 0.02
    # *_moco.yaml: torchvision's normalisation on RGB input, stride in the 3x3 conv
    cfg.MODEL.PIXEL_MEAN, cfg.MODEL.PIXEL_STD = list(PIXEL_MEAN), list(PIXEL_STD)
    cfg.INPUT.FORMAT = "RGB"
    r.STRIDE_IN_1X1 = False
    # pascal_voc_R_50_C4_24k.yaml / coco_R_50_C4_2x.yaml
    cfg.MODEL.MASK_ON = task == "coco"
    DatasetCatalog.get(test)  # a COCO json sets its metadata's classes when it is loaded
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = len(MetadataCatalog.get(test).thing_classes)
    cfg.DATASETS.TRAIN, cfg.DATASETS.TEST = tuple(train), (test,)
    cfg.INPUT.MASK_FORMAT = mask_format
    # our backbone's shape (evaluations.dense.convert.describe)
    if info["family"] == "resnet":
        cfg.MODEL.BACKBONE.NAME = "build_ssl_resnet_backbone"
        r.BLOCK, r.STEM_KERNEL, r.BLOCKS_PER_STAGE = info["block"], info["stem_kernel"], info["blocks_per_stage"]
        r.DEPTH = 50 if info["block"] == "bottleneck" else 18
        r.STEM_OUT_CHANNELS, r.RES2_OUT_CHANNELS = info["stem_out_channels"], info["res2_out_channels"]
        r.WIDTH_PER_GROUP = info["width_per_group"]
    cfg.MODEL.WEIGHTS = weights
    cfg.OUTPUT_DIR = out_dir
    cfg.SEED = seed
    _apply_schedule(cfg, sched, info["family"])
    return cfg


def _apply_schedule(cfg: CfgNode, s: dict[str, Any], family: str) -> None:
    """Our config's keys (ssl_core/config.schema.yaml, eval.dense) -> Detectron2's."""
    cfg.SOLVER.MAX_ITER, cfg.SOLVER.STEPS = s["max_iter"], tuple(s["steps"])
    cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BASE_LR = s["ims_per_batch"], s["base_lr"]
    cfg.SOLVER.WARMUP_ITERS = s.get("warmup_iters", cfg.SOLVER.WARMUP_ITERS)
    cfg.SOLVER.WEIGHT_DECAY = s.get("weight_decay", cfg.SOLVER.WEIGHT_DECAY)
    cfg.SOLVER.CHECKPOINT_PERIOD = s.get("checkpoint_period", cfg.SOLVER.CHECKPOINT_PERIOD)
    cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MIN_SIZE_TEST = tuple(s["min_size_train"]), s["min_size_test"]
    cfg.INPUT.MAX_SIZE_TRAIN = s.get("max_size_train", cfg.INPUT.MAX_SIZE_TRAIN)
    cfg.INPUT.MAX_SIZE_TEST = s.get("max_size_test", cfg.INPUT.MAX_SIZE_TEST)
    if "precise_bn_iters" in s:
        cfg.TEST.PRECISE_BN.ENABLED = s["precise_bn_iters"] > 0
        cfg.TEST.PRECISE_BN.NUM_ITER = max(s["precise_bn_iters"], 1)
    for phase in ("train", "test"):  # RPN proposals kept before / after NMS
        for when in ("pre", "post"):
            key = f"{when.upper()}_NMS_TOPK_{phase.upper()}"
            cfg.MODEL.RPN[key] = s.get(f"{when}_nms_topk_{phase}", cfg.MODEL.RPN[key])
    cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE = s.get("roi_batch_size_per_image", cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE)
    cfg.TEST.DETECTIONS_PER_IMAGE = s.get("detections_per_image", cfg.TEST.DETECTIONS_PER_IMAGE)
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = s.get("score_thresh_test", cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST)
    cfg.DATALOADER.NUM_WORKERS = s.get("num_workers", cfg.DATALOADER.NUM_WORKERS)
    if "anchor_sizes" in s:  # one level (C4) or one size per pyramid level (ViTDet's p2-p6)
        sizes = s["anchor_sizes"]
        cfg.MODEL.ANCHOR_GENERATOR.SIZES = [sizes] if family == "resnet" else [[a] for a in sizes]
    if family == "vit":
        cfg.SOLVER.OPTIMIZER_NAME = "AdamW"


def vit_model(cfg: CfgNode, info: dict[str, Any], sched: dict[str, Any]) -> nn.Module:
    """ViTDet's Mask R-CNN (``configs/common/models/mask_rcnn_vitdet.py``) around our ViT's shape;
    Faster R-CNN (no mask branch) for VOC. Global attention in 4 evenly spaced blocks (ViTDet:
    2, 5, 8, 11 of 12), windows of ``window_size`` tokens elsewhere."""
    model = copy.deepcopy(model_zoo.get_config("common/models/mask_rcnn_vitdet.py").model)
    net = model.backbone.net
    depth = info["depth"]
    net.embed_dim, net.depth, net.num_heads = info["embed_dim"], depth, info["num_heads"]
    net.patch_size, net.pretrain_img_size = info["patch_size"], info["img_size"]
    net.img_size = cfg.INPUT.MAX_SIZE_TEST
    net.window_size = sched.get("window_size", 14)
    net.drop_path_rate = sched.get("drop_path_rate", 0.1)
    global_blocks = {(i + 1) * depth // 4 - 1 for i in range(4)}
    net.window_block_indexes = [i for i in range(depth) if i not in global_blocks]
    model.backbone.square_pad = cfg.INPUT.MAX_SIZE_TEST
    model.pixel_mean, model.pixel_std = list(PIXEL_MEAN), list(PIXEL_STD)
    model.roi_heads.num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    model.roi_heads.batch_size_per_image = cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE
    model.roi_heads.box_predictor.test_topk_per_image = cfg.TEST.DETECTIONS_PER_IMAGE
    model.roi_heads.box_predictor.test_score_thresh = cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST
    model.proposal_generator.post_nms_topk = (cfg.MODEL.RPN.POST_NMS_TOPK_TRAIN, cfg.MODEL.RPN.POST_NMS_TOPK_TEST)
    model.proposal_generator.pre_nms_topk = (cfg.MODEL.RPN.PRE_NMS_TOPK_TRAIN, cfg.MODEL.RPN.PRE_NMS_TOPK_TEST)
    # The pyramid is 4x, 2x, 1x, 0.5x the patch grid (ViTDet's scale factors) plus a max-pooled
    # level: strides p/4 .. 4p, i.e. p2-p6 for ViTDet's 16 px patches. Other patch sizes shift the
    # level names (p1-p5 for 8 px), so the heads' inputs, anchors and poolers follow the strides.
    strides = [info["patch_size"] * f // 4 for f in (1, 2, 4, 8, 16)]
    levels = [f"p{int(math.log2(t))}" for t in strides]
    model.proposal_generator.in_features = levels
    model.roi_heads.box_in_features = model.roi_heads.mask_in_features = levels[:4]
    model.proposal_generator.anchor_generator.sizes = cfg.MODEL.ANCHOR_GENERATOR.SIZES
    model.proposal_generator.anchor_generator.strides = strides
    model.roi_heads.box_pooler.scales = model.roi_heads.mask_pooler.scales = tuple(1.0 / t for t in strides[:4])
    # ViTDet's widths (256 channels, a 1024-wide fc: the heads dominate a tiny ViT's CPU time) or
    # ``head_channels`` C: the pyramid, the RPN conv and the 4 box / 5 mask convs C wide, the fc 4C
    c = sched.get("head_channels")
    if c is not None:
        model.backbone.out_channels = model.proposal_generator.head.in_channels = c
        model.roi_heads.box_head.input_shape = ShapeSpec(channels=c, height=7, width=7)
        model.roi_heads.box_head.conv_dims = [c] * len(model.roi_heads.box_head.conv_dims)
        model.roi_heads.box_head.fc_dims = [4 * c] * len(model.roi_heads.box_head.fc_dims)
        model.roi_heads.box_predictor.input_shape = ShapeSpec(channels=4 * c)
        model.roi_heads.mask_head.input_shape = ShapeSpec(channels=c, width=14, height=14)
        model.roi_heads.mask_head.conv_dims = [c] * len(model.roi_heads.mask_head.conv_dims)
    if not cfg.MODEL.MASK_ON:
        model.roi_heads.mask_in_features = model.roi_heads.mask_pooler = model.roi_heads.mask_head = None
    built = instantiate(model)
    built.backbone.top_block.in_feature = levels[3]  # LastLevelMaxPool fixes "p5" in its __init__
    if sched.get("freeze_backbone", False):  # the ViT's weights as pretrained; the pyramid and heads learn
        built.backbone.net.requires_grad_(False)
    return built.to(cfg.MODEL.DEVICE)


class Trainer(DefaultTrainer):
    """moco ``detection/train_net.py``'s trainer (VOC -> PascalVOCDetectionEvaluator, COCO ->
    COCOEvaluator); ViTs get ViTDet's model and its AdamW with layer-wise lr decay."""

    vit: dict[str, Any] | None = None  # (info, sched) of a ViT job, set by run_dense

    @classmethod
    def build_evaluator(cls, cfg: CfgNode, dataset_name: str, output_folder: str | None = None):
        output_folder = output_folder or str(Path(cfg.OUTPUT_DIR) / "inference")
        if cfg.MODEL.MASK_ON:
            return COCOEvaluator(dataset_name, tasks=("bbox", "segm"), distributed=True, output_dir=output_folder)
        return PascalVOCDetectionEvaluator(dataset_name)

    @classmethod
    def build_model(cls, cfg: CfgNode) -> nn.Module:
        if cls.vit is None:
            return super().build_model(cfg)
        return vit_model(cfg, *cls.vit)

    @classmethod
    def build_optimizer(cls, cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
        if cls.vit is None:
            return super().build_optimizer(cfg, model)
        info, sched = cls.vit
        # mask_rcnn_vitdet_b_100ep.py: AdamW (0.9, 0.999), wd 0.1, no wd on norms and pos_embed,
        # layer-wise lr decay 0.7 over the blocks (0.8 for ViT-L)
        decay = sched.get("lr_decay_rate", 0.7)
        params = get_default_optimizer_params(
            model, base_lr=cfg.SOLVER.BASE_LR, weight_decay_norm=0.0,
            lr_factor_func=partial(get_vit_lr_decay_rate, num_layers=info["depth"], lr_decay_rate=decay),
            overrides={"pos_embed": {"weight_decay": 0.0}})
        return torch.optim.AdamW(params, lr=cfg.SOLVER.BASE_LR, betas=(0.9, 0.999), weight_decay=cfg.SOLVER.WEIGHT_DECAY)


class StopOnSignal(HookBase):
    """SLURM's --signal (SIGUSR1) or SIGTERM seen by any process: after the current iteration,
    Detectron2's checkpointer saves the state (model, optimiser, scheduler, iteration; tagged
    ``last_checkpoint``) and the job stops with :class:`Preempted`; ``resume_or_load`` of the
    retried job continues from that iteration."""

    def __init__(self, preemption: Preemption) -> None:
        self.preemption = preemption

    def after_step(self) -> None:
        it = self.trainer.iter
        device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
        if it + 1 < self.trainer.max_iter and agreed(self.preemption.requested, device):
            self.trainer.checkpointer.save(f"model_{it:07d}", iteration=it)
            raise Preempted(f"dense fine-tuning stopped after iteration {it + 1} of {self.trainer.max_iter}")


def results_to_metrics(task: str, results: dict[str, dict[str, float]], dataset: str) -> list[dict[str, Any]]:
    """Detectron2's evaluator output -> our rows: VOC ``bbox`` -> det_voc; COCO ``bbox`` -> det_coco,
    ``segm`` -> seg_coco; AP, AP50, AP75 in percent (as Detectron2 reports them)."""
    kinds = {"voc": {"bbox": "det_voc"}, "coco": {"bbox": "det_coco", "segm": "seg_coco"}}[task]
    rows = []
    for key, name in kinds.items():
        for metric in ("AP", "AP50", "AP75"):
            value = float(results[key][metric])
            rows.append({"task": name, "dataset": dataset, "metric": metric, "value": value if math.isfinite(value) else float("nan")})
    return rows


def run_dense(task: str, info: dict[str, Any], sched: dict[str, Any], data: dict[str, Any], weights: str,
              out_dir: str, seed: int = 0, resume: bool = True, preemption: Preemption | None = None
              ) -> list[dict[str, Any]]:
    """Fine-tune on the task's train set and evaluate on its test set; resumes from ``out_dir``
    (Detectron2's last checkpoint: every ``checkpoint_period`` iterations and on ``preemption``)."""
    setup_logger(name="detectron2", abbrev_name="d2")
    logging.getLogger("fvcore").setLevel(logging.WARNING)
    datasets = register_datasets(data)[task]
    # the shapes masks are RLE of the visible pixels (not polygons)
    cfg = build_cfg(task, info, sched, datasets, weights, out_dir, seed,
                    mask_format="bitmask" if data["name"] == "shapes" else "polygon")
    cfg.MODEL.DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    cfg.freeze()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    Trainer.vit = (info, sched) if info["family"] == "vit" else None
    # as detectron2's default_setup (which this entry point does not call): the heads' init and the
    # data order follow cfg.SEED, one stream per process
    seed_all_rng(None if cfg.SEED < 0 else cfg.SEED + comm.get_rank())
    trainer = Trainer(cfg)
    if preemption is not None:
        trainer.register_hooks([StopOnSignal(preemption)])
    trainer.resume_or_load(resume=resume)
    if trainer.start_iter < cfg.SOLVER.MAX_ITER:
        trainer.train()  # its EvalHook evaluates once after the last iteration
    # DefaultTrainer.train keeps the evaluation in _last_eval_results (absent when resumed after
    # the last iteration, e.g. a job killed during evaluation: evaluate again)
    results = getattr(trainer, "_last_eval_results", None) or Trainer.test(cfg, trainer.model)
    return results_to_metrics(task, results, {"voc": "voc0712", "coco": "coco"}[task] if data["name"] != "shapes"
                              else f"shapes_{task}")


def _job(run: str, task: str, info: dict[str, Any], sched: dict[str, Any], data: dict[str, Any], weights: str,
         out_dir: str, seed: int, out: str) -> None:
    with Preemption() as preemption:
        try:
            rows = run_dense(task, info, sched, data, weights, out_dir, seed=seed, preemption=preemption)
        except Preempted as e:  # a spawned process's exit status is what the launching one sees
            print(f"stopped resumably ({e}); exit {RESUME_EXIT_CODE}", flush=True)
            raise SystemExit(RESUME_EXIT_CODE) from None
    if comm.is_main_process():
        write_json(out, {"run": run, "task": f"dense_{task}", "metrics": rows})


def launch_dense(run: str, task: str, info: dict[str, Any], sched: dict[str, Any], data: dict[str, Any],
                 weights: str, out_dir: str, seed: int, out: str) -> None:
    """One process per visible GPU (detectron2's ``launch``, as moco's ``train_net.py``: the global
    batch ``ims_per_batch`` is split over them and naiveSyncBN synchronises); one process on CPU."""
    import torch.multiprocessing as mp

    # this process too receives SLURM's signal: recorded, not fatal, while its workers checkpoint
    with Preemption():
        try:
            launch(_job, max(torch.cuda.device_count(), 1), dist_url="auto",
                   args=(run, task, info, sched, data, weights, out_dir, seed, out))
        except mp.ProcessExitedException as e:
            if e.exit_code == RESUME_EXIT_CODE:
                raise SystemExit(RESUME_EXIT_CODE) from None
            raise
