"""Training and validation data of the gene-structure network: cached per-nucleotide arrays and seeded windows.

Each source (a FASTA + GFF3 pair under the shared data folder, optionally one coordinate range) becomes three
arrays over its records joined end to end with `SPACER` N's between them: `ids` (int8, `encode_dna`: A C G T N
as 0-4, soft-masked lowercase as 5-9), `labels` (int8, `gene_structure_labels`) and `mask` (uint8,
`gene_structure_mask`; 0 on spacers). They are built once and cached as .npy files (`build_cache`), then
memory-mapped: a window is a slice, never a re-read of FASTA or GFF3.

A training batch is a pure function of (seed, step): `WindowSampler.batch(step)` draws each window's source by
weight, its offset uniformly, then reverse-complements it with probability 1/2 and drops its soft-masking
(lowercase -> uppercase) with probability `unmask_probability`, so the network also learns unmasked input.
The step number is therefore the whole data state a checkpoint needs to resume exactly.

Splits: A. thaliana chr1 1..22,000,000 trains and 22,000,001..25,000,000 validates; nothing past 25,000,000
(the test region) is read. `celegans_1pct` (test) and D. melanogaster are never sources. The nGASP C. elegans
region is annotated only for its confirmed genes, so only gene-centred stretches (genes +/- `NGASP_FLANK`) are
kept, and the loss mask is 0 beyond the flank.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..formats.fasta import FastaFile
from ..formats.gff3 import read_gff3
from ..formats.windows import merge_intervals, shift_genes
from ..models.modeling_gene_structure import encode_dna, reverse_complement_ids
from .gene_structure_labels import REVERSE_COMPLEMENT_CLASS, gene_structure_labels, gene_structure_mask

logger = logging.getLogger(__name__)

# the shared genomes folder beside the repository, or $GENEFINDER_SHARED_DATA
DATA_DIR = Path(os.environ.get("GENEFINDER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SPACER = 100  # N's between joined records: no window reads one record into the next without a gap
NGASP_FLANK = 1000  # nt kept around each confirmed nGASP gene; farther DNA may hold unannotated genes
ATHALIANA_TRAIN_END = 22_000_000  # chr1 1..22,000,000 train, 22,000,001..25,000,000 validation
ATHALIANA_VALIDATION_END = 25_000_000  # 25,000,001.. is the test region: never read
VALIDATION_SOURCE = "athaliana_validation"  # the held-out range every model of this data is validated on


@dataclass(frozen=True)
class Source:
    """One cached array set: `directory` under DATA_DIR, optionally the 1-based range [start, end] of each record."""

    name: str
    directory: str
    start: int = 1
    end: int | None = None  # None: to each record's end
    annotated_flank: int | None = None  # partial annotation: keep genes +/- this many nt only
    exclude_records: tuple[str, ...] = ()  # e.g. yeast Mito (genetic code 3, not the standard code labels use)


SOURCES = {s.name: s for s in (
    Source("athaliana_train", "athaliana_chr1", 1, ATHALIANA_TRAIN_END),
    Source("athaliana_validation", "athaliana_chr1", ATHALIANA_TRAIN_END + 1, ATHALIANA_VALIDATION_END),
    Source("scerevisiae", "scerevisiae_s288c", exclude_records=("Mito",)),
    Source("celegans_smallgenes", "celegans_smallgenes"),
    Source("celegans_ngasp", "celegans_chrI_2-3mb_ngasp", annotated_flank=NGASP_FLANK),
    Source("kog_core_genes", "kog_core_genes"),
    Source("spombe", "spombe_fragment"),
    Source("hsapiens_chr16", "hsapiens_chr16_fragment"),
)}
FORBIDDEN_DIRECTORIES = ("celegans_1pct",)  # test only


@dataclass
class Arrays:
    ids: np.ndarray  # (N,) int8
    labels: np.ndarray  # (N,) int8
    mask: np.ndarray  # (N,) uint8

    def __len__(self) -> int:
        return len(self.ids)


def _record_arrays(source: Source, fasta: FastaFile, name: str, genes, pseudogenes) -> list[Arrays]:
    """The arrays of one record's range (several pieces for a partially annotated record)."""
    end = min(source.end or fasta.length(name), fasta.length(name))
    offset = source.start - 1  # record position p is range position p - offset
    dna = fasta.fetch(name, offset, end)
    local = [g for g in shift_genes(genes, -offset) if g.end >= 1 and g.start <= len(dna)]
    spans = [(max(s - offset, 1), min(e - offset, len(dna))) for s, e in pseudogenes]
    labels = gene_structure_labels(local, len(dna))
    mask = gene_structure_mask(local, dna, pseudogenes=spans, annotated_flank=source.annotated_flank)
    ids = encode_dna(dna)
    if source.annotated_flank is None:
        return [Arrays(ids, labels, mask)]
    pieces = merge_intervals([(max(g.start - source.annotated_flank, 1), min(g.end + source.annotated_flank, len(dna)))
                              for g in local])
    return [Arrays(ids[s - 1:e], labels[s - 1:e], mask[s - 1:e]) for s, e in pieces]


