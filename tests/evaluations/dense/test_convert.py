"""The converter: every backbone tensor lands, unchanged, under the right Detectron2 name.
The naming checks need only torch; loading into Detectron2's models needs Detectron2."""
from __future__ import annotations

import pickle

import pytest
import torch

from evaluations.dense.convert import convert_backbone, describe, resnet_to_detectron2, vit_to_detectron2
from ssl_core.backbones import build_backbone
from ssl_core.io import save_torch

D2_SKIP = "Detectron2 is not installed (see docs/detectron2.md: make detectron2); the naming tests above run without it"


def _basic_block_keys(stage: int, block: int, shortcut: bool) -> set[str]:
    """Detectron2's BasicBlock parameters and buffers (detectron2/modeling/backbone/resnet.py)."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    convs = ["conv1", "conv2"] + (["shortcut"] if shortcut else [])
    return {f"res{stage}.{block}.{c}.weight" for c in convs} | {
        f"res{stage}.{block}.{c}.norm.{b}" for c in convs for b in bn}


def test_tiny_resnet_names_are_detectron2s():
    sd = build_backbone("resnet_tiny").state_dict()
    out = resnet_to_detectron2(sd)
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    expected = {"stem.conv1.weight"} | {f"stem.conv1.norm.{b}" for b in bn}
    for stage in (2, 3, 4, 5):  # one BasicBlock per stage; stages 3-5 downsample
        expected |= _basic_block_keys(stage, 0, shortcut=stage > 2)
    assert set(out) == expected
    assert len(out) == len(sd)  # none dropped, none merged
    # values unchanged, under the name MoCo's converter gives them
    assert torch.equal(out["res3.0.shortcut.norm.running_var"], sd["layer2.0.downsample.1.running_var"])
    assert torch.equal(out["stem.conv1.norm.weight"], sd["bn1.weight"])
    assert torch.equal(out["res5.0.conv2.weight"], sd["layer4.0.conv2.weight"])


def test_resnet50_names():
    sd = build_backbone("resnet50").state_dict()
    out = resnet_to_detectron2(sd)
    assert len(out) == len(sd)
    assert torch.equal(out["res5.2.conv3.norm.running_var"], sd["layer4.2.bn3.running_var"])
    assert torch.equal(out["res2.0.shortcut.weight"], sd["layer1.0.downsample.0.weight"])
    assert not any(k.startswith(("layer", "bn", "downsample")) or ".bn" in k for k in out)
    info = describe("resnet50", {}, sd)
    assert info == {"family": "resnet", "block": "bottleneck", "blocks_per_stage": [3, 4, 6, 3],
                    "stem_out_channels": 64, "stem_kernel": 7, "res2_out_channels": 256, "width_per_group": 64}


def test_vit_names_and_layerscale_fold():
    vit = build_backbone("vit_tiny_test", img_size=32, patch_size=8, init_values=0.5, mask_token=True)
    sd = vit.state_dict()
    out = vit_to_detectron2(sd)
    assert "backbone.net.pos_embed" in out and "backbone.net.patch_embed.proj.weight" in out
    assert not any(k.endswith(("cls_token", "mask_token", "gamma")) or k.startswith("backbone.net.norm.") for k in out)
    kept = {k for k in sd if not k.endswith(("cls_token", "mask_token", "gamma")) and not k.startswith("norm.")}
    assert set(out) == {f"backbone.net.{k}" for k in kept}
    # gamma * (W x + b) == (gamma W) x + gamma b
    x = torch.randn(5, 96 * 4)
    fc2 = vit.blocks[1].mlp.fc2
    folded = x @ out["backbone.net.blocks.1.mlp.fc2.weight"].T + out["backbone.net.blocks.1.mlp.fc2.bias"]
    torch.testing.assert_close(folded, vit.blocks[1].ls2(fc2(x)))


def test_convert_backbone_writes_moco_style_pickle(tmp_path):
    model = build_backbone("resnet_tiny")
    save_torch({"arch": "resnet_tiny", "kwargs": {}, "state_dict": model.state_dict()}, tmp_path / "backbone.pt")
    info = convert_backbone(tmp_path / "backbone.pt", tmp_path / "d2.pkl")
    assert info["block"] == "basic" and info["stem_kernel"] == 3 and info["blocks_per_stage"] == [1, 1, 1, 1]
    blob = pickle.loads((tmp_path / "d2.pkl").read_bytes())
    assert blob["matching_heuristics"] is True
    assert set(blob["model"]) == set(resnet_to_detectron2(model.state_dict()))
    assert (blob["model"]["stem.conv1.weight"] == model.conv1.weight.detach().numpy()).all()


# --- with Detectron2: the converted weights load into its models with nothing missing or left over


def _tiny_cfg(info, task="voc"):
    from evaluations.dense.detectron import build_cfg

    from detectron2.data import DatasetCatalog, MetadataCatalog

    if "test_convert_classes" not in DatasetCatalog:
        DatasetCatalog.register("test_convert_classes", list)
        MetadataCatalog.get("test_convert_classes").set(thing_classes=["a", "b"])
    sched = {"max_iter": 1, "steps": [1], "ims_per_batch": 1, "base_lr": 0.01, "min_size_train": [64],
             "min_size_test": 64, "max_size_test": 64, "max_size_train": 64, "window_size": 4, "score_thresh_test": 0.0}
    cfg = build_cfg(task, info, sched, ((), "test_convert_classes"), "", "")
    cfg.MODEL.DEVICE = "cpu"
    return cfg


@pytest.mark.parametrize("arch", ["resnet_tiny", "resnet18", "resnet50"])
def test_resnet_loads_into_detectron2(arch, tmp_path):
    pytest.importorskip("detectron2", reason=D2_SKIP)
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model
    from detectron2.modeling.backbone import build_backbone as d2_backbone

    import evaluations.dense.detectron  # noqa: F401  (registers our backbone builder and ROI head)

    model = build_backbone(arch)
    sd = model.state_dict()
    info = describe(arch, {}, sd)
    cfg = _tiny_cfg(info)
    # the full ResNet (res2-res5): exactly the converted keys, same shapes
    cfg.defrost()
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res5"]
    resnet = d2_backbone(cfg)
    converted = resnet_to_detectron2(sd)
    assert set(resnet.state_dict()) == set(converted)
    resnet.load_state_dict(converted, strict=True)
    # the C4 model through Detectron2's checkpointer (MoCo's pickle, matching heuristics):
    # every converted tensor is used, the missing ones are the detection heads only
    save_torch({"arch": arch, "kwargs": {}, "state_dict": sd}, tmp_path / "backbone.pt")
    convert_backbone(tmp_path / "backbone.pt", tmp_path / "d2.pkl")
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res4"]
    c4 = build_model(cfg)
    checkpointer = DetectionCheckpointer(c4)
    incompatible = checkpointer._load_model(checkpointer._load_file(str(tmp_path / "d2.pkl")))
    assert not incompatible.unexpected_keys and not incompatible.incorrect_shapes
    assert all(k.startswith(("proposal_generator.", "roi_heads.box_predictor.", "roi_heads.res5.norm."))
               for k in incompatible.missing_keys), incompatible.missing_keys
    loaded = c4.state_dict()
    assert torch.equal(loaded["backbone.stem.conv1.weight"], sd["conv1.weight"])
    assert torch.equal(loaded["roi_heads.res5.0.conv1.weight"], sd["layer4.0.conv1.weight"])


def test_vit_loads_into_vitdet(tmp_path):
    pytest.importorskip("detectron2", reason=D2_SKIP)
    from detectron2.checkpoint import DetectionCheckpointer

    from evaluations.dense.detectron import vit_model

    kwargs = {"img_size": 32, "patch_size": 8, "recipe": "mocov3"}
    model = build_backbone("vit_tiny_test", **kwargs)
    save_torch({"arch": "vit_tiny_test", "kwargs": kwargs, "state_dict": model.state_dict()}, tmp_path / "b.pt")
    info = convert_backbone(tmp_path / "b.pt", tmp_path / "d2.pkl")
    cfg = _tiny_cfg(info, task="coco")
    d2 = vit_model(cfg, info, {"window_size": 4})
    checkpointer = DetectionCheckpointer(d2)
    incompatible = checkpointer._load_model(checkpointer._load_file(str(tmp_path / "d2.pkl")))
    assert not incompatible.unexpected_keys and not incompatible.incorrect_shapes
    net_missing = [k for k in incompatible.missing_keys if k.startswith("backbone.net.")]
    assert all(".rel_pos_" in k for k in net_missing), net_missing  # ViTDet's new relative positions
    torch.testing.assert_close(d2.backbone.net.blocks[2].attn.qkv.weight, model.blocks[2].attn.qkv.weight)
    assert d2.roi_heads.box_predictor.test_score_thresh == 0.0  # the schedule's, not ViTDet's 0.05


def test_vitdet_heads_take_the_schedules_width(tmp_path):
    """``head_channels``: the pyramid and the RPN / ROI heads C wide, the box fc 4C (ViTDet: 256 and
    1024), and the model still detects (one forward at test time); ``freeze_backbone``."""
    pytest.importorskip("detectron2", reason=D2_SKIP)
    from evaluations.dense.detectron import vit_model

    kwargs = {"img_size": 32, "patch_size": 8, "recipe": "mocov3"}
    info = describe("vit_tiny_test", kwargs, build_backbone("vit_tiny_test", **kwargs).state_dict())
    cfg = _tiny_cfg(info, task="coco")
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[4], [8], [16], [32], [64]]  # one per pyramid level (the profiles')
    default = vit_model(cfg, info, {"window_size": 4})
    narrow = vit_model(cfg, info, {"window_size": 4, "head_channels": 32})
    assert {s.channels for s in default.backbone.output_shape().values()} == {256}
    assert {s.channels for s in narrow.backbone.output_shape().values()} == {32}
    shapes = {n: tuple(p.shape) for n, p in narrow.named_parameters()}
    assert shapes["roi_heads.box_head.conv4.weight"] == (32, 32, 3, 3)
    assert shapes["roi_heads.box_head.fc1.weight"] == (128, 32 * 7 * 7)
    assert shapes["roi_heads.mask_head.mask_fcn1.weight"] == (32, 32, 3, 3)
    assert shapes["proposal_generator.rpn_head.conv.conv0.weight"][:2] == (32, 32)
    assert sum(p.numel() for p in narrow.parameters()) < sum(p.numel() for p in default.parameters()) / 4
    # freeze_backbone: the ViT fixed, the pyramid and the heads trained (ViTDet: everything trained)
    assert all(p.requires_grad for p in default.parameters())
    frozen = vit_model(cfg, info, {"window_size": 4, "head_channels": 32, "freeze_backbone": True})
    assert not any(p.requires_grad for p in frozen.backbone.net.parameters())
    assert all(p.requires_grad for n, p in frozen.named_parameters() if not n.startswith("backbone.net."))
    narrow.eval()
    with torch.no_grad():
        out = narrow([{"image": torch.rand(3, 64, 64) * 255, "height": 64, "width": 64}])
    assert out[0]["instances"].pred_masks.shape[1:] == (64, 64)


def test_dense_cli_without_detectron2_says_how_to_install(tmp_path):
    import subprocess
    import sys

    import json

    from evaluations.dense import DETECTRON2_COMMIT
    from ssl_core.config import load_config, run_matrix, training_spec
    from tests.conftest import ROOT, env_without_detectron2

    spec = json.dumps(training_spec(next(iter(run_matrix(load_config(ROOT / "config" / "config.yaml")).values()))))
    args = ["--task", "voc", "--backbone", "b.pt", "--weights", "w.pkl", "--spec", spec, "--config-json", "{}",
            "--data-json", "{}", "--workdir", str(tmp_path), "--out", str(tmp_path / "o.json")]
    proc = subprocess.run([sys.executable, "-m", "evaluations", "dense", *args], capture_output=True, text=True,
                          env=env_without_detectron2(tmp_path))
    assert proc.returncode != 0 and "Detectron2 is not installed" in proc.stderr
    assert f"detectron2.git@{DETECTRON2_COMMIT}" in proc.stderr and not (tmp_path / "o.json").exists()
