"""genefinder: DNA in, GFF3 gene annotations out, with an encoder-decoder transformer.

The repository root is this package (see pyproject.toml), so the Hub files at the top level import each
other relatively and work both installed and as `trust_remote_code` files inside a model folder.
"""

__version__ = "0.1.0"
