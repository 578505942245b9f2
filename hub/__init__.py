"""Hugging Face Hub folders: export of a model folder with its flat remote-code files, and push."""
