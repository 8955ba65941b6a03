"""What "the same s" means across scales: the rescue term's gradient against the SSL loss's on the
rows it acts on (issue 39, item 4; docs/protocols.md, "What the same s means across scales").

The total loss is L_SSL + s * L_topk with L_topk = -mean over the k selected pairs of
cos(z_a[i], z_s[i]) (z_s: the strong view's embedding; ssl_core.rescue). How much s weighs depends
on the amplitude of L_SSL's gradient, which the paper's and the CPU profiles' settings change
(SimCLR's temperature 0.5 against 0.1; the batch N; k). :func:`gradient_ratio` measures, on one set
of embeddings, the mean gradient norm of s * L_topk over the mean gradient norm of L_SSL, both with
respect to the k selected rows of z_a (the raw embeddings, before the l2 normalisation both losses
apply), the k rows chosen as the rescue chooses them (the largest cos(z_a, z_b)).

The SSL losses are independent reimplementations of the official formulas, not the suite's code:

- SimCLR, google-research/simclr ``objective.py`` ``add_contrastive_loss``: h = l2-normalised z;
  logits_aa = h1 h1^T / tau with the diagonal at -LARGE_NUM, logits_ab = h1 h2^T / tau (and bb, ba);
  loss_a = softmax cross-entropy of [logits_ab, logits_aa] against the positive, mean over the
  batch; loss_b the same from view 2; loss = loss_a + loss_b.
- MoCo v3, facebookresearch/moco-v3 ``builder.py`` ``contrastive_loss``: q, k l2-normalised,
  logits = q k^T / tau, cross-entropy against the diagonal, times 2 tau; loss = ctr(q1, k2) +
  ctr(q2, k1). The keys come from the momentum encoder (no gradient) and the queries from the
  predictor; on embeddings alone the predictor is taken as the identity and the keys as the other
  view's embedding (a converged momentum encoder), so only ctr(q1 = z_a, k2 = z_b) reaches z_a.

DINOv2's rescue acts on its head's bottleneck, whose SSL gradient passes through the prototype
layer of a trained head; without one, :func:`weight_ratio` gives the per-sample weights alone
(s / k per rescued row against 1 / N per row of a batch-mean loss: s * N / k).

:func:`synthetic_embeddings`: N pairs of D-dim embeddings with a controlled positive-pair cosine
(mean ``cosine``, spread ``spread``), the strong view at cosine ``strong_cosine`` to z_a.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LARGE_NUM = 1e9  # google-research/simclr objective.py


def nt_xent_official(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """google-research/simclr ``add_contrastive_loss`` (one process): loss_a + loss_b."""
    h1, h2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    n = h1.shape[0]
    labels = F.one_hot(torch.arange(n), 2 * n).to(h1.dtype)
    masks = F.one_hot(torch.arange(n), n).to(h1.dtype)
    logits_aa = h1 @ h1.T / temperature - masks * LARGE_NUM
    logits_bb = h2 @ h2.T / temperature - masks * LARGE_NUM
    logits_ab = h1 @ h2.T / temperature
    logits_ba = h2 @ h1.T / temperature

    def softmax_ce(logits):  # tf.losses.softmax_cross_entropy: the mean over the batch
        return -(labels * F.log_softmax(logits, dim=1)).sum(dim=1).mean()

    return softmax_ce(torch.cat([logits_ab, logits_aa], 1)) + softmax_ce(torch.cat([logits_ba, logits_bb], 1))


def moco_v3_official(q1: torch.Tensor, q2: torch.Tensor, k1: torch.Tensor, k2: torch.Tensor,
                     temperature: float) -> torch.Tensor:
    """facebookresearch/moco-v3 ``MoCo.forward`` (one process): ctr(q1, k2) + ctr(q2, k1), the
    keys without gradient."""
    def ctr(q, k):
        q, k = F.normalize(q, dim=1), F.normalize(k.detach(), dim=1)
        logits = q @ k.T / temperature
        return F.cross_entropy(logits, torch.arange(q.shape[0])) * (2 * temperature)

    return ctr(q1, k2) + ctr(q2, k1)


def rescue_loss(z_a: torch.Tensor, z_s: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """L_topk of the paper's Algorithm 1: -mean over the selected rows of cos(z_a, z_s)."""
    return -F.cosine_similarity(z_a[idx], z_s, dim=1).mean()


def _with_cosine(anchor: torch.Tensor, cosine: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Unit vectors at the given cosine to each (unit) row of ``anchor``."""
    noise = torch.randn(anchor.shape, generator=generator, dtype=anchor.dtype)
    noise = F.normalize(noise - (noise * anchor).sum(1, keepdim=True) * anchor, dim=1)
    c = cosine.clamp(-1, 1)[:, None]
    return c * anchor + (1 - c ** 2).sqrt() * noise


def synthetic_embeddings(n: int, dim: int, cosine: float, spread: float = 0.05, strong_cosine: float | None = None,
                         seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z_a, z_b, z_s_all): unit-norm embeddings of N images, cos(z_a, z_b) ~ cosine +- spread
    (normal, clipped to [-1, 1]), the strong views z_s_all at ``strong_cosine`` (default:
    ``cosine``) to z_a, one per image (the selection picks k of them)."""
    g = torch.Generator().manual_seed(seed)
    z_a = F.normalize(torch.randn(n, dim, generator=g, dtype=torch.float32), dim=1)
    cos = cosine + spread * torch.randn(n, generator=g, dtype=torch.float32)
    z_b = _with_cosine(z_a, cos, g)
    z_s = _with_cosine(z_a, torch.full((n,), strong_cosine if strong_cosine is not None else cosine,
                                       dtype=torch.float32), g)
    return z_a, z_b, z_s


def gradient_ratio(method: str, z_a: torch.Tensor, z_b: torch.Tensor, z_s_all: torch.Tensor, k: int, s: float,
                   temperature: float) -> dict:
    """On the k rows of the largest cos(z_a, z_b): the mean gradient norm (w.r.t. z_a's rows) of
    s * L_topk, that of L_SSL and their ratio; ``method`` simclr or mocov3."""
    z_a = z_a.detach().clone().requires_grad_(True)
    idx = F.cosine_similarity(z_a.detach(), z_b, dim=1).topk(k).indices
    if method == "simclr":
        ssl = nt_xent_official(z_a, z_b, temperature)
    elif method == "mocov3":
        ssl = moco_v3_official(z_a, z_b, z_a, z_b, temperature)  # identity predictor, keys = the other view
    else:
        raise ValueError(f"gradient_ratio: no official SSL loss here for {method!r} (simclr, mocov3)")
    (g_ssl,) = torch.autograd.grad(ssl, z_a)
    (g_rescue,) = torch.autograd.grad(s * rescue_loss(z_a, z_s_all[idx], idx), z_a)
    rescue_norm = float(g_rescue[idx].norm(dim=1).mean())
    ssl_norm = float(g_ssl[idx].norm(dim=1).mean())
    return {"rescue_grad": rescue_norm, "ssl_grad": ssl_norm, "ratio": rescue_norm / ssl_norm}


def weight_ratio(n: int, k: int, s: float) -> float:
    """The rescue term's per-row weight against a batch-mean loss's: (s / k) / (1 / N)."""
    return s * n / k


def scale_matched_s(ratio_paper: float, ratio_at_s1: float) -> float:
    """The s at which a setting's ratio equals the paper's at the paper's s (the ratio is linear in s)."""
    return ratio_paper / ratio_at_s1 if ratio_at_s1 > 0 else math.nan
