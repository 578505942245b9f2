"""Eukaryotic annotation: the gene-structure network's per-nucleotide classes, decoded exactly into gene models.

A record is read whole: `GeneStructureForTokenClassification.predict_log_probs` scores both strands of every
nucleotide in overlapping chunks, and `decode_gene_structure` finds the best set of valid gene models over the
whole record (no windows to stitch, so a gene longer than a chunk comes out whole). Where the model folder has
splice-site scorers (`splice_sites.json`, decoding/splice_sites.py, set on the model as `model.splice_sites`),
their log-odds are added where the decoder opens or closes an intron. The decoder's penalties travel in the
model's config (`decoding`), tuned for that model on validation DNA; a caller may override any of them.

Memory per record: 36 bytes per nucleotide of log-probabilities (float32 x 9 classes) plus the decoder's
bounded segment buffers, so a 30-Mb chromosome needs about 1.1 GB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields

from .gene_structure_viterbi import GeneStructureDecodingParams, decode_gene_structure
from .features import Gene

DECODING_FIELDS = tuple(f.name for f in fields(GeneStructureDecodingParams))


def decoding_params(model, **overrides) -> GeneStructureDecodingParams:
    """The model's tuned decoding penalties (config.decoding), with `overrides` (None values ignored) on top."""
    values = dict(getattr(model.config, "decoding", None) or {})
    unknown = sorted(set(values) - set(DECODING_FIELDS))
    if unknown:
        raise ValueError(f"config.json `decoding` names unknown setting(s) {unknown}; known: {DECODING_FIELDS}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return GeneStructureDecodingParams(**values)


class GeneStructureAnnotator:
    """Gene models of whole records from a gene-structure model (`GeneStructureForTokenClassification`)."""

    def __init__(self, model, params: GeneStructureDecodingParams | None = None, batch_size: int = 8,
                 chunk: int = 9999, overlap: int = 999):
        self.model, self.batch_size, self.chunk, self.overlap = model, batch_size, chunk, overlap
        self.params = params or decoding_params(model)

    def annotate(self, seqid: str, dna: str, progress: Callable[[int], None] | None = None) -> list[Gene]:
        """Gene models of one record (1-based coordinates, both strands); `progress(n)` after each n nt scored."""
        log_probs = self.model.predict_log_probs(dna, chunk=self.chunk, overlap=self.overlap,
                                                 batch_size=self.batch_size, progress=progress)
        return decode_gene_structure(dna, log_probs, self.params, seqid=seqid, splice=self.splice_bonus(dna))

    def splice_bonus(self, dna: str):
        """(4, L) splice-site bonuses of the model's scorers times `splice_weight`, or None without scorers."""
        scorers = getattr(self.model, "splice_sites", None)
        return None if scorers is None else scorers.decoder_bonus(dna, self.params.splice_weight)

    def provenance(self) -> str:
        """The run's settings, for the GFF3 header."""
        settings = " ".join(f"{k}={v:g}" for k, v in asdict(self.params).items() if k != "segment_length")
        sites = "on" if getattr(self.model, "splice_sites", None) is not None else "off"
        return f"decoding=gene-structure chunk={self.chunk} overlap={self.overlap} splice_sites={sites} {settings}"
