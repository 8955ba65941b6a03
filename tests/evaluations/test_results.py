"""Which of our rows answer a published row (evaluations.results.ours_for), as Fig. 2, Tables 1-2
and the claims use it: the same architecture, else the same family, and only for Tables 1-2 the
other family where the method ran on no architecture of the published one's."""
from __future__ import annotations

import pandas as pd

from evaluations.results import ours_for


def _rows(*runs):
    return pd.DataFrame([{"method": m, "arch": a, "variant": v, "value": 1.0} for m, a, v in runs])


def test_the_same_architecture_before_its_family():
    rows = _rows(("simclr", "resnet50", "baseline"), ("simclr", "resnet_tiny", "baseline"),
                 ("simclr", "resnet_tiny", "rescued"), ("mocov3", "resnet50", "baseline"))
    assert ours_for(rows, "simclr", "resnet50", "baseline").arch.tolist() == ["resnet50"]
    # rescued was run on the tiny ResNet only: its stand-in of the same family answers
    assert ours_for(rows, "simclr", "resnet50", "rescued").arch.tolist() == ["resnet_tiny"]
    assert ours_for(rows, "simclr", "resnet18", "baseline").arch.tolist() == ["resnet50", "resnet_tiny"]
    assert ours_for(rows, "simclr", "vit_base", "baseline").empty
    assert ours_for(rows, "dinov2", "vit_large", "baseline").empty


def test_the_other_family_only_where_asked_and_the_method_has_none_of_this_one():
    rows = _rows(("mocov3", "resnet_tiny", "baseline"), ("mocov3", "resnet_tiny", "rescued"),
                 ("simclr", "vit_tiny_test", "rescued"), ("simclr", "resnet_tiny", "baseline"))
    assert ours_for(rows, "mocov3", "vit_base", "rescued").empty  # Fig. 2, the claims
    assert ours_for(rows, "mocov3", "vit_base", "rescued", other_family=True).arch.tolist() == ["resnet_tiny"]
    # simclr has a ViT (of another variant): the ResNet baseline does not stand in for the paper's ViT
    assert ours_for(rows, "simclr", "vit_base", "baseline", other_family=True).empty


def test_rows_without_variants_the_claims_paired_gains():
    gains = pd.DataFrame([{"method": "simclr", "arch": "resnet_tiny", "mean": 1.0},
                          {"method": "simclr", "arch": "vit_tiny_test", "mean": 2.0},
                          {"method": "mocov3", "arch": "resnet_tiny", "mean": 3.0}])
    assert ours_for(gains, "simclr", "resnet50")["mean"].tolist() == [1.0]
    assert ours_for(gains, "simclr", "vit_tiny_test")["mean"].tolist() == [2.0]
    assert ours_for(gains, "mocov3", "vit_base").empty
