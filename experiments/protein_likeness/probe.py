"""Does a protein-sequence CNN tell real short genes from chance ORFs better than the ORF decoder's own score?

    .venv/bin/python experiments/protein_likeness/probe.py --out-md docs/results/protein_likeness.md

The default decoder's remaining gap to Prodigal is short genes it does not call (README, Status). Before a second
network is shipped for them, this measures whether one would add evidence the decoder lacks. For each training
genome's chromosome: annotate it as `genefinder annotate` does (default model and settings, self-training on the
whole genome), score every candidate as the decoder does (`orf_decoding.scored_candidates`), keep each ORF's
best-scoring candidate (ORFs up to 900 nt, none cut by the record's end, score above -80 nats), and label it real
when its stop is a reference gene's. Then leave each genome out: train a small CNN over the candidate's protein
(amino-acid embedding, two convolutions, max and mean pooling; `ProteinCNN`) on the other two genomes'
candidates, and report on the left-out genome the ROC AUC of the decoder's score, of the CNN's logit and of
score / 10 + alpha x logit, over all candidates and over the hard band: candidates scoring -30..30 nats that share
at most 60 nt with any other called gene (those a changed threshold or an added term could flip). Then what a
ranking lift is worth in genes: the left-out chromosome decoded again with w x the CNN's logit (clipped to +-30
nats) added to every candidate of each ORF whose best candidate is in the band (scores within +-30 nats, up to 900
nt), the rest of the decoder as it is, and its gene and stop F1 against the chromosome's reference genes
(`evaluation.evaluate`). The default model's start scorer saw the train blocks of these genomes; it scores the
candidates alike with or without a CNN.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genefinder.annotation.annotation import AnnotationSettings, GeneFinderAnnotator
from genefinder.annotation.region_annotation import GenomeRegion
from genefinder.commands.annotate_cli import load_model
from genefinder.decoding.genetic_code import GeneticCode
from genefinder.decoding.orf_decoding import Candidates, called_genes, scored_candidates
from genefinder.evaluation.evaluation import coding_genes, evaluate
from genefinder.evaluation.machine_info import cpu_model
from genefinder.formats.atomic_output import atomic_path
from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.windows import reverse_complement

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("GENEFINDER_SHARED_DATA", ROOT.parent / "shared" / "data"))
REGIONS = ("ecoli_k12_mg1655:NC_000913.3:1-4641652", "saureus_502a:Chromosome:1-2764699",
           "ccrescentus_cb15:Chromosome:1-4016947")
MAX_ORF, MIN_SCORE, BAND, MAX_OVERLAP = 900, -80.0, 30.0, 60
ALPHAS = (0.25, 0.5, 1.0)
WEIGHTS = (0.0, 1.0, 2.5, 5.0)  # nats per unit of CNN logit, in the F1 view
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"  # index 0 pads, 21 is anything else (X)
MAX_RESIDUES = MAX_ORF // 3


@dataclass
class GenomeCandidates:
    """Each ORF's best candidate on one chromosome: decoder score, real (stop in the reference), whether it may be
    called beside the called genes (shares at most MAX_OVERLAP nt with each), and its protein as residue ids."""

    score: np.ndarray
    real: np.ndarray
    free: np.ndarray
    residues: np.ndarray  # (n, MAX_RESIDUES) int64
    every: Candidates  # every candidate of the chromosome, as the decoder chooses among them
    orf: np.ndarray  # (len(every),) index of each candidate's ORF's best candidate among the above, -1 if none
    spec: str


def stops_of(plus: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A gene's 3' end as one signed number: +hi on '+', -lo on '-'."""
    return np.where(plus, hi, -lo)


def residue_ids(protein: str) -> np.ndarray:
    ids = np.zeros(MAX_RESIDUES, np.int64)
    body = protein[1:-1][:MAX_RESIDUES]  # the start codon reads alike in every gene; the stop is '*'
    ids[:len(body)] = [AMINO_ACIDS.find(a) + 1 if a in AMINO_ACIDS else 21 for a in body]
    return ids


