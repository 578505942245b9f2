"""Genome annotation drivers: whole genomes and regions in, genes out."""
