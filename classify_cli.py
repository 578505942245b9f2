"""`genefinder classify --model M SEQS.fa -o preds.tsv`: a trained sequence classifier on every FASTA record.

Writes a TSV with columns `id`, `label` (the most probable class) and one `p_<class>` column per class. A record
longer than the model's context is classified from the length-weighted mean of its chunk embeddings
(encoder_inference.py), the same pooled vector `genefinder embed` writes.
"""

from __future__ import annotations

import argparse

from .embed_cli import add_model_arguments, embed_fasta, write_atomically
from .errors import GeneFinderInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def run(args) -> None:
    import torch

    records, embeddings, model = embed_fasta(args)
    if not hasattr(model, "classifier"):
        raise GeneFinderInputError("not a sequence classifier (train one with stage: classification)", args.model)
    probs = torch.softmax(model.classifier(embeddings.to(model.device)).float(), dim=-1).cpu()
    names = [model.config.id2label[i] for i in range(probs.size(1))]

    def write(path):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\t".join(["id", "label", *(f"p_{n}" for n in names)]) + "\n")
            for (rid, _), p in zip(records, probs):
                fh.write("\t".join([rid, names[int(p.argmax())], *(f"{v:.6f}" for v in p.tolist())]) + "\n")

    write_atomically(args.output, write)
    print(f"classified {len(records)} records into {args.output}")
