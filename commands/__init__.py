"""Subcommands of the `genefinder` CLI: annotate, embed and classify."""
