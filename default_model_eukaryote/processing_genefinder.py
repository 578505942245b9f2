"""DNA windows (and their GFF targets) -> the tensors `GeneFinderForConditionalGeneration` takes.

One function for training, `generate`, the CLI and the Hub pipeline, so they all feed the model alike:

- single-nucleotide encoders (`aido`): `input_ids` are AIDO.DNA character ids of the window, no [CLS]/[SEP]
  (nucleotide i is token i, which is what the pointer keys assume by default);
- BPE encoders (`dnabert2`): `input_ids` are DNABERT-2 ids with [CLS] ... [SEP] as it was pre-trained, and
  `nucleotide_ids` / `nucleotide_to_token` / `nucleotide_offset` say which token holds each nucleotide.

Labels are the GFF token ids padded with -100 (ignored by the loss).
"""

from __future__ import annotations

import torch

from .tokenization_dna import DNACharTokenizer, encode_bpe


class GeneFinderInputs:
    """Callable that batches windows: `inputs(["ACGT...", ...], target_ids=[[...], ...])` -> dict of tensors."""

    def __init__(self, encoder_type: str, bpe_tokenizer=None):
        if encoder_type not in ("aido", "dnabert2"):
            raise ValueError(f"`encoder_type` must be 'aido' or 'dnabert2', got {encoder_type!r}")
        if encoder_type == "dnabert2" and bpe_tokenizer is None:
            raise ValueError("`bpe_tokenizer` is required for encoder_type='dnabert2' (load_dnabert2_tokenizer)")
        self.encoder_type, self.bpe = encoder_type, bpe_tokenizer
        self.chars = DNACharTokenizer(add_cls_sep=False)

    def __call__(self, dnas: list[str], target_ids: list[list[int]] | None = None) -> dict[str, torch.Tensor]:
        nucleotides = [self.chars.encode_dna(d, add_special_tokens=False) for d in dnas]
        batch = {}
        if self.encoder_type == "aido":
            batch["input_ids"] = _pad(nucleotides, 0)
            batch["attention_mask"] = (batch["input_ids"] != 0).long()
        else:
            ids, to_token, offset = zip(*(self._bpe_window(d) for d in dnas))
            batch["input_ids"] = _pad(ids, self.bpe.pad_token_id)
            batch["attention_mask"] = _pad([torch.ones_like(i) for i in ids], 0)
            batch["nucleotide_ids"] = _pad(nucleotides, 0)
            batch["nucleotide_to_token"] = _pad(to_token, 0)
            batch["nucleotide_offset"] = _pad(offset, 0)
        if target_ids is not None:
            batch["labels"] = _pad([torch.as_tensor(t, dtype=torch.long) for t in target_ids], -100)
        return batch

    def _bpe_window(self, dna: str):
        enc = encode_bpe(self.bpe, dna, add_special_tokens=False)
        spans = torch.tensor(enc["offset_mapping"], dtype=torch.long).view(-1, 2)  # (L, 2) [start, end)
        widths = spans[:, 1] - spans[:, 0]
        token = torch.repeat_interleave(torch.arange(len(spans)), widths) + 1  # +1: [CLS] comes first
        offset = torch.arange(len(dna)) - torch.repeat_interleave(spans[:, 0], widths)
        ids = torch.tensor([self.bpe.cls_token_id, *enc["input_ids"], self.bpe.sep_token_id])
        return ids, token, offset


def _pad(rows, value: int) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence([torch.as_tensor(r) for r in rows], batch_first=True, padding_value=value)