def genome_candidates(model, spec: str) -> GenomeCandidates:
    where = GenomeRegion.in_shared_data(DATA, spec)
    settings = AnnotationSettings()
    annotator = GeneFinderAnnotator(model, None, None, settings)
    annotator.self_train(where.sequences("genome"))
    r = where.region
    seq = where.genome.fetch(r.seqid, r.start - 1, r.end)
    strands = annotator.strands(seq)
    logits = annotator.start_logits(strands)
    c = scored_candidates(seq, None, logits, settings, annotator.hexamers, strands)
    every = c
    called = called_genes(every, settings)
    stop = stops_of(c.plus, c.lo, c.hi)
    order = np.lexsort((-c.score, stop))  # per stop, the best-scoring candidate first
    first = np.concatenate(([True], stop[order][1:] != stop[order][:-1]))
    best_of = np.empty(len(stop), np.int64)
    best_of[order] = order[first][np.cumsum(first) - 1]  # each candidate's ORF's best candidate
    best = order[first]
    best = best[(c.hi[best] - c.lo[best] < MAX_ORF) & (c.score[best] > MIN_SCORE) & ~c.cut_5[best] & ~c.cut_3[best]]
    position = np.full(len(stop), -1)
    position[best] = np.arange(len(best))
    c, stop = c.subset(best), stop[best]
    ref_stops = {(1 if g.strand == "+" else -1) * (three - r.start + 1)  # as `stops_of` reads the candidates
                 for g in coding_genes(where.reference) if g.seqid == r.seqid for _, three in g.ends()}
    real = np.array([s in ref_stops for s in stop])
    c_lo = np.array([g.start for g in called])
    c_hi = np.array([g.end for g in called])  # called genes never nest: sorted by start, also by end
    c_stop = stops_of(np.array([g.strand == "+" for g in called]), c_lo, c_hi)
    free = np.ones(len(stop), dtype=bool)
    for i, (lo, hi, s) in enumerate(zip(c.lo, c.hi, stop)):
        for j in range(np.searchsorted(c_hi, lo), np.searchsorted(c_lo, hi, side="right")):
            if c_stop[j] != s and min(c_hi[j], hi) - max(c_lo[j], lo) + 1 > MAX_OVERLAP:
                free[i] = False
                break
    code = GeneticCode(settings.genetic_code)
    proteins = [code.translate(seq[lo - 1:hi] if p else reverse_complement(seq[lo - 1:hi]))
                for lo, hi, p in zip(c.lo, c.hi, c.plus)]
    return GenomeCandidates(c.score, real, free, np.stack([residue_ids(p) for p in proteins]), every,
                            position[best_of], spec)


class ProteinCNN(nn.Module):
    """Logit that a protein is a real gene's: embedding, two width-9 convolutions, max and mean over residues."""

    def __init__(self, dim: int = 32, channels: int = 64):
        super().__init__()
        self.embed = nn.Embedding(22, dim, padding_idx=0)
        self.conv1 = nn.Conv1d(dim, channels, 9, padding=4)
        self.conv2 = nn.Conv1d(channels, channels, 9, padding=4)
        self.out = nn.Linear(2 * channels, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids > 0).float().unsqueeze(1)
        h = torch.relu(self.conv1(self.embed(ids).transpose(1, 2))) * mask
        h = torch.relu(self.conv2(h)) * mask
        pooled = torch.cat([(h - (1 - mask) * 1e4).amax(2), h.sum(2) / mask.sum(2).clamp(min=1)], 1)
        return self.out(pooled).squeeze(1)


