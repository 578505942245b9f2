"""Tokenizers and processors for DNA input: the BPE DNA tokenizer and the encoder's processor."""
