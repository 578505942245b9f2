"""What differs between train.py's stages, one small object per stage; the training loop itself is shared.

A task knows four things: which model its config's `model` section builds, which dataset columns it reads,
how rows of a split become a micro-batch, and what its evaluation reports.

- `seq2seq`: DNA window -> GFF tokens (`GeneFinderForConditionalGeneration`); loss units are GFF tokens.
- `decoder-lm`: the same model with the encoder frozen and fed all-N windows (train.py's docstring says why).
- `mlm`: masked-LM pre-training of the encoder alone (`GeneFinderForMaskedLM`) on any dataset with a `dna`
  column; loss units are masked tokens.
- `classification`: `GeneFinderForSequenceClassification` on a `genefinder build-classification-dataset` folder
  (`dna`, `label`); loss units are sequences; evaluation adds accuracy and the Matthews correlation (MCC).

Randomness in a batch (which tokens MLM masks, whether a sequence is reverse-complemented) is drawn from a
`torch.Generator` seeded by (seed, step, the row's position in the step's global batch), never from global RNG:
a resumed run draws what the straight run drew, and the draws do not depend on how many processes share the
step. Evaluation uses step 0, which training never has, so the validation masks are the same at every eval.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..formats.windows import reverse_complement
from ..modeling_genefinder import GeneFinderEncoderOutput
from ..processing_genefinder import _pad
from .training_recipe import SampleStream, WeightedSampleStream


def row_generator(seed: int, step: int, position: int) -> torch.Generator:
    """The generator of one row of one step: a pure function of (seed, step, position in the global batch)."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1_000_003 + position) % 2**63)


def matthews_corrcoef(confusion: torch.Tensor) -> float:
    """Multi-class MCC (Gorodkin 2004) from a (C, C) confusion matrix, rows = truth; 0 when undefined."""
    c = confusion.double()
    total, correct = c.sum(), c.trace()
    truth, predicted = c.sum(1), c.sum(0)
    numerator = correct * total - (truth * predicted).sum()
    denominator = torch.sqrt((total**2 - (predicted**2).sum()) * (total**2 - (truth**2).sum()))
    return float(numerator / denominator) if denominator > 0 else 0.0


def _lengths(split) -> list[int]:
    import pyarrow.compute as pc

    if "length" in split.column_names:
        return split.data.column("length").to_pylist()
    return pc.utf8_length(split.data.column("dna")).to_pylist()


# ------------------------------------------------------------------------------------------------ seq2seq

class WindowBatches:
    """Rows of one split -> model inputs (GeneFinderInputs does the encoding); with `coding_frames`, also each
    nucleotide's coding-frame class (`coding_labels`, from the `features` column) for the auxiliary head."""

    def __init__(self, split, processor, coding_frames: bool = False):
        columns = ["dna", "target_ids", "length", "genetic_code"] + (["features"] if coding_frames else [])
        self.rows = split.select_columns(columns)
        self.processor, self.coding_frames = processor, coding_frames
        # GFF tokens and nucleotides per window, for a step's global counts (every process computes them alike)
        import pyarrow.compute as pc

        self.n_targets = pc.list_value_length(split.data.column("target_ids")).to_pylist()
        self.lengths = split.data.column("length").to_pylist()

    def __len__(self):
        return len(self.n_targets)

    def batch(self, indices: list[int], dna_free: bool = False) -> dict:
        from ..decoding.coding_frames import coding_frame_labels
        from ..formats.features import genes_from_rows

        rows = self.rows[indices]
        dnas = ["N" * n for n in rows["length"]] if dna_free else rows["dna"]
        out = self.processor(dnas, rows["target_ids"])
        out["lengths"] = list(rows["length"])
        if self.coding_frames and not dna_free:
            out["coding_labels"] = _pad([torch.from_numpy(coding_frame_labels(genes_from_rows(f), n))
                                         for f, n in zip(rows["features"], rows["length"])], -100)
        return out


