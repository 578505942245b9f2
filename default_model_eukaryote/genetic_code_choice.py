"""`--genetic-code auto`: whether a bacterial input reads TGA as a stop (table 11) or as tryptophan (table 4:
Mycoplasma, Spiroplasma), judged by which table its own genes explain better.

Annotated under the wrong table, a table-4 genome has its genes cut at every TGA, and a table-11 genome has its
genes run on through their TGA stops; either way its genes score worse than under its own table. So the input is
decoded network-free under each table, each time self-trained on itself (its own hexamer statistics; no start
refit, the costly part), and the total score of its called genes per kb compared: table 4 is chosen only when it
scores at least AUTO_MARGIN times table 11's, table 11 being the common case (and Prodigal's default);
`benchmarks/genetic_code_choice.py` prints the ratio on genomes of either table. Choosing costs two such
self-trainings, so it runs only when asked for (`genefinder annotate --genetic-code auto`, or
`genetic_code="auto"` in the pipeline).

This module is Hub remote code: numpy, torch and siblings only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable

from .annotation import AnnotationSettings, GeneFinderAnnotator
from .features import Gene

AUTO_MARGIN = 1.25  # table 4 must score this many times table 11's per kb (between 0.99 and 1.65 on the data)


def self_trained_genes(model, settings: AnnotationSettings,
                       sequences: Callable[[], Iterable[str]]) -> tuple[list[Gene], int]:
    """(the genes network-free ORF decoding calls on the input under `settings`' genetic code after fitting the
    input's hexamer statistics under that code, in the coordinates of records joined as self-training joins them;
    the input's nt)."""
    plain = replace(settings, decoding="orf", head_weight=0.0, refit_starts=False, min_self_training_nt=0)
    annotator = GeneFinderAnnotator(model, None, None, plain)
    annotator.self_train(sequences)
    genes, nt = [], 0
    for _, unit_genes, unit_nt in annotator.network_free_calls(sequences):
        genes += unit_genes
        nt += unit_nt
    return genes, nt


def gene_score_per_kb(genes: list[Gene], nt: int) -> float:
    return 1000 * sum(g.score for g in genes) / max(nt, 1)


def coding_share(genes: list[Gene], nt: int) -> float:
    """The share of the input's nt in the genes (which overlap by at most a few codons)."""
    return sum(g.end - g.start + 1 for g in genes) / max(nt, 1)


def table_for(scores: dict[int, float]) -> int:
    """The table chosen from the gene score per kb under tables 11 and 4."""
    return 4 if scores[4] >= AUTO_MARGIN * scores[11] else 11


def choose_genetic_code(model, settings: AnnotationSettings,
                        sequences: Callable[[], Iterable[str]]) -> tuple[int, dict[int, float]]:
    """(11 or 4, the gene score per kb under each) for the input whose records `sequences()` yields."""
    scores = {code: gene_score_per_kb(*self_trained_genes(model, replace(settings, genetic_code=code), sequences))
              for code in (11, 4)}
    return table_for(scores), scores
