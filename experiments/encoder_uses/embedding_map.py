"""What `genefinder embed` gives: mean-pooled embeddings of 500-nt fragments of five bacteria, drawn in 2-D (PCA).

    .venv/bin/python experiments/encoder_uses/embedding_map.py --model runs/context-extension/base/checkpoint-300
        # -> docs/results/encoder_uses_embeddings.md + .png

Fragments are drawn at seeded random positions of each genome in ../shared/data, written as one FASTA and
embedded by the `genefinder embed` command itself (parquet out). Besides the picture, one number says how
much organism identity the embeddings carry without any training for it: the leave-one-out accuracy of a
5-nearest-neighbour vote (cosine similarity) over all fragments, beside the same vote on 4-mer frequencies.
"""

from __future__ import annotations

import argparse
from collections import Counter
import platform
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from genefinder.formats.fasta import FastaFile
from organism_classification import kmer_features  # the same k-mer features as the classification baseline

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
GENOMES = {"E. coli": "ecoli_k12_mg1655", "B. subtilis": "bsubtilis_best7003", "C. crescentus": "ccrescentus_cb15",
           "S. aureus": "saureus_502a", "M. genitalium": "mgenitalium_g37"}
K = 5  # neighbours in the vote


def fragments(per_genome: int, length: int, seed: int) -> list[tuple[str, str, str]]:
    """(id, organism, sequence) of ACGT-only fragments at seeded random positions."""
    rng, out = random.Random(seed), []
    for organism, folder in GENOMES.items():
        fasta = FastaFile(DATA / folder / "genome.fna.gz")
        name = max(fasta.names, key=fasta.length)
        while sum(o == organism for _, o, _ in out) < per_genome:
            start = rng.randrange(fasta.length(name) - length)
            seq = fasta.fetch(name, start, start + length).upper()
            if set(seq) <= set("ACGT"):
                out.append((f"{folder}_{start}", organism, seq))
    return out


def knn_accuracy(x: np.ndarray, labels: list[str]) -> float:
    """Leave-one-out accuracy of a K-nearest-neighbour majority vote under cosine similarity (ties: the nearest)."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    right = 0
    for i, row in enumerate(sim):
        votes = [labels[j] for j in np.argsort(-row, kind="stable")[:K]]  # nearest first
        counts = Counter(votes)
        top = max(counts.values())
        right += next(v for v in votes if counts[v] == top) == labels[i]  # a tie goes to the nearest: deterministic
    return right / len(labels)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="a model folder `genefinder embed` accepts")
    ap.add_argument("--per-genome", type=int, default=200)
    ap.add_argument("--length", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "encoder_uses_embeddings")
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq

    frags = fragments(args.per_genome, args.length, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        fa, parquet = Path(tmp) / "fragments.fa", Path(tmp) / "emb.parquet"
        fa.write_text("".join(f">{i}\n{s}\n" for i, _, s in frags))
        subprocess.run([str(Path(sys.executable).parent / "genefinder"), "embed", str(fa), "-o", str(parquet),
                        "--model", args.model], check=True)
        table = pq.read_table(parquet).to_pydict()
    assert table["id"] == [i for i, _, _ in frags]
    emb = np.array(table["embedding"], dtype=np.float64)
    labels = [o for _, o, _ in frags]
    centred = emb - emb.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    fig, ax = plt.subplots(figsize=(6.5, 5))
    for organism in GENOMES:
        pts = xy[[i for i, o in enumerate(labels) if o == organism]]
        ax.scatter(pts[:, 0], pts[:, 1], s=8, alpha=0.6, label=organism)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"mean-pooled embeddings of {args.length}-nt fragments")
    ax.legend(fontsize=8, markerscale=2)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    png = args.out.with_suffix(".png")
    fig.savefig(png, dpi=120)
    acc_emb = knn_accuracy(emb, labels)
    acc_kmer = knn_accuracy(kmer_features([s for _, _, s in frags], 4), labels)
    command = "python experiments/encoder_uses/embedding_map.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.with_suffix(".md").write_text(
        f"# Embeddings: `genefinder embed` on fragments of five bacteria\n\nProduced by `{command}` "
        f"({platform.machine()}). {args.per_genome} fragments of {args.length} nt per genome at seeded random "
        f"positions; embeddings from `{args.model}` (mean pooling), no training for this task.\n\n"
        f"| features | {K}-NN leave-one-out organism accuracy (cosine) |\n|---|---:|\n"
        f"| genefinder embeddings ({emb.shape[1]} dims) | {acc_emb:.3f} |\n"
        f"| 4-mer frequencies (256 dims) | {acc_kmer:.3f} |\n\nChance: {1 / len(GENOMES):.2f}.\n\n"
        f"![embeddings]({png.name})\n")
    print(args.out.with_suffix(".md"), f"embeddings {acc_emb:.3f}, 4-mers {acc_kmer:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
