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
