"""Do synonymous codons cluster? A codon-token (kmer = 3) masked LM on bacterial coding sequences.

    .venv/bin/python experiments/encoder_uses/codon_embeddings.py   # -> docs/results/encoder_uses_codons.md + .png

One run: every coding gene of E. coli K-12 and B. subtilis (gff3.read_gff3 + fasta.FastaFile, reverse-complemented
on the minus strand, so each sequence starts in frame) becomes a row of a `dna` dataset (its first 600 nt = 200
codons; genes whose CDS length is not a multiple of 3 or that hold an N are left out). Genes starting in the first
90% of a chromosome train, the rest validate. train.py (stage mlm, `configs/codon-mlm-cpu.yaml`) trains the
model from random weights. Then the 64 codon rows of its input embedding (tied to the MLM output layer) are
compared by cosine similarity, ordered by the amino acid they encode (NCBI table 11, genetic_code.py): the
figure is that 64 x 64 matrix, and the number is mean similarity of synonymous pairs minus that of
non-synonymous pairs, with a permutation p-value (amino-acid labels shuffled over codons, 10,000 times).
"""

from __future__ import annotations

import platform
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
GENOMES = ("ecoli_k12_mg1655", "bsubtilis_best7003")
DATASET, RUN, CONFIG = REPO / "datasets/cds-codons", REPO / "runs/codon-mlm-cpu", REPO / "configs/codon-mlm-cpu.yaml"
OUT, FIGURE = REPO / "docs/results/encoder_uses_codons.md", REPO / "docs/results/encoder_uses_codons.png"
MAX_NT, PERMUTATIONS = 600, 10_000


def coding_sequences(genome: str) -> dict[str, list[str]]:
    """{"train": [...], "validation": [...]}: in-frame CDS (5' -> 3') of every coding gene of one genome."""
    from genefinder.formats.fasta import FastaFile
    from genefinder.formats.features import to_slice
    from genefinder.formats.gff3 import read_gff3
    from genefinder.formats.windows import reverse_complement

    fa = FastaFile(DATA / genome / "genome.fna.gz")
    genes, _ = read_gff3(DATA / genome / "annotation.gff3.gz")
    out = {"train": [], "validation": []}
    for gene in genes:
        coding = [t for t in gene.transcripts if t.cds]
        if gene.seqid not in fa or not coding:
            continue
        parts = sorted(coding[0].cds, key=lambda p: p.start)
        cds = "".join(fa.fetch(gene.seqid, to_slice(p.start, p.end).start, p.end) for p in parts).upper()
        if gene.strand == "-":
            cds = reverse_complement(cds)
        if len(cds) % 3 or set(cds) - set("ACGT"):
            continue
        split = "train" if gene.start < 0.9 * fa.length(gene.seqid) else "validation"
        out[split].append(cds[:MAX_NT])
    return out


def main() -> int:
    import datasets
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genefinder.decoding.genetic_code import CODONS, GeneticCode
    from genefinder.models.modeling_genefinder_encoder import GeneFinderForMaskedLM
    from genefinder.tokenization.tokenization_dna import KMER_VOCAB
    from genefinder.train import checkpoints, parse_args, train

    torch.set_num_threads(1)
    for path in (DATASET, RUN):
        shutil.rmtree(path, ignore_errors=True)
    rows = {"train": [], "validation": []}
    for genome in GENOMES:
        for split, seqs in coding_sequences(genome).items():
            rows[split] += seqs
    datasets.DatasetDict({s: datasets.Dataset.from_dict({"dna": r}) for s, r in rows.items()}).save_to_disk(str(DATASET))
    result = train(parse_args(["--config", str(CONFIG)])[0])

    model = GeneFinderForMaskedLM.from_pretrained(checkpoints(RUN)[-1])
    ids = [KMER_VOCAB.index(c) for c in CODONS]
    emb = torch.nn.functional.normalize(model.bert.embeddings.word_embeddings.weight[ids].detach().double(), dim=-1)
    sim = (emb @ emb.T).numpy()  # (64, 64) cosine similarity, codons in TCAG order
    aa = np.array(list(GeneticCode(11).amino_acids))
    order = np.lexsort((np.arange(64), aa))  # by amino acid (stops '*' first), then TCAG order
    off_diagonal = ~np.eye(64, dtype=bool)

    def gap(labels: np.ndarray) -> float:
        same = (labels[:, None] == labels[None, :]) & off_diagonal
        return sim[same].mean() - sim[~same & off_diagonal].mean()

    observed = gap(aa)
    rng = np.random.default_rng(0)
    null = np.array([gap(rng.permutation(aa)) for _ in range(PERMUTATIONS)])
    p_value = (1 + (null >= observed).sum()) / (1 + PERMUTATIONS)
    same = (aa[:, None] == aa[None, :]) & off_diagonal
    syn, non = sim[same].mean(), sim[~same & off_diagonal].mean()

    fig, ax = plt.subplots(figsize=(11, 10))
    image = ax.imshow(sim[np.ix_(order, order)], cmap="RdBu_r", vmin=-1, vmax=1)
    labels = [f"{aa[i]} {CODONS[i]}" for i in order]
    ax.set_xticks(range(64), labels, rotation=90, fontsize=6, family="monospace")
    ax.set_yticks(range(64), labels, fontsize=6, family="monospace")
    bounds = [i for i in range(1, 64) if aa[order[i]] != aa[order[i - 1]]]
    for b in bounds:
        ax.axhline(b - 0.5, color="k", lw=0.4)
        ax.axvline(b - 0.5, color="k", lw=0.4)
    ax.set_title(f"Codon embedding cosine similarity, grouped by amino acid (table 11)\n"
                 f"synonymous {syn:.3f} vs non-synonymous {non:.3f}, permutation p = {p_value:.4f}")
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=130)

    ev = result["last_eval"]
    codons = Counter(seq[i:i + 3] for seq in rows["validation"] for i in range(0, len(seq), 3))
    most_frequent = max(codons.values()) / sum(codons.values())  # accuracy of always guessing the commonest codon
    lines = ["# Codon embeddings: do synonymous codons cluster?", "",
             "Produced by `.venv/bin/python experiments/encoder_uses/codon_embeddings.py` "
             f"({platform.machine()}, 1 torch thread, python {platform.python_version()}).", "",
             f"Data: {len(rows['train'])} training and {len(rows['validation'])} validation coding sequences of "
             f"{' and '.join(GENOMES)} (first {MAX_NT} nt, in frame). Model: `{CONFIG.relative_to(REPO)}` (kmer 3, "
             f"2 layers x 64, masked LM from random weights, {result['step']} steps, "
             f"{result['train_seconds'] / 60:.1f} min). Validation masked-codon accuracy "
             f"{ev['token_accuracy']:.3f} (loss {ev['loss']:.3f}); always guessing the most frequent codon would score "
             f"{most_frequent:.3f} on those sequences.",
             "", "| | value |", "|---|---:|",
             f"| mean cosine similarity, synonymous codon pairs ({int(same.sum() // 2)}) | {syn:.3f} |",
             f"| mean cosine similarity, non-synonymous pairs ({int((~same & off_diagonal).sum() // 2)}) | {non:.3f} |",
             f"| difference | {observed:.3f} |",
             f"| permutation p-value (amino-acid labels shuffled, {PERMUTATIONS:,} times) | {p_value:.4f} |", "",
             f"![codon similarity]({FIGURE.name})"]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
