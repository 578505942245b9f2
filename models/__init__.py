"""Network configurations and modules: encoders, rotary embeddings, the encoder-only gene finder, the network-free model and the eukaryotic gene-structure network."""
