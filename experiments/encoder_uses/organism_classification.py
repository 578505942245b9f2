"""Organism of a 500-nt fragment: genefinder's sequence classifier vs a k-mer + logistic-regression baseline.

    .venv/bin/python experiments/encoder_uses/organism_classification.py  # -> docs/results/encoder_uses_classification.md

One run does everything: builds the dataset (`genefinder build-classification-dataset --genome ...`: four bacteria
from ../shared/data, fragments tiled inside train / validation / test blocks of each chromosome, so no two splits
share a genome position), trains `configs/organism-cls-cpu.yaml` with train.py (stage classification), classifies
the test split with the trained model, and fits scikit-learn LogisticRegression on k-mer frequencies (k = 4, 5, 6,
train split only) for the same test split. Accuracy and MCC (scikit-learn's) for all, in one table.
Needs the `encoder-uses` extra (scikit-learn).
"""

from __future__ import annotations

import itertools
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
GENOMES = {"E. coli": "ecoli_k12_mg1655", "B. subtilis": "bsubtilis_best7003", "S. aureus": "saureus_502a",
           "M. genitalium": "mgenitalium_g37"}
DATASET, RUN, CONFIG = REPO / "datasets/organism-500", REPO / "runs/organism-cls-cpu", REPO / "configs/organism-cls-cpu.yaml"
OUT = REPO / "docs/results/encoder_uses_classification.md"


def kmer_features(seqs: list[str], k: int) -> np.ndarray:
    """Frequencies of the 4^k k-mers of each sequence (k-mers with N are skipped)."""
    index = {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=k))}
    out = np.zeros((len(seqs), len(index)), dtype=np.float32)
    for row, seq in enumerate(seqs):
        seq = seq.upper()
        for i in range(len(seq) - k + 1):
            j = index.get(seq[i:i + k])
            if j is not None:
                out[row, j] += 1
        out[row] /= max(1.0, out[row].sum())
    return out


def main() -> int:
    import datasets
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, matthews_corrcoef

    from genefinder.cli import main as cli
    from genefinder.encoder_tools.encoder_inference import embed_records, load_encoder_model
    from genefinder.train import checkpoints, parse_args, train

    torch.set_num_threads(1)
    for path in (DATASET, RUN):
        shutil.rmtree(path, ignore_errors=True)
    genomes = [f"{DATA / d / 'genome.fna.gz'}:{name}" for name, d in GENOMES.items()]
    args = ["build-classification-dataset", "--fragment", "500", "--max-per-class", "800", "--out", str(DATASET)]
    for g in genomes:
        args += ["--genome", g]
    assert cli(args) == 0
    data = datasets.load_from_disk(str(DATASET))
    names = data["train"].features["label"].names

    t0 = time.perf_counter()
    train(parse_args(["--config", str(CONFIG)])[0])
    train_s = time.perf_counter() - t0
    model, processor, encoder = load_encoder_model(checkpoints(RUN)[-1], torch.device("cpu"))
    test = data["test"]
    with torch.no_grad():
        emb = embed_records([(str(i), s) for i, s in enumerate(test["dna"])], encoder, processor,
                            torch.device("cpu"), batch_size=64, progress=False)
        predicted = model.classifier(emb).argmax(-1).numpy()
    truth = np.array(test["label"])
    rows = [("genefinder classifier (aido 2 x 64, from scratch, train.py)", accuracy_score(truth, predicted),
             matthews_corrcoef(truth, predicted), train_s)]
    for k in (4, 5, 6):
        t0 = time.perf_counter()
        clf = LogisticRegression(max_iter=2000, C=10.0)
        clf.fit(kmer_features(data["train"]["dna"], k), np.array(data["train"]["label"]))
        pred = clf.predict(kmer_features(test["dna"], k))
        rows.append((f"{k}-mer frequencies + LogisticRegression", accuracy_score(truth, pred),
                     matthews_corrcoef(truth, pred), time.perf_counter() - t0))

    counts = {split: np.bincount(np.array(data[split]["label"]), minlength=len(names)).tolist() for split in data}
    lines = ["# Sequence classification: which organism does a 500-nt fragment come from?", "",
             f"Produced by `.venv/bin/python experiments/encoder_uses/organism_classification.py` "
             f"({platform.processor() or platform.machine()}, 1 torch thread, python {platform.python_version()}).",
             "", "Four bacteria from ../shared/data; each chromosome cut into train (80%) / validation (10%) / test "
             "(10%) blocks, 500-nt fragments tiled inside each block (no genome position in two splits), at most "
             "800 train fragments per organism (100 for validation and test each).", "",
             "| split | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines += [f"| {split} | " + " | ".join(map(str, c)) + " |" for split, c in counts.items()]
    lines += ["", f"Test split ({len(truth)} fragments), same run:", "",
              "| model | accuracy | MCC | train s |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {acc:.3f} | {mcc:.3f} | {sec:.0f} |" for name, acc, mcc, sec in rows]
    lines += ["", f"The classifier: `{CONFIG.relative_to(REPO)}` (stage classification, mean pooling, reverse-"
              "complement augmentation, class-weighted sampling), trained from random weights; its test predictions "
              "come from the checkpoint via `encoder_inference` (the path `genefinder classify` runs)."]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
