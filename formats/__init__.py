"""File formats and plain data types: FASTA, GFF3, VCF, gene features, windows, project errors, atomic output."""
