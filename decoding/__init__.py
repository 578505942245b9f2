"""From per-nucleotide scores to genes: the gene grammar, ORF decoding, strands, genetic codes, coding frames and the gene-structure Viterbi."""
