"""The rescue term's gradient against the SSL loss's, at the paper's (N, k, tau, s) and at each CPU
profile's, and the scale-matched s it implies (evaluations.gradient_ratio; docs/protocols.md,
"What the same s means across scales").

Per method with an official SSL loss reimplemented there (SimCLR, MoCo v3) and per setting (the
paper profile's and each CPU profile's batch N, k, temperature, embedding width and s), on
synthetic unit embeddings with positive-pair cosine ``--cosines`` (spread 0.05, the strong views at
the same cosine to z_a): the mean gradient norm of s * L_topk over that of L_SSL on the k selected
rows (mean over ``--draws`` draws), the same at s = 1, and the s of each CPU setting whose ratio
equals the paper's (scale-matched s). DINOv2: the per-row weights alone (s * N / k). One JSON line;
``--markdown``: the table of docs/protocols.md instead.

    python -m benchmarks.gradient_ratio --markdown
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


def measure(cfg: dict, cosine: float, draws: int) -> dict:
    ratios = []
    for draw in range(draws):
        z_a, z_b, z_s = synthetic_embeddings(cfg["n"], cfg["dim"], cosine, seed=draw)
        ratios.append(gradient_ratio(cfg["method"], z_a, z_b, z_s, cfg["k"], 1.0, cfg["tau"])["ratio"])
    at1 = sum(ratios) / len(ratios)
    return {**cfg, "cosine": cosine, "ratio_at_s1": at1, "ratio": at1 * cfg["s"]}


def rows(cosines: list[float], draws: int) -> list[dict]:
    out = []
    for method in METHODS:
        for cosine in cosines:
            paper = measure(setting("paper", method), cosine, draws)
            for profile in PROFILES:
                r = paper if profile == "paper" else measure(setting(profile, method), cosine, draws)
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
                     f"{r['cosine']:g} | {r['ratio']:.2f} | {r['ratio_at_s1']:.2f} | {r['scale_matched_s']:.3g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gradient_ratio", description=__doc__.split("\n\n")[0])
    p.add_argument("--cosines", type=float, nargs="+", default=[0.5, 0.8], help="positive-pair cosines")
    p.add_argument("--draws", type=int, default=3, help="synthetic batches per setting (the ratio's mean)")
    p.add_argument("--markdown", action="store_true", help="print the docs table instead of the JSON line")
    add_thread_option(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    torch.manual_seed(0)
    table = rows(args.cosines, args.draws)
    if args.markdown:
        print(markdown(table))
    else:
        emit("gradient_ratio", cosines=args.cosines, draws=args.draws, cases=table)


if __name__ == "__main__":
    main()