def train_cnn(parts: list[GenomeCandidates], epochs: int, seed: int) -> ProteinCNN:
    torch.manual_seed(seed)
    x = torch.from_numpy(np.concatenate([p.residues for p in parts]))
    y = torch.from_numpy(np.concatenate([p.real for p in parts]).astype(np.float32))
    net = ProteinCNN()
    optimizer = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
    positive_weight = (1 - y.mean()) / y.mean()  # real genes are a few % of the candidates
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), 256):
            batch = order[i:i + 256]
            loss = nn.functional.binary_cross_entropy_with_logits(net(x[batch]), y[batch], pos_weight=positive_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


@torch.no_grad()
def logits_of(net: ProteinCNN, residues: np.ndarray) -> np.ndarray:
    return torch.cat([net(torch.from_numpy(residues[i:i + 4096])) for i in range(0, len(residues), 4096)]).numpy()


def f1_with_cnn(d: GenomeCandidates, where: GenomeRegion, cnn: np.ndarray, weight: float) -> tuple[float, float]:
    """(gene F1, stop F1) on the whole chromosome of the genes the decoder calls when each ORF whose best candidate
    is in the band gets `weight` x its CNN logit, clipped to +-BAND nats, on every candidate."""
    band = np.abs(d.score) <= BAND
    added = np.where(band, np.clip(weight * cnn, -BAND, BAND), 0.0)
    bonus = np.where(d.orf >= 0, added[np.maximum(d.orf, 0)], 0.0)
    e = d.every
    genes = called_genes(Candidates(e.lo, e.hi, e.score + bonus, e.plus, e.cut_5, e.cut_3), AnnotationSettings(),
                         where.region.seqid)
    s = evaluate(genes, where.reference, where.region)
    return s["gene"].f1 or 0.0, s["stop"].f1 or 0.0


def roc_auc(score: np.ndarray, real: np.ndarray) -> float:
    """Probability that a real candidate outscores a false one (ties count half): the Mann-Whitney statistic."""
    order = np.argsort(score, kind="mergesort")
    _, group, counts = np.unique(score[order], return_inverse=True, return_counts=True)
    ranks = np.empty(len(score))
    ranks[order] = (np.cumsum(counts) - (counts - 1) / 2)[group]  # tied scores share their mean rank
    p, n = int(real.sum()), int((~real).sum())
    return float((ranks[real].sum() - p * (p + 1) / 2) / (p * n)) if p and n else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-md", type=Path, default=Path("docs/results/protein_likeness.md"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if args.epochs < 1 or args.threads < 1:
        ap.error("--epochs and --threads must be >= 1")
    torch.set_num_threads(args.threads)
    t0 = time.time()
    names = [spec.split(":")[0] for spec in REGIONS]
    data = {}
    try:
        model, _, _ = load_model(None, "cpu", network_free=True)
        for name, spec in zip(names, REGIONS):
            data[name] = genome_candidates(model, spec)
            print(f"{name}: {len(data[name].score):,} candidates, {int(data[name].real.sum()):,} real",
                  file=sys.stderr)
    except GeneFinderInputError as err:  # a missing genome or model file: one line, not a traceback
        print(f"probe.py: error: {err}", file=sys.stderr)
        return 2
    rows = []
    for name in names:
        net = train_cnn([data[g] for g in names if g != name], args.epochs, args.seed)
        d = data[name]
        cnn = logits_of(net, d.residues)
        band = d.free & (np.abs(d.score) <= BAND)
        mixes = [d.score / 10 + a * cnn for a in ALPHAS]
        cells = [roc_auc(s, d.real) for s in (d.score, cnn, *mixes)]
        cells += [roc_auc(s[band], d.real[band]) for s in (d.score, cnn, *mixes)]
        where = GenomeRegion.in_shared_data(DATA, d.spec)
        f1 = [f1_with_cnn(d, where, cnn, w) for w in WEIGHTS]
        rows.append((name, len(d.score), int(d.real.sum()), int(band.sum()), int(d.real[band].sum()), cells, f1))
        print(name, " ".join(f"{x:.3f}" for x in cells), " ".join(f"{g:.4f}/{t:.4f}" for g, t in f1), file=sys.stderr)
    with atomic_path(args.out_md) as tmp:
        Path(tmp).write_text(report(rows, args, time.time() - t0))
    print(f"wrote {args.out_md}", file=sys.stderr)
    return 0


def report(rows, args, seconds: float) -> str:
    mix_names = [f"score/10 + {a:g} x CNN" for a in ALPHAS]
    head = ["decoder score", "CNN", *mix_names]
    lines = ["# Protein likeness: a CNN over the candidate's protein beside the ORF decoder's score", "",
             f"Written by `python experiments/protein_likeness/probe.py --out-md {args.out_md} "
             f"--epochs {args.epochs} --seed {args.seed} --threads {args.threads}`; do not edit by hand. The script's "
             "docstring says what it measures.", "",
             f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {args.threads} torch "
             f"threads; {datetime.date.today()}; {seconds / 60:.1f} min.",
             f"- Candidates: each ORF's best-scoring candidate, ORFs up to {MAX_ORF} nt scoring above {MIN_SCORE:g} "
             f"nats; hard band: score within +-{BAND:g} nats, sharing at most {MAX_OVERLAP} nt with any other called "
             "gene. CNN trained on the other two genomes' candidates, tested on the named one.", "",
             "ROC AUC, all candidates:", "",
             "| left-out genome | candidates | real | " + " | ".join(head) + " |",
             "|---|---:|---:|" + "---:|" * len(head)]
    for name, n, real, _, _, cells, _ in rows:
        lines.append(f"| {name} | {n:,} | {real:,} | " + " | ".join(f"{x:.3f}" for x in cells[:len(head)]) + " |")
    lines += ["", "ROC AUC, hard band:", "",
              "| left-out genome | candidates | real | " + " | ".join(head) + " |",
              "|---|---:|---:|" + "---:|" * len(head)]
    for name, _, _, n_band, real_band, cells, _ in rows:
        lines.append(f"| {name} | {n_band:,} | {real_band:,} | "
                     + " | ".join(f"{x:.3f}" for x in cells[len(head):]) + " |")
    lines += ["", "Gene F1 / stop F1 on the left-out chromosome (all its reference genes), decoded with w x the CNN's "
              f"logit (clipped to +-{BAND:g} nats) added to each ORF in the band; w = 0 is the decoder as it is:", "",
              "| left-out genome | " + " | ".join(f"w = {w:g}" for w in WEIGHTS) + " |",
              "|---|" + "---:|" * len(WEIGHTS)]
    for name, *_, f1 in rows:
        lines.append(f"| {name} | " + " | ".join(f"{g:.4f} / {t:.4f}" for g, t in f1) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
