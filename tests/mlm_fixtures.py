"""Tiny seeded masked LMs for the zero-shot tools' tests, saved to a folder as a trained one would be.

No trained MLM exists in the repository, so the tests use randomly initialised ones. `initializer_range=0.3`
(instead of 0.02) makes the random model's predictions depend visibly on its input, so the invariants tested
(sign flips, batching, the naive loop) compare numbers far from 0.
"""

from __future__ import annotations

import shutil

import torch

from genefinder.encoder_tools.mlm_inference import MaskedLMScorer
from genefinder.models.configuration_encoders import GeneFinderEncoderConfig
from genefinder.models.modeling_genefinder_encoder import GeneFinderForMaskedLM

from real_data import reference


def tiny_mlm_folder(path, encoder_type: str = "aido", kmer: int = 1, seed: int = 0):
    """Save a 2-layer, 32-wide random GeneFinderForMaskedLM (and the BPE tokenizer for dnabert2) to `path`."""
    extra = {"kmer": kmer} if encoder_type == "aido" else {"vocab_size": 4096}
    config = GeneFinderEncoderConfig(encoder_type=encoder_type, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, initializer_range=0.3,
                                     max_position_embeddings=256, hidden_dropout_prob=0.0, **extra)
    torch.manual_seed(seed)
    GeneFinderForMaskedLM(config).save_pretrained(path)
    if encoder_type == "dnabert2":
        (path / "dna_tokenizer").mkdir()
        shutil.copy(reference("dnabert2", "tokenizer.json"), path / "dna_tokenizer" / "tokenizer.json")
    return path


def tiny_scorer(tmp_path, encoder_type: str = "aido", kmer: int = 1) -> MaskedLMScorer:
    torch.set_num_threads(1)
    return MaskedLMScorer.from_folder(str(tiny_mlm_folder(tmp_path / f"mlm-{encoder_type}-{kmer}", encoder_type,
                                                          kmer)), "cpu")
