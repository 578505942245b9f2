"""DNA sequences -> the tensors an encoder-only model takes (masked LM, classification, embeddings).

One processor for train.py's `mlm` and `classification` stages, `genefinder embed` / `classify` and the Hub
models, so they all feed an encoder alike. What the ids are depends on the encoder's config:

- `aido`, `kmer=1`: AIDO.DNA character ids, no [CLS]/[SEP]. These are exactly the ids the gene finder's encoder
  reads (processing_genefinder.GeneFinderInputs), so an encoder pre-trained here drops into the seq2seq model
  unchanged, and mean pooling has no special token to average in.
- `aido`, `kmer=3`: codon ids (tokenization_dna.DNAKmerTokenizer), no [CLS]/[SEP]; the caller sets the frame.
- `dnabert2`: BPE ids wrapped as [CLS] ... [SEP], as DNABERT-2 was pre-trained (its own mean pooling includes
  both; so does ours).

`mask_tokens` is BERT's masking (Devlin et al. 2019): a fraction of the maskable tokens become targets; of those
80% are replaced by [MASK], 10% by a random sequence token and 10% left as they are. It draws from the
`torch.Generator` it is given and never from global RNG, so a resumed training run masks as the straight run did.
"""

from __future__ import annotations

import torch

from ..models.configuration_encoders import GeneFinderEncoderConfig
from ..processing_genefinder import _pad
from .tokenization_dna import DNACharTokenizer, DNAKmerTokenizer, encode_bpe

BPE_NUCLEOTIDES_PER_TOKEN = 4  # DNABERT-2's BPE averages ~4-5 nt per token; the lower value keeps chunks in range


class EncoderInputs:
    """Callable that batches sequences: `inputs(["ACGT...", ...])` -> {"input_ids", "attention_mask"} (B, L)."""

    def __init__(self, config: GeneFinderEncoderConfig, bpe_tokenizer=None):
        if config.encoder_type == "dnabert2" and bpe_tokenizer is None:
            raise ValueError("`bpe_tokenizer` is required for encoder_type='dnabert2' (load_dnabert2_tokenizer)")
        self.config, self.bpe = config, bpe_tokenizer
        if config.encoder_type == "dnabert2":
            self.pad_id, self.mask_id = bpe_tokenizer.pad_token_id, bpe_tokenizer.mask_token_id
            self.special_ids = sorted(bpe_tokenizer.all_special_ids)
            self.sequence_ids = (max(self.special_ids) + 1, len(bpe_tokenizer))  # [low, high) of real BPE tokens
            self.max_nucleotides = (config.max_position_embeddings - 2) * BPE_NUCLEOTIDES_PER_TOKEN
        else:
            self.chars = DNAKmerTokenizer() if config.kmer == 3 else DNACharTokenizer(add_cls_sep=False)
            self.pad_id, self.mask_id = self.chars.pad_token_id, self.chars.mask_token_id
            self.special_ids = sorted(self.chars.all_special_ids)
            low = max(self.special_ids) + 1
            # character ids A G C T (U and N are not drawn as random replacements); all 64 codons for kmer=3
            self.sequence_ids = (low, low + (64 if config.kmer == 3 else 4))
            self.max_nucleotides = config.max_position_embeddings * config.kmer

    def encode(self, dna: str) -> torch.Tensor:
        """Ids of one sequence, (L,) int64, with the special tokens this encoder expects."""
        if self.bpe is None:
            return self.chars.encode_dna(dna, add_special_tokens=False)
        ids = encode_bpe(self.bpe, dna)["input_ids"]
        return torch.tensor([self.bpe.cls_token_id, *ids, self.bpe.sep_token_id], dtype=torch.long)

    def __call__(self, dnas: list[str]) -> dict[str, torch.Tensor]:
        ids = [self.encode(d) for d in dnas]
        return {"input_ids": _pad(ids, self.pad_id), "attention_mask": _pad([torch.ones_like(i) for i in ids], 0)}

    def maskable(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, L) bool: real sequence tokens (not padding, [CLS], [SEP], [UNK]): what MLM may choose as targets."""
        special = torch.isin(input_ids, torch.tensor(self.special_ids, device=input_ids.device))
        return attention_mask.bool() & ~special

    def mask_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, probability: float,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """BERT masking -> (masked input_ids, labels with -100 where no prediction is asked), both (B, L)."""
        shape = input_ids.shape
        chosen = (torch.rand(shape, generator=generator) < probability) & self.maskable(input_ids, attention_mask)
        action = torch.rand(shape, generator=generator)  # < 0.8: [MASK]; 0.8..0.9: random token; >= 0.9: kept
        random_ids = torch.randint(*self.sequence_ids, shape, generator=generator)
        masked = torch.where(chosen & (action < 0.8), torch.full_like(input_ids, self.mask_id), input_ids)
        masked = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, masked)
        labels = input_ids.masked_fill(~chosen, -100)
        return masked, labels
