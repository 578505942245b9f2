"""The downstream view of the context-extension study: a gene finder trained at window W,
annotating with windows of W, 2W, .. 16W under each RoPE scaling method, scored like any annotation.

The gene finder is `train.py`'s seq2seq stage on the study's aido encoder (configs/context-genefinder-cpu.yaml);
a method is only the encoder's `rope_parameters`, set on the saved config before `from_pretrained`, exactly as a
user would run a model at a longer window. Annotation is `annotation.GeneFinderAnnotator` (the path of
`genefinder annotate`: windows overlapping by a quarter, grammar-constrained generation, stitching) over a region
of a training genome's test block, never trained on; scoring is `evaluation.evaluate` restricted to that region
(gene level: start and stop exact; stop level: 3' end exact), both in region_annotation.py.

Generation at W = 1 kb finds no whole gene (docs/results/context_extension.md), so a second reading of the same model
(`score_windows_orf`) lets the scaled encoder be judged on CPU: ORF decoding (`genefinder annotate --decoding orf`)
with the model's coding-frame head as its only learned coding evidence (no self-training) and a start scorer
fitted to the checkpoint (`genefinder fit-starts`), the head read over windows of W..16W. Beside gene and stop
F1 it reports the head's own per-nucleotide accuracy (7 classes: non-coding or codon position 1-3 on either
strand) over the region, the most direct measure of what the scaled encoder still reads. `network_free_reference`
is the same decoding with the head's weight at 0: what the ORFs and the start scorer find without the encoder,
the same at every window and method.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from genefinder.annotation.annotation import AnnotationSettings, GeneFinderAnnotator
from genefinder.annotation.region_annotation import GenomeRegion, annotate_region, score_region
from genefinder.configuration_genefinder import GeneFinderConfig
from genefinder.decoding.coding_frames import coding_frame_labels
from genefinder.decoding.orf_decoding import decode_orfs
from genefinder.formats.windows import GeneIndex, genes_in_window, shift_genes
from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
from genefinder.models.configuration_encoders import GeneFinderEncoderConfig
from genefinder.processing_genefinder import GeneFinderInputs
from genefinder.tokenization_gff import GFFTokenizer

# ORF decoding's weights when the coding-frame head is its only learned coding evidence: the best head-only row of
# the default model's validation sweep (docs/decisions/bacterial_decoder.md: head 0.1, length prior 0.3, start weight 32,
# gene bias 80, no start evidence, no hexamers), not re-chosen for this smaller model
ORF_SETTINGS = dict(decoding="orf", head_weight=0.1, length_prior=0.3, start_weight=32.0, gene_bias=80.0,
                    start_evidence=0.0, hexamer_weight=0.0, refit_starts=False)


def load_with_rope(checkpoint: Path, rope: dict):
    """(model, GFF tokenizer, inputs) from a training checkpoint of a single-nucleotide gene finder, its encoder's
    `rope_parameters` replaced (validated by the encoder config, as when a user edits config.json)."""
    config = GeneFinderConfig.from_pretrained(str(checkpoint))
    config.encoder_config = GeneFinderEncoderConfig(**{**config.encoder_config.to_dict(), "rope_parameters": rope})
    model = GeneFinderForConditionalGeneration.from_pretrained(str(checkpoint), config=config).eval()
    return model, GFFTokenizer(), GeneFinderInputs(config.encoder_config.encoder_type)


def score_windows(checkpoint: Path, rope: dict, heldout: GenomeRegion, trained_window: int,
                  multiples: list[int]) -> dict:
    """{window nt: {gene_f1, stop_f1, start_f1, base_f1, predicted, reference, seconds}} for one method."""
    model, tok, inputs = load_with_rope(checkpoint, rope)
    out = {}
    for m in multiples:
        window = m * trained_window
        t0 = time.perf_counter()
        # ~5 GFF tokens per gene and ~1 gene per kb in bacteria: twice that, so a window is never cut short
        # min_frame_agreement 0: the decoder's genes as written; the small model's coding-frame head is too weak
        # to filter them (and would add a second, confounded use of the scaled encoder)
        settings = AnnotationSettings(window=window, overlap=window // 4, max_new_tokens=16 + 10 * window // 1000,
                                      min_frame_agreement=0.0)
        out[str(window)] = _cells(annotate_region(model, tok, inputs, heldout, settings), heldout, t0)
    return out


def score_windows_orf(checkpoint: Path, rope: dict, heldout: GenomeRegion, trained_window: int,
                      multiples: list[int]) -> dict:
    """{window nt: {gene_f1, ..., frame_accuracy}} for one method, by ORF decoding weighing the model's
    coding-frame head read over windows of that size (`checkpoint` has a fitted start scorer)."""
    model, tok, inputs = load_with_rope(checkpoint, rope)
    out = {}
    for m in multiples:
        window = m * trained_window
        t0 = time.perf_counter()
        settings = AnnotationSettings(window=window, overlap=window // 4, **ORF_SETTINGS)
        genes, accuracy = _orf_annotation(model, tok, inputs, heldout, settings)
        out[str(window)] = _cells(genes, heldout, t0) | {"frame_accuracy": accuracy}
    return out


def network_free_reference(checkpoint: Path, heldout: GenomeRegion) -> dict:
    """`score_windows_orf`'s cells with the head's weight at 0 (the encoder never runs): one row for every method."""
    model, tok, inputs = load_with_rope(checkpoint, {"rope_type": "default"})
    t0 = time.perf_counter()
    genes, _ = _orf_annotation(model, tok, inputs, heldout, AnnotationSettings(**{**ORF_SETTINGS, "head_weight": 0.0}))
    return _cells(genes, heldout, t0)


def _orf_annotation(model, tok, inputs, heldout: GenomeRegion, settings: AnnotationSettings
                    ) -> tuple[list, float | None]:
    """(genes in genome coordinates, the head's per-nucleotide accuracy or None) of ORF decoding the region."""
    r = heldout.region
    seq = heldout.genome.fetch(r.seqid, r.start - 1, r.end)
    logp, logits = GeneFinderAnnotator(model, tok, inputs, settings).coding_evidence(seq)
    genes = shift_genes(decode_orfs(seq, logp, logits, settings, seqid=r.seqid), r.start - 1)
    if logp is None:
        return genes, None
    truth = coding_frame_labels(genes_in_window(GeneIndex([g for g in heldout.reference if g.seqid == r.seqid]),
                                                r.start - 1, len(seq)), len(seq))
    return genes, float(np.mean(logp.argmax(1) == truth))


def _cells(genes: list, heldout: GenomeRegion, t0: float) -> dict:
    scores = score_region(genes, heldout)
    return {"gene_f1": scores["gene"].f1 or 0.0, "stop_f1": scores["stop"].f1 or 0.0,
            "start_f1": scores["start"].f1 or 0.0, "base_f1": scores["base"].f1 or 0.0,
            "predicted": scores["gene"].n_pred, "reference": scores["gene"].n_ref,
            "seconds": round(time.perf_counter() - t0, 1)}
