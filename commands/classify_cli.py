"""`genefinder classify --model M SEQS.fa -o preds.tsv`: a trained sequence classifier on every FASTA record.

Writes a TSV with columns `id`, `label` (the most probable class) and one `p_<class>` column per class. A record
longer than the model's context is classified from the length-weighted mean of its chunk embeddings
(encoder_inference.py), the same pooled vector `genefinder embed` writes.
"""

from __future__ import annotations

import argparse

from ..encoder_tools.encoder_inference import read_config_json
from ..formats.atomic_output import atomic_path
from ..formats.errors import GeneFinderInputError
from .embed_cli import add_model_arguments, embed_fasta


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def run(args) -> None:
    import torch

    if "GeneFinderForSequenceClassification" not in (read_config_json(args.model).get("architectures") or []):
        raise GeneFinderInputError("not a sequence classifier (train one with stage: classification)", args.model)
    records, embeddings, model = embed_fasta(args)
    probs = torch.softmax(model.classifier(embeddings.to(model.device)).float(), dim=-1).cpu()
    names = [model.config.id2label[i] for i in range(probs.size(1))]

    with atomic_path(args.output) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\t".join(["id", "label", *(f"p_{n}" for n in names)]) + "\n")
        for (rid, _), p in zip(records, probs):
            fh.write("\t".join([rid, names[int(p.argmax())], *(f"{v:.6f}" for v in p.tolist())]) + "\n")
    print(f"classified {len(records)} records into {args.output}")