def build_arrays(source: Source) -> Arrays:
    if source.directory in FORBIDDEN_DIRECTORIES:
        raise ValueError(f"{source.directory} is a test set and never a training source")
    folder = DATA_DIR / source.directory
    fasta = FastaFile(folder / "genome.fna.gz")
    genes, report = read_gff3(folder / "annotation.gff3.gz")
    logger.info("%s: %s", source.name, report.summary())
    pieces: list[Arrays] = []
    for name in fasta.names:
        if name in source.exclude_records:
            continue
        pieces += _record_arrays(source, fasta, name, [g for g in genes if g.seqid == name],
                                 [(s, e) for seqid, s, e in report.pseudogenes if seqid == name])
    spacer = Arrays(encode_dna("N" * SPACER), np.zeros(SPACER, np.int8), np.zeros(SPACER, np.uint8))
    joined = [a for p in pieces for a in (p, spacer)][:-1]
    return Arrays(*(np.concatenate([getattr(a, k) for a in joined]) for k in ("ids", "labels", "mask")))


def build_cache(cache_dir: str | Path, names: list[str] | None = None) -> None:
    """Write `<cache_dir>/<source>/{ids,labels,mask}.npy` + `counts.json` for each source not cached yet."""
    for name in names or list(SOURCES):
        out = Path(cache_dir) / name
        if (out / "counts.json").exists():
            continue
        arrays = build_arrays(SOURCES[name])
        out.mkdir(parents=True, exist_ok=True)
        for key in ("ids", "labels", "mask"):
            np.save(out / f"{key}.npy", getattr(arrays, key))
        counts = np.bincount(arrays.labels[arrays.mask > 0], minlength=9).tolist()
        (out / "counts.json").write_text(json.dumps({"length": len(arrays), "masked_out": int((arrays.mask == 0).sum()),
                                                     "class_counts": counts}))
        logger.info("cached %s: %d nt, class counts %s", name, len(arrays), counts)


def load_arrays(cache_dir: str | Path, name: str) -> Arrays:
    folder = Path(cache_dir) / name
    return Arrays(*(np.load(folder / f"{k}.npy", mmap_mode="r") for k in ("ids", "labels", "mask")))


def class_counts(cache_dir: str | Path, names: list[str]) -> np.ndarray:
    """(9,) int64 trusted-label counts summed over the sources."""
    return sum(np.array(json.loads((Path(cache_dir) / n / "counts.json").read_text())["class_counts"]) for n in names)


def reverse_complement_window(ids: np.ndarray, labels: np.ndarray, mask: np.ndarray):
    """The window read on the other strand: positions reversed, bases complemented, +/- classes swapped."""
    return reverse_complement_ids(ids), REVERSE_COMPLEMENT_CLASS[labels[::-1]], mask[::-1].copy()


class WindowSampler:
    """Training batches as a pure function of the step: (ids, labels, mask) int64/int64/float32 (B, window)."""

    def __init__(self, sources: list[Arrays], weights: list[float], window: int, batch_size: int, seed: int,
                 unmask_probability: float = 0.5):
        if len(sources) != len(weights) or not sources:
            raise ValueError("need one weight per source and at least one source")
        self.sources, self.window, self.batch_size, self.seed = sources, window, batch_size, seed
        self.probabilities = np.asarray(weights, dtype=np.float64) / np.sum(weights)
        self.unmask_probability = unmask_probability

    def window_at(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        source = self.sources[rng.choice(len(self.sources), p=self.probabilities)]
        n, w = len(source), self.window
        start = int(rng.integers(0, max(n - w, 0) + 1))
        ids = np.full(w, 4, np.int8)  # N padding past a source shorter than the window, masked out
        labels, mask = np.zeros(w, np.int8), np.zeros(w, np.uint8)
        got = min(w, n - start)
        ids[:got], labels[:got], mask[:got] = (source.ids[start:start + got], source.labels[start:start + got],
                                               source.mask[start:start + got])
        if rng.random() < 0.5:
            ids, labels, mask = reverse_complement_window(ids, labels, mask)
        if rng.random() < self.unmask_probability:
            ids = ids % 5
        return ids, labels, mask

    def batch(self, step: int):
        rng = np.random.default_rng([self.seed, step])
        ids, labels, mask = zip(*(self.window_at(rng) for _ in range(self.batch_size)))
        return (np.stack(ids).astype(np.int64), np.stack(labels).astype(np.int64),
                np.stack(mask).astype(np.float32))


def validation_windows(arrays: Arrays, count: int, window: int) -> list[tuple[int, int]]:
    """`count` fixed, evenly spaced, non-overlapping (start, end) windows of `window` nt over the arrays."""
    if count * window > len(arrays):
        raise ValueError(f"{count} validation windows of {window} nt do not fit in {len(arrays)} nt")
    step = len(arrays) // count
    return [(i * step, i * step + window) for i in range(count)]


if __name__ == "__main__":  # python -m genefinder.training.gene_structure_data CACHE_DIR: build every source's cache
    import sys
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    build_cache(sys.argv[1])
