"""Fit the splice-site scorers (decoding/splice_sites.py) on the gene-structure training arrays.

    python -m genefinder.training.splice_site_training --out MODEL_FOLDER/splice_sites.json \\
        [--cache_dir /work/runs/gene_structure_cache] [--sources athaliana_train celegans_smallgenes ...]

Positives are the annotated splice sites of the training genes on both strands (the cached labels read on the
reverse complement give the '-' genes as '+'): a donor where a CDS base is followed by an intron base at a GT/GC,
an acceptor where an intron's last two bases AG are followed by a CDS base. Negatives are every other GT/GC
(donor) or AG (acceptor) on trusted nucleotides, subsampled to `negatives_per_positive` per positive. Each
scorer is a one-hidden-layer network trained with Adam on the binary cross-entropy; the subsampling shifts its
log-odds by a constant, which the decoder's tuned splice penalties absorb. The held-out A. thaliana validation
range reports each scorer's average precision on all its candidates (no subsampling), so the printed number is
what the decoder meets.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import numpy as np
import torch
from torch import nn

from ..decoding.splice_sites import SiteScorer, SpliceSiteScorers, motif_positions, window_features
from .gene_structure_data import VALIDATION_SOURCE, build_cache, load_arrays, reverse_complement_window

logger = logging.getLogger(__name__)

WINDOWS = {"donor": (12, 16), "acceptor": (30, 8)}  # (nt before, nt after) the site's dinucleotide
DEFAULT_SOURCES = ("athaliana_train", "celegans_smallgenes", "celegans_ngasp", "kog_core_genes", "scerevisiae",
                   "spombe", "hsapiens_chr16")


def site_examples(ids: np.ndarray, labels: np.ndarray, mask: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(candidate positions on trusted bases, 1 where an annotated '+' splice site) of one strand's arrays."""
    bases = (ids % 5).astype(np.int8)
    pos = motif_positions(bases, kind)
    n = len(labels)
    cds = (labels >= 1) & (labels <= 3)
    intron = labels == 7
    if kind == "donor":  # the G: first intron base, after a CDS base
        ok = (pos >= 1) & (pos + 1 < n)
        pos = pos[ok]
        positive = intron[pos] & cds[pos - 1]
        trusted = (mask[pos] > 0) & (mask[pos - 1] > 0)
    else:  # the A: second-last intron base, the CDS resumes two bases later
        ok = pos + 2 < n
        pos = pos[ok]
        positive = intron[pos] & intron[pos + 1] & cds[pos + 2]
        trusted = (mask[pos] > 0) & (mask[pos + 2] > 0)
    return pos[trusted], positive[trusted]


def collect(cache_dir: str, sources: list[str], kind: str, negatives_per_positive: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Features and 0/1 targets of every positive and a sample of negatives over `sources`, both strands."""
    left, right = WINDOWS[kind]
    xs, ys = [], []
    for name in sources:
        arrays = load_arrays(cache_dir, name)
        forward = (np.asarray(arrays.ids), np.asarray(arrays.labels), np.asarray(arrays.mask))
        for ids, labels, mask in (forward, reverse_complement_window(*forward)):
            pos, positive = site_examples(ids, labels, mask, kind)
            negatives = np.flatnonzero(~positive)
            keep = min(len(negatives), negatives_per_positive * int(positive.sum()))
            chosen = np.concatenate([np.flatnonzero(positive), rng.choice(negatives, keep, replace=False)])
            xs.append(window_features((ids % 5).astype(np.int8), pos[chosen], left, right))
            ys.append(positive[chosen].astype(np.float32))
    return np.concatenate(xs), np.concatenate(ys)


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    hits = targets[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / max(hits.sum(), 1))


def fit(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, seed: int, left: int, right: int) -> SiteScorer:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, 1))
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for a in range(0, len(order), 2048):
            idx = order[a:a + 2048]
            loss = nn.functional.binary_cross_entropy_with_logits(net(xt[idx]).squeeze(-1), yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        logger.info("epoch %d: loss %.4f", epoch + 1, total / len(xt))
    first, last = net[0], net[2]
    return SiteScorer(left, right, first.weight.detach().numpy().T.copy(), first.bias.detach().numpy().copy(),
                      last.weight.detach().numpy()[0].copy(), float(last.bias.detach()))


def validate(scorer: SiteScorer, cache_dir: str, kind: str) -> float:
    """Average precision over every candidate of the validation range, both strands."""
    arrays = load_arrays(cache_dir, VALIDATION_SOURCE)
    forward = (np.asarray(arrays.ids), np.asarray(arrays.labels), np.asarray(arrays.mask))
    scores, targets = [], []
    for ids, labels, mask in (forward, reverse_complement_window(*forward)):
        pos, positive = site_examples(ids, labels, mask, kind)
        scores.append(scorer.site_scores((ids % 5).astype(np.int8), kind)[pos])
        targets.append(positive)
    return average_precision(np.concatenate(scores), np.concatenate(targets).astype(np.float64))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="splice_sites.json to write (beside a model's config.json)")
    p.add_argument("--cache_dir", default="/work/runs/gene_structure_cache")
    p.add_argument("--sources", nargs="+", default=list(DEFAULT_SOURCES))
    p.add_argument("--negatives_per_positive", type=int, default=10)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if VALIDATION_SOURCE in args.sources:
        p.error(f"{VALIDATION_SOURCE} is the validation range, not a training source")
    build_cache(args.cache_dir, [*args.sources, VALIDATION_SOURCE])
    rng = np.random.default_rng(args.seed)
    scorers, report = {}, {}
    for kind, (left, right) in WINDOWS.items():
        x, y = collect(args.cache_dir, args.sources, kind, args.negatives_per_positive, rng)
        logger.info("%s: %d examples, %d sites", kind, len(y), int(y.sum()))
        scorers[kind] = fit(x, y, args.hidden, args.epochs, args.seed, left, right)
        report[kind] = {"sites": int(y.sum()), "validation_average_precision": validate(scorers[kind], args.cache_dir,
                                                                                        kind)}
    SpliceSiteScorers(scorers["donor"], scorers["acceptor"]).save(args.out)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
