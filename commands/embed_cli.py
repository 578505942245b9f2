"""`genefinder embed SEQS.fa -o emb.parquet`: one mean-pooled embedding per FASTA record (encoder_inference.py).

The Parquet file has columns `id` (record name), `length` (nt) and `embedding` (list<float32>); it is written to a
temporary file beside the output and renamed, so an interrupted run leaves no partial file.
"""

from __future__ import annotations

import argparse

from ..formats.atomic_output import atomic_path
from ..formats.errors import GeneFinderInputError


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags `embed` and `classify` share."""
    parser.add_argument("fasta", help="sequences (FASTA, plain or .gz); one result per record")
    parser.add_argument("-o", "--output", required=True, help="output file")
    parser.add_argument("--model", required=True, help="model folder: an mlm / classification checkpoint of "
                        "train.py, or a gene-finder folder (its encoder is used)")
    parser.add_argument("--batch-size", type=int, default=16, help="chunks per forward pass (default 16)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def embed_fasta(args):
    """(records, embeddings (N, E), model) for the shared flags."""
    import torch

    from ..encoder_tools.encoder_inference import embed_records, load_encoder_model, read_records, resolve_device

    if args.batch_size < 1:
        raise GeneFinderInputError(f"--batch-size must be at least 1, got {args.batch_size}")
    torch.set_grad_enabled(False)
    device = resolve_device(args.device)
    model, processor, encoder = load_encoder_model(args.model, device)
    records = list(read_records(args.fasta))
    return records, embed_records(records, encoder, processor, device, args.batch_size), model


def run(args) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records, embeddings, _ = embed_fasta(args)
    table = pa.table({"id": [name for name, _ in records], "length": [len(seq) for _, seq in records],
                      "embedding": pa.array(embeddings.tolist(), type=pa.list_(pa.float32()))})
    with atomic_path(args.output) as tmp:
        pq.write_table(table, tmp)
    print(f"wrote {len(records)} embeddings of width {embeddings.size(1)} to {args.output}")
