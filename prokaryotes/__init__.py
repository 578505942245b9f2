"""Network-free prokaryotic gene finding: self-training, coding libraries, start sites and genetic-code choice."""
