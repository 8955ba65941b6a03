"""The rescue term's gradient against the SSL loss's, at the paper's (N, k, tau, s) and at each CPU
profile's, and the scale-matched s it implies (evaluations.gradient_ratio; docs/protocols.md,
"What the same s means across scales").

Per method with an official SSL loss reimplemented there (SimCLR, MoCo v3) and per setting (the
paper profile's and each CPU profile's batch N, k, temperature, embedding width and s), on
synthetic unit embeddings with positive-pair cosine ``--cosines`` (spread 0.05, the strong views at
the same cosine to z_a): the mean gradient norm of s * L_topk over that of L_SSL on the k selected
rows (mean over ``--draws`` draws), the same at s = 1, and the s of each CPU setting whose ratio
equals the paper's (scale-matched s). ``--ckpt``: instead, the embeddings of a trained run (N of its
training images, its two views and a strong view each; the same run's embeddings for every setting,
so their width is the run's). DINOv2: the per-row weights alone (s * N / k). One JSON line;
``--markdown``: the table of docs/protocols.md instead.

    python -m benchmarks.gradient_ratio --markdown
    python -m benchmarks.gradient_ratio --markdown --ckpt results/tiny/checkpoints/<run>/last.pt
"""
from __future__ import annotations

import argparse

import torch

from benchmarks.common import add_thread_option, emit, load_profile, set_threads
from evaluations.gradient_ratio import gradient_ratio, scale_matched_s, synthetic_embeddings, weight_ratio

PROFILES = ("paper", "tiny", "small", "verdict")
METHODS = ("simclr", "mocov3")


def setting(profile: str, method: str) -> dict:
    """(N, k, tau, s, D) of a method in a profile's config."""
    m = load_profile(profile)["methods"][method]
    r = m["recipe"]
    return {"profile": profile, "method": method, "n": r["batch_size"], "k": m["rescue"]["k"], "s": m["rescue"]["s"],
            "tau": r.get("temperature"), "dim": r.get("proj_out_dim") or r.get("head_bottleneck_dim")}


@torch.no_grad()
def trained_embeddings(ckpt: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z_a, z_b, z_s) of n training images of a trained run (its training checkpoint: model and
    spec; eval mode): the embeddings of its two views and of a strong view of each image, as the
    rescue term draws it (ssl_core.augment.strong.StrongAugment on the originals)."""
    from ssl_core.augment.common import loader_views
    from ssl_core.augment.originals import original_size, original_transform
    from ssl_core.augment.strong import StrongAugment
    from ssl_core.datasets import pretrain_images
    from ssl_core.io import load_torch
    from ssl_core.methods import METHODS as REGISTRY
    from ssl_core.training import build_method

    state = load_torch(ckpt)
    spec = state["spec"]
    model = build_method(spec)
    model.load_state_dict(state["model"])
    model.eval()
    recipe = spec["recipe"]
    source = pretrain_images(spec["data"])
    if len(source) < n:
        raise SystemExit(f"N = {n} exceeds the {len(source)} training images of {spec['data']['root']}")
    torch.manual_seed(seed)
    picked = torch.randperm(len(source))[:n].tolist()
    views_of = loader_views(REGISTRY.get(spec["method"]).view_specs(recipe))
    to_original = original_transform(original_size(recipe))
    pairs = [views_of(source[i][0])[:2] for i in picked]
    originals = torch.stack([to_original(source[i][0]) for i in picked])
    strong = StrongAugment(size=recipe["image_size"], original_size=original_size(recipe))(
        originals, torch.Generator().manual_seed(seed))

    def embed(x):
        return torch.cat([model.embed(c) for c in x.split(512)]).float()

    return (embed(torch.stack([p[0] for p in pairs])), embed(torch.stack([p[1] for p in pairs])), embed(strong))


def measure(cfg: dict, cosine: float, draws: int, ckpt: str | None = None) -> dict:
    """The ratio of a setting, mean of ``draws`` draws: synthetic embeddings at ``cosine``, or
    (``ckpt``) a trained run's embeddings of N images (their mean positive-pair cosine reported)."""
    ratios, cosines = [], []
    for draw in range(draws):
        if ckpt:
            z_a, z_b, z_s = trained_embeddings(ckpt, cfg["n"], draw)
            cosines.append(float(torch.nn.functional.cosine_similarity(z_a, z_b).mean()))
        else:
            z_a, z_b, z_s = synthetic_embeddings(cfg["n"], cfg["dim"], cosine, seed=draw)
        ratios.append(gradient_ratio(cfg["method"], z_a, z_b, z_s, cfg["k"], 1.0, cfg["tau"])["ratio"])
    at1 = sum(ratios) / len(ratios)
    return {**cfg, "cosine": sum(cosines) / len(cosines) if ckpt else cosine, "embeddings": "trained" if ckpt
            else "synthetic", "dim": z_a.shape[1], "ratio_at_s1": at1, "ratio": at1 * cfg["s"]}


def rows(cosines: list[float], draws: int, ckpt: str | None = None) -> list[dict]:
    out = []
    for method in METHODS:
        for cosine in ([None] if ckpt else cosines):
            paper = measure(setting("paper", method), cosine, draws, ckpt)
            for profile in PROFILES:
                r = paper if profile == "paper" else measure(setting(profile, method), cosine, draws, ckpt)
                out.append({**r, "scale_matched_s": scale_matched_s(paper["ratio"], r["ratio_at_s1"])})
    for profile in PROFILES:
        cfg = setting(profile, "dinov2")
        out.append({**cfg, "cosine": None, "weight_ratio": weight_ratio(cfg["n"], cfg["k"], cfg["s"])})
    return out


def markdown(table: list[dict]) -> str:
    lines = ["| method | profile | N | k | tau | s | cos(z_a, z_b) | ratio at s | ratio at s = 1 | scale-matched s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        if r["cosine"] is None:
            lines.append(f"| {r['method']} | {r['profile']} | {r['n']} | {r['k']} | -- | {r['s']:g} | -- | "
                         f"s N / k = {r['weight_ratio']:g} (weights only) | -- | -- |")
            continue
        lines.append(f"| {r['method']} | {r['profile']} | {r['n']} | {r['k']} | {r['tau']:g} | {r['s']:g} | "
                     f"{r['cosine']:.2g}{' (trained)' if r['embeddings'] == 'trained' else ''} | {r['ratio']:.2f} | {r['ratio_at_s1']:.2f} | {r['scale_matched_s']:.3g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gradient_ratio", description=__doc__.split("\n\n")[0])
    p.add_argument("--cosines", type=float, nargs="+", default=[0.5, 0.8], help="positive-pair cosines")
    p.add_argument("--draws", type=int, default=3, help="synthetic batches per setting (the ratio's mean)")
    p.add_argument("--markdown", action="store_true", help="print the docs table instead of the JSON line")
    p.add_argument("--ckpt", help="a trained run's training checkpoint (<ckpt dir>/last.pt): its embeddings of N "
                   "training images instead of synthetic ones (--cosines then unused)")
    add_thread_option(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    torch.manual_seed(0)
    table = rows(args.cosines, args.draws, args.ckpt)
    if args.markdown:
        print(markdown(table))
    else:
        emit("gradient_ratio", cosines=args.cosines, draws=args.draws, cases=table)


if __name__ == "__main__":
    main()
