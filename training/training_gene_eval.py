"""Gene-level validation during training: generate on the fixed validation windows, score like `evaluate`.

Teacher-forced loss and token accuracy say how well the decoder copies the reference; gene, exon, stop- and
start-exact F1 say whether free-running, grammar-constrained generation finds genes. The windows are
annotated with the same `GeneFinderAnnotator` as `genefinder annotate` (one window = one record, no
stitching) and scored with `evaluation.evaluate` against the genes their target tokens name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from ..annotation.annotation import AnnotationSettings, GeneFinderAnnotator
from ..evaluation.evaluation import evaluate
from ..processing_genefinder import GeneFinderInputs
from ..tokenization_gff import GFFTokenizer

LEVELS = ("gene", "exon", "stop", "start")


def make_gene_level_eval(inputs: GeneFinderInputs, batch_size: int = 8, max_new_tokens: int = 256):
    """The `gene_level_eval` hook of train.py: `(model, rows, accelerator) -> {"gene_f1": ..., ...}`.

    `rows` are validation rows (`dna`, `length`, `target_ids`, `genetic_code`). Every process scores all rows
    (generation is deterministic), so each logs the same numbers without a gather.
    """
    tokenizer = GFFTokenizer()

    def gene_level_eval(model, rows, accelerator) -> dict:
        was_training = model.training
        by_code = defaultdict(list)
        for i, row in enumerate(rows):
            by_code[int(row.get("genetic_code", 11))].append(i)
        predicted, reference = [], []
        for code, indices in sorted(by_code.items()):
            settings = AnnotationSettings(window=max(rows[i]["length"] for i in indices), overlap=0,
                                          batch_size=batch_size, max_new_tokens=max_new_tokens, genetic_code=code)
            annotator = GeneFinderAnnotator(model, tokenizer, inputs, settings)
            for b in range(0, len(indices), batch_size):
                chunk = indices[b:b + batch_size]
                for i, genes in zip(chunk, annotator.predict([rows[i]["dna"] for i in chunk])):
                    predicted += [replace(g, seqid=f"w{i}") for g in genes]
                    reference += [replace(g, seqid=f"w{i}") for g in tokenizer.decode_genes(rows[i]["target_ids"])]
        model.train(was_training)
        scores = evaluate(predicted, reference)
        return {f"{level}_f1": scores[level].f1 for level in LEVELS}

    return gene_level_eval
