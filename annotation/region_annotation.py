"""Annotate and score one region of a genome in-process: what validation sweeps and experiments need, without
writing a slice to disk or a GFF3 file. The path is `genefinder annotate`'s (GeneFinderAnnotator + stitch)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable

from ..evaluation.evaluation import LevelScore, Region, evaluate, parse_region, read_annotation
from ..formats.errors import GeneFinderInputError
from ..formats.fasta import FastaFile
from ..formats.features import Gene
from ..formats.windows import shift_genes
from .annotation import AnnotationSettings, GeneFinderAnnotator, stitch


@dataclass(frozen=True)
class GenomeRegion:
    """A region of a genome (FASTA + reference GFF3), e.g. a validation or test block. The FASTA is opened and
    the reference read once, on first use, however many annotations of the region are scored."""

    fasta: Path
    gff: Path
    region: Region

    @classmethod
    def in_shared_data(cls, data: Path, spec: str) -> "GenomeRegion":
        """`GENOME:SEQID:START-END`, GENOME a folder of ../shared/data holding genome.fna.gz + annotation.gff3.gz."""
        genome, _, region = spec.partition(":")
        return cls(data / genome / "genome.fna.gz", data / genome / "annotation.gff3.gz", parse_region(region))

    @cached_property
    def genome(self) -> FastaFile:
        """The FASTA, checked to hold the whole region (one line naming the file otherwise)."""
        fa, r = FastaFile(self.fasta), self.region
        if r.seqid not in fa:
            raise GeneFinderInputError(f"no sequence named {r.seqid!r}", str(self.fasta))
        if r.end > fa.length(r.seqid):
            raise GeneFinderInputError(f"region {r} ends beyond {r.seqid} ({fa.length(r.seqid):,} nt)", str(self.fasta))
        return fa

    def sequences(self, scope: str) -> Callable[[], Iterable[str]]:
        """What self-training reads: the region alone ("region", as `annotate` on a slice of it would) or every
        record of its genome ("genome", as `annotate` on the whole genome would), a fresh iterable per call."""
        r, genome = self.region, self.genome
        if scope == "region":
            return lambda: [genome.fetch(r.seqid, r.start - 1, r.end)]
        return lambda: (genome.fetch(name, 0, genome.length(name)) for name in genome.names)

    @cached_property
    def reference(self) -> list[Gene]:
        return read_annotation(str(self.gff), "reference")[0]


def annotate_region(model, tok, inputs, where: GenomeRegion, settings: AnnotationSettings,
                    self_train_on: str = "region") -> list[Gene]:
    """Genes (genome coordinates) the model predicts in the region, windowed and stitched as `annotate` does,
    after self-training on the region or its whole genome (`GenomeRegion.sequences`)."""
    r, genome = where.region, where.genome
    length = r.end - r.start + 1
    annotator = GeneFinderAnnotator(model, tok, inputs, settings)
    annotator.self_train(where.sequences(self_train_on))
    preds = annotator.annotate_record(r.seqid, length, lambda s, e: genome.fetch(r.seqid, r.start - 1 + s,
                                                                                  r.start - 1 + e))
    return shift_genes(stitch(preds, length), r.start - 1)


def score_region(genes: list[Gene], where: GenomeRegion) -> dict[str, LevelScore]:
    """`evaluation.evaluate` against the reference genes, restricted to the region."""
    return evaluate(genes, where.reference, where.region)
