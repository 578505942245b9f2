"""Scripts that build training material from genomes: tokenizers, windowed datasets."""
