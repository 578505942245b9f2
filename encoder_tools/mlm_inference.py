"""A trained masked LM as the zero-shot tools use it: DNA -> tokens with nucleotide spans -> log-probabilities.

`score-variants` and `dependency-map` need the same three things from an MLM, whatever its tokenizer: the token
ids of a DNA string together with the nucleotide span of each token (to find the token that holds a base), the
[MASK] id, and batched log-softmax outputs of padded rows. `MaskedLMScorer` gives exactly those, so the
scoring code never looks at the tokenizer kind. The ids are the ones the model was trained on, from
processing_encoder.EncoderInputs (characters; codons from the window's first base; [CLS] BPE [SEP] with the
folder's `dna_tokenizer/`); the spans follow from k for characters and codons, and from the BPE offsets.
"""

from __future__ import annotations

import os

import torch

from ..formats.errors import GeneFinderInputError
from .encoder_inference import read_config_json, resolve_device

NUCLEOTIDES = "ACGT"
Spans = list[tuple[int, int]]  # [start, end) of each token in the sequence; (0, 0) for special tokens


class MaskedLMScorer:
    """A masked LM (`forward(input_ids, attention_mask).logits`, (B, L, V)) and its inputs, in eval mode."""

    def __init__(self, model, bpe_tokenizer=None, device: str = "cpu"):
        from ..tokenization.processing_encoder import EncoderInputs

        config = model.config
        self.model, self.device = model.eval().to(device), device
        self.inputs = EncoderInputs(config, bpe_tokenizer)
        self.encoder_type, self.kmer = config.encoder_type, config.kmer
        self.mask_token_id, self.pad_token_id = self.inputs.mask_id, self.inputs.pad_id
        self.single_nucleotide = self.encoder_type == "aido" and self.kmer == 1
        self.default_window = self.inputs.max_nucleotides  # the trained context, in nucleotides
        self.description = (f"encoder_type='aido', kmer={self.kmer}" if self.encoder_type == "aido"
                            else "encoder_type='dnabert2' (BPE)")

    @classmethod
    def from_folder(cls, path: str, device: str = "auto") -> MaskedLMScorer:
        """Load a saved `GeneFinderForMaskedLM` folder (config.json, model.safetensors, dna_tokenizer/ for BPE)."""
        from ..models.configuration_encoders import GeneFinderEncoderConfig
        from ..models.modeling_genefinder_encoder import GeneFinderForMaskedLM
        from ..tokenization.tokenization_dna import load_dnabert2_tokenizer

        model_type = read_config_json(path).get("model_type")
        if model_type != GeneFinderEncoderConfig.model_type:
            raise GeneFinderInputError(f"config.json is for a {model_type!r} model, not a masked LM "
                                       f"({GeneFinderEncoderConfig.model_type!r}, train.py stage mlm)", path)
        try:
            model, info = GeneFinderForMaskedLM.from_pretrained(path, output_loading_info=True)
            bpe = (load_dnabert2_tokenizer(os.path.join(path, "dna_tokenizer"))
                   if model.config.encoder_type == "dnabert2" else None)
        except (OSError, ValueError) as err:
            raise GeneFinderInputError(f"cannot load the masked LM: {str(err).splitlines()[0]}", path) from None
        if info["missing_keys"]:
            raise GeneFinderInputError(f"the weights lack {len(info['missing_keys'])} tensors of a masked LM (e.g. "
                                       f"{sorted(info['missing_keys'])[0]}): is this an encoder without MLM head?",
                                       path)
        return cls(model, bpe, str(resolve_device(device)))

    def encode(self, seq: str) -> tuple[list[int], Spans]:
        """Token ids of `seq` as the model was trained on them (`EncoderInputs`) and each token's nucleotide span."""
        ids = self.inputs.encode(seq).tolist()
        if self.encoder_type == "dnabert2":
            from ..tokenization.tokenization_dna import encode_bpe

            spans = [(0, 0), *map(tuple, encode_bpe(self.inputs.bpe, seq)["offset_mapping"]), (0, 0)]  # [CLS] [SEP]
        else:
            spans = [(self.kmer * t, min(self.kmer * (t + 1), len(seq))) for t in range(len(ids))]
        return ids, spans

    def base_ids(self) -> list[int]:
        """Token ids of A, C, G, T for single-nucleotide models."""
        return [self.inputs.chars.convert_tokens_to_ids(b) for b in NUCLEOTIDES]

    @torch.inference_mode()
    def log_probs(self, rows: list[tuple[int, ...]]) -> torch.Tensor:
        """Log-softmax over the vocabulary for rows of token ids, right-padded into one batch: (B, L, V) float32."""
        length = max(len(r) for r in rows)
        ids = torch.full((len(rows), length), self.pad_token_id, dtype=torch.long)  # (B, L)
        mask = torch.zeros((len(rows), length), dtype=torch.long)  # (B, L)
        for b, row in enumerate(rows):
            ids[b, :len(row)] = torch.as_tensor(row)
            mask[b, :len(row)] = 1
        logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits  # (B, L, V)
        return torch.log_softmax(logits.float(), dim=-1).cpu()