class ConstantEncoder:
    """decoder-lm: the frozen encoder's output for an all-N window, computed once per length, batched by padding."""

    def __init__(self, model, processor):
        self.model, self.processor, self.cache = model, processor, {}

    @torch.no_grad()
    def _one(self, length: int, device):
        if length not in self.cache:
            batch = {k: v.to(device) for k, v in self.processor(["N" * length]).items()}
            was_training = self.model.training
            self.model.eval()
            enc = self.model.get_encoder()(**batch)
            self.model.train(was_training)
            self.cache[length] = (enc.last_hidden_state[0], enc.nucleotide_keys[0], enc.nucleotide_mask[0],
                                  batch["attention_mask"][0])
        return self.cache[length]

    def __call__(self, lengths: list[int], device):
        parts = [self._one(n, device) for n in lengths]
        pad = torch.nn.utils.rnn.pad_sequence
        states, keys, mask, attn = (pad([p[i] for p in parts], batch_first=True) for i in range(4))
        return GeneFinderEncoderOutput(last_hidden_state=states, nucleotide_keys=keys, nucleotide_mask=mask), attn


class Seq2SeqTask:
    """DNA window -> GFF tokens; the loss is the mean over the GFF tokens of the global batch."""

    required_columns = ("dna", "target_ids", "length")
    encoder_prefix = "encoder.dna."  # where init_from_part 'encoder' puts an encoder's weights
    frozen_encoder = False

    def __init__(self, cfg):
        from ..configuration_genefinder import GeneFinderConfig

        self.cfg, self.model_config = cfg, GeneFinderConfig(**cfg.model)
        self.encoder_config = self.model_config.encoder_config
        self.processor, self.constant_encoder = None, None
        self.coding_frames = self.model_config.coding_frame_loss_coef > 0 and not self.frozen_encoder
        if self.coding_frames:
            self.required_columns = (*self.required_columns, "features")

    def set_tokenizer(self, bpe) -> None:
        """The BPE tokenizer (None for single-nucleotide encoders), once train.py has loaded it."""
        from ..processing_genefinder import GeneFinderInputs

        self.processor = GeneFinderInputs(self.encoder_config.encoder_type, bpe)

    def build_model(self, data):
        from ..modeling_genefinder import GeneFinderForConditionalGeneration

        self.model_config.trained_window = max(_lengths(data["train"]))  # annotate's default window
        cfg = self.model_config
        if cfg.coordinate_head == "vocabulary" and cfg.max_coordinates < cfg.trained_window:
            from ..formats.errors import GeneFinderInputError

            raise GeneFinderInputError(f"`model.max_coordinates` ({cfg.max_coordinates}) is shorter than the "
                                       f"dataset's longest window ({cfg.trained_window} nt): a coordinate "
                                       "vocabulary cannot name the positions beyond its rows", self.cfg.dataset)
        model = GeneFinderForConditionalGeneration(self.model_config)
        if self.frozen_encoder:
            model.get_encoder().requires_grad_(False)
            self.constant_encoder = ConstantEncoder(model, self.processor)
        return model

    def rows(self, split) -> WindowBatches:
        return WindowBatches(split, self.processor, self.coding_frames)

    def sampler(self, rows) -> SampleStream:
        return SampleStream(len(rows), self.cfg.seed)

    def batch(self, rows: WindowBatches, indices: list[int], step: int, positions: list[int]) -> dict:
        out = rows.batch(indices, dna_free=self.constant_encoder is not None)
        out["units"] = int((out["labels"] != -100).sum())
        if self.cfg.constrained_loss:
            picked = rows.rows[indices]
            n_positions = (out.get("nucleotide_ids", out["input_ids"])).shape[1]
            out["allowed"] = grammar_allowed(picked["dna"], picked["genetic_code"], out["labels"], n_positions)
        return out

    def forward(self, model, batch: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of the loss over GFF tokens, [tokens, tokens predicted right, coding-frame loss x tokens,
        nucleotides, nucleotides' frame right] as float64) for one micro-batch. The coding-frame loss (zero
        without the head) is a per-nucleotide mean weighted by the GFF tokens, so it keeps its coefficient's
        weight whatever the split into micro-batches; the first element includes it x the coefficient."""
        lengths = batch.pop("lengths")
        batch = {k: v.to(device) for k, v in batch.items() if k != "units"}
        if self.constant_encoder is not None:
            enc, attn = self.constant_encoder(lengths, device)
            out = model(encoder_outputs=enc, attention_mask=attn, labels=batch["labels"])
        else:
            out = model(**{k: v for k, v in batch.items() if k != "allowed"})
        labels, logits, loss, coding_loss = batch["labels"], out.logits, out.loss, out.coding_loss
        coding = torch.zeros(3, dtype=torch.float64, device=labels.device)
        if coding_loss is not None:
            target = batch["coding_labels"]
            known = target != -100
            coding = torch.stack([coding_loss.detach().double(), known.sum().double(),
                                  ((out.coding_logits.argmax(-1) == target) & known).sum().double()])
        if "allowed" in batch:  # the choice annotate's grammar leaves at each step, not the whole vocabulary
            logits = logits.masked_fill(~batch["allowed"], torch.finfo(logits.dtype).min)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100)
            if coding_loss is not None:
                loss = loss + self.model_config.coding_frame_loss_coef * coding_loss
        mask = labels != -100
        n = mask.sum()
        correct = ((logits.argmax(-1) == labels) & mask).sum()
        return loss * n, torch.cat([torch.stack([n, correct]).double(), coding[:1] * n, coding[1:]])

    def eval_metrics(self, totals: torch.Tensor, windows: int) -> dict:
        coding_term = totals[3] / totals[1]
        metrics = {"loss": (totals[0] / totals[1] - self.model_config.coding_frame_loss_coef * coding_term).item(),
                   "token_accuracy": (totals[2] / totals[1]).item(), "windows": windows, "tokens": int(totals[1].item())}
        if totals[4] > 0:
            metrics.update(coding_loss=coding_term.item(), coding_accuracy=(totals[5] / totals[4]).item())
        return metrics


def grammar_allowed(dnas: list[str], genetic_codes: list[int], labels: torch.Tensor, n_positions: int) -> torch.Tensor:
    """(B, T, n_words + n_positions) bool: the tokens annotate's grammar allows at each step of each reference.

    From the first reference token the grammar forbids (a gene under `min_cds_length`, a selenoprotein, a
    frameshift: about 2% of bacterial windows) to the end of that row, every token is allowed, so such
    references still train, unconstrained, rather than giving an infinite loss.
    """
    from ..annotation.annotation import AnnotationSettings
    from ..tokenization_gff import GFFTokenizer

    tok = GFFTokenizer()
    n_words = tok.n_words
    allowed = torch.ones(*labels.shape, n_words + n_positions, dtype=torch.bool)
    for b, (dna, code) in enumerate(zip(dnas, genetic_codes)):
        ids = [t for t in labels[b].tolist() if t != -100]
        grammar = AnnotationSettings(genetic_code=code).grammar(tok, [dna])
        for t, (ok, words, pos) in enumerate(grammar.allowed_along(0, ids)):
            if not ok:
                break
            allowed[b, t] = False
            allowed[b, t, words] = True
            if pos is not None:
                allowed[b, t, n_words:n_words + len(pos)] = torch.from_numpy(pos)
    return allowed


class DecoderLMTask(Seq2SeqTask):
    frozen_encoder = True


# ------------------------------------------------------------------------------------------------ encoder-only

class SequenceRows:
    """Rows of one split with a `dna` column (and `label` for classification), kept as Arrow until a batch asks."""

    def __init__(self, split, columns: list[str]):
        self.rows = split.select_columns(columns)
        self.lengths = _lengths(split)
        self.labels = split.data.column("label").to_pylist() if "label" in columns else None

    def __len__(self):
        return len(self.lengths)


class _EncoderTask:
    """Shared by `mlm` and `classification`: the encoder config, EncoderInputs, reverse-complement augmentation."""

    encoder_prefix = "bert."
    columns = ["dna"]

    def __init__(self, cfg):
        from ..models.configuration_encoders import GeneFinderEncoderConfig

        self.cfg = cfg
        self.model_config = self.encoder_config = GeneFinderEncoderConfig(**cfg.model)
        self.processor = None

    def set_tokenizer(self, bpe) -> None:
        from ..tokenization.processing_encoder import EncoderInputs

        self.processor = EncoderInputs(self.encoder_config, bpe)

    def rows(self, split) -> SequenceRows:
        return SequenceRows(split, self.columns)

    def sampler(self, rows):
        return SampleStream(len(rows), self.cfg.seed)

    def _dnas(self, rows: SequenceRows, indices, generators) -> list[str]:
        dnas = rows.rows[indices]["dna"]
        if not self.cfg.rc_augment:
            return dnas
        flips = [bool(torch.rand((), generator=g) < 0.5) for g in generators]
        return [reverse_complement(d) if flip else d for d, flip in zip(dnas, flips)]


class MaskedLMTask(_EncoderTask):
    """Masked-LM: the loss is the mean over the masked tokens of the global batch (known only after masking)."""

    required_columns = ("dna",)

    def build_model(self, data):
        from ..models.modeling_genefinder_encoder import GeneFinderForMaskedLM

        return GeneFinderForMaskedLM(self.model_config)

    def batch(self, rows: SequenceRows, indices: list[int], step: int, positions: list[int]) -> dict:
        generators = [row_generator(self.cfg.seed, step, p) for p in positions]
        ids, labels = [], []
        for dna, g in zip(self._dnas(rows, indices, generators), generators):
            row = self.processor.encode(dna)[None]  # (1, L): masked alone, so padding never shifts a draw
            masked, target = self.processor.mask_tokens(row, torch.ones_like(row), self.cfg.mlm_probability, g)
            ids.append(masked[0])
            labels.append(target[0])
        return {"input_ids": _pad(ids, self.processor.pad_id), "attention_mask": _pad([torch.ones_like(i) for i in ids], 0),
                "labels": _pad(labels, -100), "units": int(sum((t != -100).sum() for t in labels))}

    def forward(self, model, batch: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
        batch = {k: v.to(device) for k, v in batch.items() if k != "units"}
        out = model(**batch)
        mask = batch["labels"] != -100
        n = mask.sum()
        correct = ((out.logits.argmax(-1) == batch["labels"]) & mask).sum()
        loss = out.loss * n if n > 0 else out.logits.sum() * 0.0  # no masked token: a zero that keeps the graph
        return loss, torch.stack([n, correct]).double()

    def eval_metrics(self, totals: torch.Tensor, windows: int) -> dict:
        n = totals[1].clamp(min=1)
        return {"loss": (totals[0] / n).item(), "token_accuracy": (totals[2] / n).item(), "windows": windows,
                "tokens": int(totals[1].item())}


class ClassificationTask(_EncoderTask):
    """Sequence classification: mean cross-entropy over the sequences of the global batch; accuracy and MCC."""

    required_columns = ("dna", "label")
    columns = ["dna", "label"]

    def __init__(self, cfg):
        super().__init__(cfg)
        self.names: list[str] = []

    def build_model(self, data):
        from ..models.configuration_encoders import GeneFinderEncoderConfig
        from ..models.modeling_genefinder_encoder import GeneFinderForSequenceClassification

        feature = data["train"].features["label"]
        self.names = list(getattr(feature, "names", None) or sorted({str(v) for v in data["train"]["label"]}))
        id2label = dict(enumerate(self.names))
        self.model_config = GeneFinderEncoderConfig(**self.cfg.model, num_labels=len(self.names), id2label=id2label,
                                                    label2id={name: i for i, name in id2label.items()})
        return GeneFinderForSequenceClassification(self.model_config)

    def sampler(self, rows: SequenceRows):
        if self.cfg.class_weighted_sampling:
            return WeightedSampleStream(rows.labels, self.cfg.seed)
        return SampleStream(len(rows), self.cfg.seed)

    def batch(self, rows: SequenceRows, indices: list[int], step: int, positions: list[int]) -> dict:
        generators = [row_generator(self.cfg.seed, step, p) for p in positions]
        out = self.processor(self._dnas(rows, indices, generators))
        out["labels"] = torch.tensor([rows.labels[i] for i in indices], dtype=torch.long)
        out["units"] = len(indices)
        return out

    def forward(self, model, batch: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of losses, [sequences, right, confusion matrix (C*C, rows = truth)] as float64)."""
        batch = {k: v.to(device) for k, v in batch.items() if k != "units"}
        out = model(**batch)
        labels, predicted = batch["labels"], out.logits.argmax(-1)
        c = self.model_config.num_labels
        confusion = torch.bincount(labels * c + predicted, minlength=c * c)
        stats = torch.cat([torch.stack([labels.new_tensor(labels.numel()), (predicted == labels).sum()]), confusion])
        return out.loss * labels.numel(), stats.double()

    def eval_metrics(self, totals: torch.Tensor, windows: int) -> dict:
        c = self.model_config.num_labels
        return {"loss": (totals[0] / totals[1]).item(), "accuracy": (totals[2] / totals[1]).item(),
                "mcc": matthews_corrcoef(totals[3:3 + c * c].view(c, c)), "windows": windows}


TASKS = {"seq2seq": Seq2SeqTask, "decoder-lm": DecoderLMTask, "mlm": MaskedLMTask,
         "classification": ClassificationTask}
