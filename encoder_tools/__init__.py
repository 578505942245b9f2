"""Uses of a trained DNA encoder: embeddings, masked-LM inference, variant scoring and dependency maps."""
