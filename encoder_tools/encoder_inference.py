"""Mean-pooled embeddings of FASTA records with any genefinder encoder: what `genefinder embed` and `classify` run.

`load_encoder_model(folder)` accepts an encoder-only folder (GeneFinderForMaskedLM or ...ForSequenceClassification,
e.g. a train.py `mlm` / `classification` checkpoint) or a gene-finder folder (GeneFinderForConditionalGeneration:
its DNA encoder is used). Inputs come from processing_encoder.EncoderInputs, the processor training used; a BPE
model reads its vocabulary from `FOLDER/dna_tokenizer/` (train.py writes it there).

A record longer than the processor's `max_nucleotides` (the encoder's `max_position_embeddings` in tokens, as
nucleotides) is cut into consecutive chunks of at most that length; each chunk is mean-pooled on its own and the
record's embedding is the mean of its chunks weighted by their length in nucleotides, so every nucleotide weighs
alike and memory stays bounded. Chunks of all records are batched together (`batch_size` chunks per forward).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from ..formats.errors import GeneFinderInputError
from ..formats.fasta import FastaFile
from ..models.modeling_genefinder_encoder import mean_pool
from ..tokenization.processing_encoder import EncoderInputs


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GeneFinderInputError("--device cuda, but no CUDA GPU is available")
    return torch.device(name)


def read_config_json(folder: str | Path) -> dict:
    """A model folder's config.json as a dict, or a one-line error when the folder has none."""
    config_file = Path(folder) / "config.json"
    if not config_file.is_file():
        raise GeneFinderInputError("no config.json here: not a model folder (a train.py checkpoint or an export)",
                                   str(folder))
    return json.loads(config_file.read_text(encoding="utf-8"))


def load_encoder_model(folder: str | Path, device: torch.device):
    """(model in eval mode, its EncoderInputs, the encoder module (input_ids, mask) -> (B, L, E))."""
    folder = Path(folder)
    saved = read_config_json(folder)
    model_type = saved.get("model_type")
    if model_type == "genefinder":
        from ..modeling_genefinder import GeneFinderForConditionalGeneration

        model = GeneFinderForConditionalGeneration.from_pretrained(folder)
        encoder_config, encoder = model.config.encoder_config, model.encoder.dna
    elif model_type == "genefinder_encoder":
        from ..models.modeling_genefinder_encoder import GeneFinderEncoderModel, GeneFinderForSequenceClassification

        architectures = saved.get("architectures") or []
        cls = GeneFinderForSequenceClassification if "GeneFinderForSequenceClassification" in architectures \
            else GeneFinderEncoderModel
        # An MLM folder loaded as the bare encoder drops its head on purpose: keep transformers' load report (a
        # table of "UNEXPECTED" keys) off the terminal, and fail in one line only if encoder weights are missing.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            model, info = cls.from_pretrained(folder, output_loading_info=True)
        finally:
            hf_logging.set_verbosity(verbosity)
        if info["missing_keys"]:
            raise GeneFinderInputError(f"the weights lack {len(info['missing_keys'])} tensors of this model (e.g. "
                                       f"{sorted(info['missing_keys'])[0]})", str(folder))
        encoder_config, encoder = model.config, model.bert
    else:
        raise GeneFinderInputError(f"config.json has model_type {model_type!r}; expected a genefinder model",
                                   str(folder / "config.json"))
    bpe = None
    if encoder_config.encoder_type == "dnabert2":
        from ..tokenization.tokenization_dna import load_dnabert2_tokenizer

        if not (folder / "dna_tokenizer").is_dir():
            raise GeneFinderInputError("a dnabert2 model needs its BPE vocabulary in dna_tokenizer/", str(folder))
        bpe = load_dnabert2_tokenizer(folder / "dna_tokenizer")
    return model.to(device).eval(), EncoderInputs(encoder_config, bpe), encoder


def read_records(path: str) -> Iterator[tuple[str, str]]:
    """(id, sequence) of every record of a FASTA file (validated by FastaFile: file:line errors, gzip, IUPAC)."""
    fa = FastaFile(path)
    for name in fa.names:
        yield name, fa.fetch(name, 0, fa.length(name))


@torch.no_grad()
def embed_records(records: list[tuple[str, str]], encoder, processor: EncoderInputs, device: torch.device,
                  batch_size: int = 16, progress: bool = True) -> torch.Tensor:
    """(records, E) float32: the length-weighted mean of each record's chunk embeddings."""
    from tqdm.auto import tqdm

    step = processor.max_nucleotides
    chunks = [(r, seq[a:a + step]) for r, (_, seq) in enumerate(records) for a in range(0, len(seq), step)]
    sums, weights = None, torch.zeros(len(records), dtype=torch.float64)
    total = sum(len(seq) for _, seq in records)
    with tqdm(total=total, unit="nt", unit_scale=True, file=sys.stderr, disable=not progress, desc="embed") as bar:
        for i in range(0, len(chunks), batch_size):
            part = chunks[i:i + batch_size]
            batch = {k: v.to(device) for k, v in processor([dna for _, dna in part]).items()}
            pooled = mean_pool(encoder(batch["input_ids"], attention_mask=batch["attention_mask"]),
                               batch["attention_mask"]).double().cpu()  # (b, E)
            if sums is None:
                sums = torch.zeros(len(records), pooled.size(1), dtype=torch.float64)
            rows = torch.tensor([r for r, _ in part])
            lengths = torch.tensor([len(dna) for _, dna in part], dtype=torch.float64)
            sums.index_add_(0, rows, pooled * lengths[:, None])
            weights.index_add_(0, rows, lengths)
            bar.update(int(lengths.sum()))
    return (sums / weights[:, None]).float()
