"""Which of our architectures a table's row of a paper architecture reads (Fig. 2, Table 1, the
claims): a table rule of the evaluations, not of the config. A CPU profile trains scaled-down
backbones; each answers for the paper architectures of its family (``ssl_core.config.arch_family``:
ResNet / ViT) unless it is declared the stand-in of one (:data:`STAND_IN_FOR`)."""
from __future__ import annotations

from ssl_core.config import arch_family


#: A scaled-down architecture declared the stand-in of one paper architecture (the CPU profiles'
#: MoCo v3 ViT pair, docs/profiles.md): a table's row of that paper architecture reads its runs,
#: and no other paper architecture's row does. Others answer for every paper architecture of their family.
STAND_IN_FOR = {"vit_s_tiny": "vit_small", "vit_b_tiny": "vit_base"}


def stand_ins(archs, arch: str) -> set[str]:
    """Which of our architectures ``archs`` answer for the paper's ``arch`` when it was not run:
    its declared stand-ins (:data:`STAND_IN_FOR`) if any ran, else those of its family (ResNet / ViT)
    not declared the stand-in of another architecture."""
    archs = set(archs)
    declared = {a for a in archs if STAND_IN_FOR.get(a) == arch}
    if declared:
        return declared
    return {a for a in archs if arch_family(a) == arch_family(arch) and a not in STAND_IN_FOR}
