"""Evaluation against reference annotations: gene and nucleotide scores, error analysis and machine info."""
