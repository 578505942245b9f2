"""genefinder: DNA in, GFF3 gene annotations out, with an encoder-decoder transformer.

The repository root is this package (see pyproject.toml): the Hub entry points (configuration_genefinder,
modeling_genefinder, tokenization_gff, pipeline_genefinder, processing_genefinder) at the top level, the
modules they build on in folders by concern. A model folder carries them flat as `trust_remote_code` files
(hub/remote_code.py).
"""

__version__ = "0.1.0"
