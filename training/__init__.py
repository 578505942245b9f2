"""Training: configs, recipes, tasks, monitoring, gene-level evaluation during training and gene-structure data."""
