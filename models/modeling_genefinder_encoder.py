"""The DNA encoder on its own: masked-LM pre-training, sequence classification and embeddings.

The same encoders the gene finder uses (modeling_encoders.py: DNABERT-2 or AIDO.DNA, chosen by
`config.encoder_type`), with BERT-style heads on top:

- `GeneFinderEncoderModel`: the bare encoder -> `BaseModelOutput` (AutoModel).
- `GeneFinderForMaskedLM`: encoder + MLM head tied to the word embeddings -> `MaskedLMOutput` (AutoModelForMaskedLM).
  The encoder is stored as `bert` and the head as `cls`, so the state_dict has exactly the upstream DNABERT-2 /
  AIDO.DNA key names (`bert.encoder.layer.0...`, `cls.predictions...`): upstream checkpoints load with
  `from_pretrained`, and our checkpoints read as theirs.
- `GeneFinderForSequenceClassification`: encoder + mean pooling + dropout + linear -> `SequenceClassifierOutput`.
  Mean pooling over the attention mask rather than the [CLS] state: the single-nucleotide and codon encoders have
  no [CLS] at all (processing_encoder.py), and a mean reads every position of the sequence alike.

Every model has `embed(input_ids, attention_mask) -> (B, E)`, the masked mean of the last hidden states
(`mean_pool`), which `genefinder embed` writes out. Inputs come from processing_encoder.EncoderInputs.

`save_pretrained` also writes this file and what it imports, flat, into the folder (hub/remote_code.py;
config.json's `auto_map`, set by GeneFinderEncoderConfig, points at them), so
`AutoModelForMaskedLM.from_pretrained(folder, trust_remote_code=True)` works where genefinder is not installed.

Shape legend: B batch, L tokens, E hidden size, V vocabulary, C classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput

from .configuration_encoders import GeneFinderEncoderConfig
from .modeling_encoders import build_encoder, build_mlm_head, init_encoder_weights


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """(B, L, E) states, (B, L) mask (1 = token) -> (B, E) mean over the real tokens; padding never counts."""
    if attention_mask is None:
        return hidden_states.mean(dim=1)
    weights = attention_mask.to(hidden_states.dtype).unsqueeze(-1)  # (B, L, 1)
    return (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class GeneFinderEncoderPreTrainedModel(PreTrainedModel):
    """Shared base: config class, BERT-style init of the encoder modules, the `bert` prefix, code saving."""

    config_class = GeneFinderEncoderConfig
    base_model_prefix = "bert"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["DNABert2Layer", "AidoLayer"]

    @torch.no_grad()
    def _init_weights(self, module):
        init_encoder_weights(module, self.config.initializer_range)

    def embed(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean-pooled last hidden states, (B, E): one vector per sequence."""
        return mean_pool(self.bert(input_ids, attention_mask=attention_mask), attention_mask)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Also writes, flat, this module and the files it imports, which config.json's `auto_map` names."""
        super().save_pretrained(save_directory, *args, **kwargs)
        from ..hub.remote_code import ENCODER_FILES, write_remote_code

        write_remote_code(save_directory, ENCODER_FILES)


class GeneFinderEncoderModel(GeneFinderEncoderPreTrainedModel):
    """The bare encoder: `forward(input_ids, attention_mask) -> BaseModelOutput(last_hidden_state (B, L, E))`."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__(config)
        self.bert = build_encoder(config)
        self.post_init()

    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None,
                **kwargs) -> BaseModelOutput:
        return BaseModelOutput(last_hidden_state=self.bert(input_ids, attention_mask=attention_mask))


class GeneFinderForMaskedLM(GeneFinderEncoderPreTrainedModel):
    """Encoder + MLM head; `labels` (B, L) hold the original ids at masked positions and -100 elsewhere."""

    _tied_weights_keys = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__(config)
        self.bert = build_encoder(config)
        self.cls = build_mlm_head(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.embeddings.word_embeddings

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None,
                labels: torch.LongTensor | None = None, **kwargs) -> MaskedLMOutput:
        hidden_states = self.bert(input_ids, attention_mask=attention_mask)  # (B, L, E)
        logits = self.cls(hidden_states)  # (B, L, V)
        loss = None
        if labels is not None:  # mean over the masked positions; -100 elsewhere
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=logits)


class GeneFinderForSequenceClassification(GeneFinderEncoderPreTrainedModel):
    """Encoder + mean pooling + dropout + linear to `config.num_labels`; `labels` (B,) are class indices."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__(config)
        self.bert = build_encoder(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None,
                labels: torch.LongTensor | None = None, **kwargs) -> SequenceClassifierOutput:
        pooled = self.embed(input_ids, attention_mask)  # (B, E)
        logits = self.classifier(self.dropout(pooled))  # (B, C)
        loss = None if labels is None else F.cross_entropy(logits.float(), labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)
