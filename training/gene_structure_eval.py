"""Gene-level validation of the gene-structure network: network -> exact decoder -> scores as the field counts them.

A few long, fixed stretches of the A. thaliana validation range (chr1 22,000,001..25,000,000) are run through
`predict_log_probs` and `decode_gene_structure` exactly as the annotator runs a record, and the decoded genes are
scored against the reference genes cut to each stretch with `evaluation.evaluate` (base, exon, gene, stop, start
levels). Stretches are long (100 kb by default) so that few genes are cut by their ends; per-nucleotide scores
alone miss what the decoder makes of the network's evidence.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..decoding.gene_structure_viterbi import decode_gene_structure
from ..evaluation.evaluation import evaluate
from ..formats.gff3 import read_gff3
from ..formats.windows import GeneIndex, genes_in_window
from .gene_structure_data import DATA_DIR, SOURCES, Arrays

_LETTERS = np.array(list("ACGTNacgtn"))


def ids_to_dna(ids: np.ndarray) -> str:
    """The DNA string of input ids (inverse of `encode_dna` for A C G T N and their soft-masked forms)."""
    return "".join(_LETTERS[np.asarray(ids, dtype=np.int64)])


class GeneLevelValidation:
    """`count` stretches of `length` nt, evenly spaced over the validation arrays, with their reference genes."""

    def __init__(self, arrays: Arrays, count: int, length: int, source: str = "athaliana_validation"):
        spec = SOURCES[source]
        if count * length > len(arrays):
            raise ValueError(f"{count} gene-level stretches of {length} nt do not fit in {len(arrays)} nt")
        genes, _ = read_gff3(DATA_DIR / spec.directory / "annotation.gff3.gz")
        index = GeneIndex(genes)
        step = len(arrays) // count
        self.stretches: list[tuple[str, str, list]] = []  # (seqid, dna, reference genes in stretch coordinates)
        for i in range(count):
            start = i * step  # array offset; genome position = spec.start + offset
            seqid = f"stretch{i}"
            reference = [replace(g, seqid=seqid) for g in genes_in_window(index, spec.start - 1 + start, length)]
            self.stretches.append((seqid, ids_to_dna(arrays.ids[start:start + length]), reference))

    def __call__(self, model) -> dict[str, float]:
        predicted, reference = [], []
        for seqid, dna, ref in self.stretches:
            predicted += decode_gene_structure(dna, model.predict_log_probs(dna), seqid=seqid)
            reference += ref
        scores = evaluate(predicted, reference)
        out = {f"{level}_f1": score.f1 or 0.0 for level, score in scores.items()}
        out["predicted_genes"], out["reference_genes"] = scores["gene"].n_pred, scores["gene"].n_ref
        return out
