"""Pre-trained coding statistics, for inputs too short to self-train on: Prodigal's `-p meta`, from the model's
training genomes.

Self-training (`self_training.py`) fits an input's hexamer statistics on the genes a first pass calls in it. On a
whole genome that is the strongest signal there is; on a plasmid, a phage or one metagenome contig of a few kb it
is noise that confirms itself: the few genes called are the ones counted, and every hexamer the input holds
weighs on its own background. Below `AnnotationSettings.min_self_training_nt` the annotator reads these instead:
the in-frame hexamer counts of the reference genes of each training genome and the hexamer counts of both its
strands (`CodingLibrary.count`, on the train blocks only, as `genefinder fit-starts` fits the start scorer),
mixed at the input's GC content between the two library genomes that bracket it (`statistics_at`), as Prodigal's
metagenomic mode picks its pre-trained model by GC. The library lives beside the weights, in LIBRARY_FILE of the
model folder (`genefinder fit-coding-library` writes it); a folder without one self-trains at any size.

This module is Hub remote code: numpy, safetensors and siblings only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from safetensors.numpy import load_file, save_file

from .strands import N_HEXAMERS, Strand
from .features import Gene
from .self_training import CodingStatistics, hexamer_counts

LIBRARY_FILE = "coding_library.safetensors"


def gc_content(sequences: Iterable[str]) -> tuple[int, float]:
    """(nt, share of G and C among the A, C, G, T) of the sequences together; unknown bases count in neither."""
    n = acgt = gc = 0
    for seq in sequences:
        up = seq.upper()
        g_c = up.count("G") + up.count("C")
        n, gc, acgt = n + len(seq), gc + g_c, acgt + g_c + up.count("A") + up.count("T")
    return n, gc / acgt if acgt else 0.5


def short_input_gc(sequences: Iterable[str], limit: int) -> float | None:
    """The GC content of the sequences together if they hold fewer than `limit` nt, else None; reading stops as
    soon as `limit` is reached, so a genome is not read whole for it."""
    held, n = [], 0
    for seq in sequences:
        n += len(seq)
        if n >= limit:
            return None
        held.append(seq)
    return gc_content(held)[1] if n < limit else None  # (a limit of 0: never short, not even when empty)


@dataclass(frozen=True)
class CodingLibrary:
    """Hexamer counts per library genome: `coding` (k, 4096) in-frame in its reference genes, `background`
    (k, 4096) on both strands; `gc` (k,) its GC content; `genetic_code` the table its genes were read under."""

    names: tuple[str, ...]
    gc: np.ndarray
    coding: np.ndarray
    background: np.ndarray
    genetic_code: int

    def __post_init__(self):
        k = len(self.names)
        if k == 0 or self.gc.shape != (k,) or self.coding.shape != (k, N_HEXAMERS) \
                or self.background.shape != (k, N_HEXAMERS):
            raise ValueError(f"a coding library needs (k,) GC and (k, {N_HEXAMERS}) counts for k >= 1 genomes")

    @classmethod
    def count(cls, genomes: Iterable[tuple[str, Iterable[tuple[tuple[Strand, Strand], list[Gene]]]]],
              genetic_code: int) -> "CodingLibrary":
        """From (name, ((`strands.record_strands`, reference genes in 1-based record coordinates) per record))
        per genome."""
        def keeping_sequences(records, seqs: list[str]):
            for strands, genes in records:
                seqs.append(strands[0].seq)
                yield strands, genes

        names, gcs, coding, background = [], [], [], []
        for name, records in genomes:
            seqs: list[str] = []
            c, b, _ = hexamer_counts(keeping_sequences(records, seqs))
            names.append(name)
            gcs.append(gc_content(seqs)[1])
            coding.append(c)
            background.append(b)
        return cls(tuple(names), np.array(gcs), np.stack(coding), np.stack(background), genetic_code)

    def without(self, name: str) -> "CodingLibrary":
        """The library less one genome (leave-one-genome-out sweeps)."""
        keep = [i for i, n in enumerate(self.names) if n != name]
        return CodingLibrary(tuple(self.names[i] for i in keep), self.gc[keep], self.coding[keep],
                             self.background[keep], self.genetic_code)

    def weights_at(self, gc: float) -> np.ndarray:
        """(k,) mixing weights at GC content `gc`: linear between the two genomes whose GC brackets it, all on the
        nearest one outside their range."""
        order = np.argsort(self.gc, kind="stable")
        at = np.interp(gc, self.gc[order], np.arange(len(order), dtype=float))
        w = np.zeros(len(order))
        lo = int(np.floor(at))
        w[order[lo]] = 1.0 - (at - lo)
        if lo + 1 < len(order):
            w[order[lo + 1]] += at - lo
        return w

    def statistics_at(self, gc: float) -> CodingStatistics:
        """Coding statistics for an input of GC content `gc`: log P(hexamer | coding) - log P(hexamer | genome)
        under the weighted mixture (`weights_at`) of the library genomes' (add-one smoothed) distributions."""
        w = self.weights_at(gc)[:, None]
        p_coding = ((self.coding + 1) / (self.coding + 1).sum(1, keepdims=True) * w).sum(0)
        p_background = ((self.background + 1) / (self.background + 1).sum(1, keepdims=True) * w).sum(0)
        return CodingStatistics(np.log(p_coding) - np.log(p_background), n_genes=0)

    def save(self, folder: str) -> str:
        """Write LIBRARY_FILE into `folder` (replacing one there whole, never leaving half a file); its path."""
        path = os.path.join(folder, LIBRARY_FILE)
        tmp = path + ".tmp"
        save_file({"gc": self.gc.astype(np.float64), "coding": self.coding.astype(np.int64),
                   "background": self.background.astype(np.int64)}, tmp,
                  metadata={"names": json.dumps(list(self.names)), "genetic_code": str(self.genetic_code)})
        os.chmod(tmp, 0o644)  # a model folder's file, readable as the weights beside it are
        os.replace(tmp, path)
        return path

    @classmethod
    def from_folder(cls, folder: str) -> "CodingLibrary | None":
        """The library of a model folder, None if it has none."""
        path = os.path.join(folder, LIBRARY_FILE)
        return cls.from_file(path) if os.path.isfile(path) else None

    @classmethod
    def from_file(cls, path: str) -> "CodingLibrary":
        from safetensors import safe_open

        with safe_open(path, framework="numpy") as fh:
            meta = fh.metadata() or {}
        t = load_file(path)
        return cls(tuple(json.loads(meta["names"])), t["gc"], t["coding"], t["background"],
                   int(meta["genetic_code"]))
