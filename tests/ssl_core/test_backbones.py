import torch

from ssl_core.backbones import build_backbone, count_parameters


def test_resnet18_cifar_has_the_cifar_stem():
    model = build_backbone("resnet18_cifar")
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)
    feats = []
    model.layer4.register_forward_hook(lambda m, i, o: feats.append(o.shape))
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 512) and model.feature_dim == 512
    assert feats[0][-2:] == (4, 4)  # 32 px -> 4x4 in the last stage (the ImageNet stem gives 1x1)
    assert abs(count_parameters(model) - 11.17e6) < 0.05e6


def test_vit_small_patch4_at_32px():
    model = build_backbone("vit_small", img_size=32, patch_size=4, recipe="mocov3", num_heads=12)
    assert model.patch_embed.num_patches == 64
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 384)


def _small_vit_recipe(arch):
    from ssl_core.config import experiment_runs, load_config
    from tests.conftest import ROOT

    config = load_config(ROOT / "config" / "small.yaml")  # validated against the schema on load
    exp = next(e for e in config["experiments"] if e["method"] == "mocov3" and e["arch"] == arch)
    return experiment_runs(config, exp)[0]["recipe"]


def test_moco_v3_vit_stand_ins_have_the_paper_pairs_shape():
    """ViT-S -> ViT-B in the paper (moco-v3): the same depth, twice the width, twice the heads (head
    width unchanged); the stand-ins keep that at 64 -> 128 wide, 4 layers, 4 px patches at 32 px."""
    built = {}
    for arch in ("vit_s_tiny", "vit_b_tiny"):
        options = _small_vit_recipe(arch)["backbone"]
        model = build_backbone(arch, **options)
        attn = model.blocks[0].attn
        built[arch] = (model.embed_dim, len(model.blocks), attn.num_heads, attn.head_dim, count_parameters(model))
        assert model.patch_embed.num_patches == 64 and model.patch_embed.patch_size == (4, 4)
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, model.feature_dim)
        # the small profile's named deviation: the patch projection is trained (official: frozen)
        assert model.patch_embed.proj.weight.requires_grad and not model.pos_embed.requires_grad
        assert model.global_pool == "avg"  # named deviation: the mean patch token (official: the class token)
    (ds, ls, hs, hds, ps), (db, lb, hb, hdb, pb) = built["vit_s_tiny"], built["vit_b_tiny"]
    assert (ds, db) == (64, 128) and ls == lb == 4 and (hs, hb) == (2, 4) and hds == hdb == 32
    assert 3.5 < pb / ps < 4.1  # the blocks' parameters grow with the width squared, as ViT-B / ViT-S


def test_moco_v3_vit_stand_in_recipes_validate_and_build():
    """Both stand-ins' small-profile recipes pass the schema and build MoCo v3 with the ViT heads
    (3-layer projector, predictor ending in BN) and AdamW, one step on a batch of 4 runs."""
    from ssl_core.methods.mocov3 import MoCoV3
    from ssl_core.training import build_method

    for arch in ("vit_s_tiny", "vit_b_tiny"):
        recipe = _small_vit_recipe(arch)
        assert recipe["optimizer"] == "adamw" and recipe["temperature"] == 0.2 and recipe["weight_decay"] == 0.1
        model = build_method({"arch": arch, "method": "mocov3", "recipe": recipe})
        assert isinstance(model, MoCoV3)
        assert sum(isinstance(m, torch.nn.Linear) for m in model.projector) == 3
        assert isinstance(model.predictor[-1], torch.nn.BatchNorm1d)
        out = model([torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)])
        assert torch.isfinite(out.loss) and out.z_a.shape == (4, recipe["proj_out_dim"])


def test_vit_global_pool_avg_is_the_mean_of_the_patch_tokens():
    """global_pool: avg (a CPU-scale option) returns the LayerNorm of the mean patch token, token
    (official) the normalised class token; anything else is refused."""
    import pytest

    torch.manual_seed(0)
    model = build_backbone("vit_s_tiny", img_size=32, patch_size=4, recipe="mocov3", global_pool="avg").eval()
    x = torch.randn(2, 3, 32, 32)
    tokens = model.forward_features(x)  # [B, 1 + 64, D], not normalised under avg (timm's fc_norm)
    expected = model.fc_norm(tokens[:, 1:].mean(dim=1))
    assert torch.allclose(model(x), expected, atol=1e-6)
    token = build_backbone("vit_s_tiny", img_size=32, patch_size=4, recipe="mocov3").eval()
    assert torch.allclose(token(x), token.forward_features(x)[:, 0], atol=1e-6)
    with pytest.raises(ValueError, match="global_pool"):
        build_backbone("vit_s_tiny", img_size=32, patch_size=4, global_pool="max")


def test_vit_activation_checkpointing_gives_the_same_gradients():
    """Checkpointed blocks (recomputed in the backward, their stochastic depth's RNG state restored)
    give the gradients of the plain forward exactly; without gradients the blocks run as usual."""
    grads, outputs = [], []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = build_backbone("vit_tiny_test", img_size=32, patch_size=8, recipe="dinov2", drop_path_rate=0.3,
                               init_values=1e-5, mask_token=True, activation_checkpointing=checkpointing).train()
        assert model.grad_checkpointing is checkpointing
        torch.manual_seed(1)
        masks = torch.rand(4, 16) < 0.3
        out = model.forward_tokens(torch.randn(4, 3, 32, 32), masks)
        out.square().sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
        outputs.append(out.detach())
        with torch.no_grad():
            assert not model.forward_tokens(torch.randn(2, 3, 32, 32)).requires_grad
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(grads[0], grads[1])
    assert grads[0].abs().sum() > 0
