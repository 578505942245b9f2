"""The part of a model folder that network-free ORF decoding reads: its config and its start scorer, nothing else.

`genefinder annotate`'s default (ORF decoding with `head_weight` 0, annotation.py) never runs the encoder or the
decoder: it weighs ORFs by the input's own hexamer statistics, a length prior and the start scorer. Loading the
whole model for it would cost a large part of the work on a bacterial genome, mostly in importing the network's
code (transformers). `NetworkFreeModel` reads
config.json and the `start_scorer.*` tensors of model.safetensors alone (and holds the folder's coding library,
coding_library.py), and stands in for the model wherever the annotator reads it; anything that needs the network
(the coding-frame head, generation) loads the full model.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

from safetensors import safe_open
from torch import nn

from ..prokaryotes.coding_library import CodingLibrary
from ..prokaryotes.start_sites import StartSiteScorer

PREFIX = "start_scorer."  # the scorer's tensors in model.safetensors (GeneFinderForConditionalGeneration.start_scorer)
MODEL_TYPE = "genefinder"  # GeneFinderConfig.model_type, read here without importing transformers (a test ties them)


def decodes_network_free(config: dict) -> bool:
    """Whether a model of this config.json (as a dict) can be annotated network-free: it has the coding-frame head
    that makes ORF decoding its automatic choice (annotation.GeneFinderAnnotator) and a fitted start scorer."""
    return (config.get("coding_frame_loss_coef") or 0) > 0 and bool(config.get("start_site_context"))


class NetworkFreeModel(nn.Module):
    """A model folder's config (attribute access, as on a `GeneFinderConfig`), fitted start scorer and coding library
    (`annotate_cli.load_model` sets it: None if the folder has none)."""

    def __init__(self, config: SimpleNamespace, start_scorer: StartSiteScorer,
                 coding_library: CodingLibrary | None = None):
        super().__init__()
        self.config = config
        self.start_scorer = start_scorer
        self.coding_library = coding_library

    @classmethod
    def from_folder(cls, path: str, config: dict) -> "NetworkFreeModel":
        """The start scorer of the model folder `path`, whose config.json reads `config` (`decodes_network_free`)."""
        namespace = SimpleNamespace(**config)
        scorer = StartSiteScorer.from_config(namespace)
        with safe_open(os.path.join(path, "model.safetensors"), framework="pt") as weights:
            state = {k[len(PREFIX):]: weights.get_tensor(k) for k in weights.keys() if k.startswith(PREFIX)}
        scorer.load_state_dict(state)  # strict: a missing or misshapen tensor is an error, never a blank scorer
        return cls(namespace, scorer)


def read_config(path: str) -> dict:
    """A model folder's config.json as a dict."""
    with open(os.path.join(path, "config.json"), encoding="utf-8") as fh:
        return json.load(fh)
