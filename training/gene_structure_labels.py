"""Per-nucleotide gene-structure labels and loss mask: the targets of the eukaryotic gene-structure network.

Class of each nucleotide (`GENE_STRUCTURE_CLASSES`, index order fixed, shared with the decoder and the annotator):
0 non-coding (intergenic, UTR, non-coding RNA, introns outside the CDS span); 1-3 codon position of a CDS on '+';
4-6 the same on '-' (codons read from the higher coordinate down); 7 an intron between two CDS pieces of a '+'
transcript; 8 the same on '-'. Classes 0-6 are `coding_frames.FRAME_CLASSES` and come from `coding_frame_labels`.

One transcript per gene, the one with the longest CDS (ties: the first in the gene's order), because the network
predicts one gene structure per locus and the decoder emits one. Overlap rule, for genes that share bases (nested
genes inside another's intron, neighbours sharing a few bases): introns are written first and CDS on top of them,
so a CDS base is always labelled CDS; between two CDS (or two introns) the gene later in the window's canonical
order wins, as in `coding_frame_labels`.

The loss mask (1 = trained on, 0 = ignored) takes out bases whose label the annotation does not vouch for:
- where the gene's transcripts disagree (a base that is CDS in one isoform and intron in another);
- every base of a coding gene whose chosen CDS is not a whole open reading frame (length not a multiple of 3,
  a stop codon inside it) or is not wholly inside the sequence;
- pseudogenes (spans the GFF3 reader left out, `GffReadReport.pseudogenes`);
- for partially annotated sequences, everything farther than `annotated_flank` nt from an annotated gene
  (unannotated DNA there may hold genes, so it is not evidence of 'non-coding').
"""

from __future__ import annotations

import numpy as np

from ..decoding.coding_frames import FRAME_CLASSES, coding_frame_labels
from ..decoding.genetic_code import GeneticCode
from ..formats.features import Gene, Transcript
from ..formats.windows import reverse_complement, shift_genes

GENE_STRUCTURE_CLASSES = (*FRAME_CLASSES, "+intron", "-intron")
NON_CODING, PLUS_INTRON, MINUS_INTRON = 0, 7, 8
# Class of each class on the reverse-complemented sequence: +k <-> -k, +intron <-> -intron.
REVERSE_COMPLEMENT_CLASS = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7], dtype=np.int8)


def chosen_transcript(gene: Gene) -> Transcript | None:
    """The gene's coding transcript with the longest CDS (first of equals), None for a non-coding gene."""
    coding = [t for t in gene.transcripts if t.cds]
    if not coding:
        return None
    return max(coding, key=lambda t: sum(c.end - c.start + 1 for c in t.cds))  # max keeps the first of equals


def _one_transcript(gene: Gene, transcript: Transcript) -> Gene:
    return Gene(strand=gene.strand, transcripts=(transcript,), seqid=gene.seqid, id=gene.id)


def _write_introns(labels: np.ndarray, gene: Gene, transcript: Transcript) -> None:
    cls = PLUS_INTRON if gene.strand == "+" else MINUS_INTRON
    for left, right in zip(transcript.cds, transcript.cds[1:]):
        lo, hi = max(left.end + 1, 1), min(right.start - 1, len(labels))
        if lo <= hi:
            labels[lo - 1:hi] = cls


def _transcript_labels(gene: Gene, transcript: Transcript, length: int) -> np.ndarray:
    labels = np.zeros(length, dtype=np.int8)
    _write_introns(labels, gene, transcript)
    coding = coding_frame_labels([_one_transcript(gene, transcript)], length)
    labels[coding > 0] = coding[coding > 0]
    return labels


def gene_structure_labels(genes: list[Gene], length: int) -> np.ndarray:
    """(length,) int8 class per nucleotide of a sequence of `length` nt whose genes are in its coordinates."""
    labels = np.zeros(length, dtype=np.int8)
    chosen = [(g, t) for g in genes if (t := chosen_transcript(g)) is not None]
    for gene, transcript in chosen:
        _write_introns(labels, gene, transcript)
    coding = coding_frame_labels([_one_transcript(g, t) for g, t in chosen], length)
    labels[coding > 0] = coding[coding > 0]
    return labels


def is_open_reading_frame(gene: Gene, transcript: Transcript, dna: str, code: GeneticCode) -> bool:
    """Whether the transcript's joined CDS (after the first piece's phase) is a multiple of 3 long, inside `dna`
    (1-based coordinates of the gene = positions in `dna`) and free of in-frame stops before its last codon."""
    if transcript.cds[0].start < 1 or transcript.cds[-1].end > len(dna):
        return False
    joined = "".join(dna[c.start - 1:c.end] for c in transcript.cds)
    if gene.strand == "-":
        joined = reverse_complement(joined)
    first = transcript.cds[0] if gene.strand == "+" else transcript.cds[-1]
    joined = joined[first.phase:]
    if len(joined) % 3:
        return False
    return "*" not in code.translate(joined)[:-1]


def gene_structure_mask(genes: list[Gene], dna: str, *, pseudogenes: list[tuple[int, int]] = (),
                        annotated_flank: int | None = None, code: GeneticCode | None = None) -> np.ndarray:
    """(len(dna),) uint8 loss mask, 1 where the label is trusted (rules in the module docstring).

    `pseudogenes`: 1-based inclusive spans in `dna`'s coordinates. `annotated_flank`: for a partially annotated
    sequence, the nt kept on each side of each annotated gene; None when the annotation is complete.
    """
    length = len(dna)
    code = code or GeneticCode(1)
    if annotated_flank is None:
        mask = np.ones(length, dtype=np.uint8)
    else:
        mask = np.zeros(length, dtype=np.uint8)
        for gene in genes:
            mask[max(gene.start - 1 - annotated_flank, 0):max(gene.end + annotated_flank, 0)] = 1
    for start, end in pseudogenes:
        mask[max(start - 1, 0):max(end, 0)] = 0
    for gene in genes:
        transcript = chosen_transcript(gene)
        if transcript is None:
            continue
        lo, hi = max(gene.start, 1), min(gene.end, length)  # 1-based span of the gene inside the sequence
        if lo > hi:
            continue
        if not is_open_reading_frame(gene, transcript, dna, code):
            mask[lo - 1:hi] = 0
            continue
        isoforms = shift_genes([_one_transcript(gene, t) for t in gene.transcripts if t.cds], 1 - lo)
        if len(isoforms) > 1:  # labels in the gene's own coordinates (position 1 = lo)
            each = np.stack([_transcript_labels(g, g.transcripts[0], hi - lo + 1) for g in isoforms])
            mask[lo - 1:hi][np.any(each != each[0], axis=0)] = 0
    return mask
