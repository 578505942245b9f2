"""The downstream view of the context-extension study (issue #7, part 3): a gene finder trained at window W,
annotating with windows of W, 2W, .. 16W under each RoPE scaling method, scored like any annotation.

The gene finder is `train.py`'s seq2seq stage on the study's aido encoder (configs/context-genefinder-cpu.yaml);
a method is only the encoder's `rope_parameters`, set on the saved config before `from_pretrained`, exactly as a
user would run a model at a longer window. Annotation is `annotation.GeneFinderAnnotator` (the path of
`genefinder annotate`: windows overlapping by a quarter, grammar-constrained generation, stitching) over a region
of a training genome's test block, never trained on; scoring is `evaluation.evaluate` restricted to that region
(gene level: start and stop exact; stop level: 3' end exact), both in region_annotation.py.
"""

from __future__ import annotations

import time
from pathlib import Path

from genefinder.annotation import AnnotationSettings
from genefinder.configuration_encoders import GeneFinderEncoderConfig
from genefinder.configuration_genefinder import GeneFinderConfig
from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
from genefinder.processing_genefinder import GeneFinderInputs
from genefinder.region_annotation import GenomeRegion, annotate_region, score_region
from genefinder.tokenization_gff import GFFTokenizer


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
        scores = score_region(annotate_region(model, tok, inputs, heldout, settings), heldout)
        out[str(window)] = {"gene_f1": scores["gene"].f1 or 0.0, "stop_f1": scores["stop"].f1 or 0.0,
                            "start_f1": scores["start"].f1 or 0.0, "base_f1": scores["base"].f1 or 0.0,
                            "predicted": scores["gene"].n_pred, "reference": scores["gene"].n_ref,
                            "seconds": round(time.perf_counter() - t0, 1)}
    return out
