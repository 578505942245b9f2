"""Genome-scale annotation: DNA -> genes, by generation over windows or by ORF decoding over whole records.

The one path from DNA to genes, shared by `genefinder annotate`, the Hub pipeline and evaluation. Two decoders
(`AnnotationSettings.decoding`; "auto" picks ORF decoding for a bacterial model that has both a coding-frame
head and a fitted start scorer, generation otherwise):

ORF decoding (`orf_decoding.py`): the encoder and coding-frame head run over overlapping windows of a record,
each nucleotide keeping the reading of the window where it sits most centrally; the start scorer reads the
record's two strands; the best set of ORFs under both is solved for exactly. Its unit of work is a record, or,
network-free, a group of short records decoded joined (`record_groups`), each getting the genes it gets alone.
Before the first record, `self_train` fits the input's own hexamer statistics from cheap network-free passes
over all of it (self_training.py), so every process and a resumed run decode with the same statistics; an input
too short for that (`min_self_training_nt`) reads the model's pre-trained ones instead (coding_library.py). What
every pass reads alike off a record (its ORFs, hexamers, the start scorer's inputs) is read once and kept
(strands.py), so a further pass costs only its arithmetic.

Generation, whose unit of work is a window:

1. `window_starts` cuts a record into windows of `window` nt overlapping by `overlap` nt;
2. windows are batched (`GeneFinderInputs`) into one `model.generate` call per batch, constrained by the
   GFF grammar and the window's DNA unless switched off;
3. each window's tokens decode to genes in window coordinates (a trailing gene cut off by the generation
   length limit is dropped, never half-written); a model with a coding-frame head also checks each gene against
   the head's per-nucleotide reading (`min_frame_agreement`); genes then shift to genome coordinates;
4. `stitch` keeps every gene once, from the window that saw it whole and most centrally; genes cut by a
   window edge are kept only where that edge is the record's own end (then they stay marked partial).

Batches are fixed by window index, never by process, so a run split across processes computes exactly the
batches a single process computes, and the merged output is byte-identical.

This module is copied beside the Hub files as remote code: stdlib, numpy, torch, transformers and siblings only.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

import numpy as np
import torch

from .coding_frames import frame_agreement
from .genetic_code import GeneticCode
from .orf_decoding import decode_orfs
from .orfs import MIN_GAP
from .strands import Strand, record_strands
from .features import Gene
from .windows import shift_genes, window_starts
from .coding_library import CodingLibrary, short_input_gc
from .self_training import CodingStatistics, refit_start_scorer

if TYPE_CHECKING:  # generation's parts; network-free ORF decoding runs without them (and without transformers)
    from .processing_genefinder import GeneFinderInputs
    from .tokenization_gff import GFFTokenizer

logger = logging.getLogger(__name__)

DECODINGS = ("auto", "orf", "generate")
# nt of records whose strands (ORFs, hexamers, start-scorer inputs: ~10 bytes per nt both strands) an annotator
# keeps between ORF-decoding passes: any bacterial genome, in about 0.5 GB
MAX_CACHED_NT = 50_000_000


# self-training decodes short records joined into sequences of up to JOIN_NT nt, apart by at least JOIN_GAP Ns: a
# decoding pass costs a few ms per record however short, and a draft assembly has thousands. The Ns are a gap
# (orfs.MIN_GAP: no gene spans it, its sides are ends like a record's) wider than the start scorer's window, so
# every candidate, start logit and hexamer is the record's own, and `decode_orfs(records=...)` gives each record
# its own average start codon
JOIN_NT = 1_000_000
JOIN_GAP = 2 * MIN_GAP
T = TypeVar("T")


def record_groups(items: Iterable[T], length: Callable[[T], int], join_nt: int, gap: int) -> Iterator[list[T]]:
    """Consecutive records (`items`, each `length(item)` nt) grouped to be joined with `gap` Ns between them while
    the joined sequence stays within `join_nt` nt; a record that long comes alone. The one grouping rule of
    self-training's passes and of the final pass, so both read the same joined sequences."""
    group: list[T] = []
    size = 0
    for item in items:
        n = length(item)
        if group and size + gap + n > join_nt:
            yield group
            group, size = [], 0
        size += (gap if group else 0) + n
        group.append(item)
    if group:
        yield group


def join_records(sequences: list[str], separator: str) -> tuple[str, np.ndarray]:
    """(the records joined by `separator`, the 0-based start of each in it)."""
    return separator.join(sequences), np.cumsum([0] + [len(r) + len(separator) for r in sequences[:-1]])


def joined_records(sequences: Iterable[str], join_nt: int, separator: str) -> Iterator[tuple[str, np.ndarray]]:
    """`join_records` of each `record_groups` group of `sequences`."""
    for group in record_groups(sequences, len, join_nt, len(separator)):
        yield join_records(group, separator)


@dataclass(frozen=True)
class AnnotationSettings:
    window: int = 8192  # nt per window: the trained length; longer works (pointer coordinates), slower
    overlap: int = 2048  # nt shared by neighbours: genes shorter than this are always whole in some window
    batch_size: int = 8  # windows per generate call: Python overhead per decoding step is paid per batch
    max_new_tokens: int = 512  # > the longest target seen in training (E. coli 8 kb windows: 103 tokens)
    genetic_code: int = 11  # NCBI table for the grammar's start/stop codons
    constrained: bool = True  # grammar-constrained decoding; off only for ablations
    introns: bool = False  # eukaryotes: CDS may be split by introns (canonical splice sites)
    min_cds_length: int = 60  # nt; the grammar forbids shorter complete CDS
    coding_only: bool = True  # the model was trained on coding genes only (build-dataset's default)
    num_beams: int = 1
    # models with a coding-frame head (config.coding_frame_loss_coef > 0): drop a generated gene unless the head
    # reads at least this fraction of its CDS nucleotides in the gene's own frame and strand; 0 keeps every gene
    min_frame_agreement: float = 0.4
    decoding: str = "auto"  # DECODINGS; see the module docstring
    # ORF decoding (orf_decoding.py). Every default below was chosen on validation DNA or leaving each training
    # genome out, never on a held-out genome; docs/decisions/bacterial_decoder.md records how.
    # With the input's own hexamer statistics the coding-frame head adds nothing, so by default the network is
    # not run (0: the network-free decoder)
    head_weight: float = 0.0  # weight of the coding-frame head's log-odds
    # nats per nt of ORF: a push towards long ORFs. A scorer refitted on the input places starts well with less
    # of it than the model's own scorer needs
    length_prior: float = 0.15
    # nats per nt a start lies upstream of its ORF's most downstream one (orf_decoding.length_scores); None: the
    # length prior, every nt of a gene alike
    upstream_prior: float | None = None
    # weight of a start's logit above the record's average start codon's, added to its gene's score (as Prodigal's
    # start score counts towards calling a gene); the gene bias is raised to match, or false genes with a strong
    # start codon come in
    start_evidence: float = 3.0
    start_weight: float = 16.0  # weight of log P(start | ORF) under the start scorer
    gene_bias: float = 55.0  # nats of evidence a gene must add to be called
    # ORF decoding: call no gene that a record's ends cut (Prodigal's -c). By default a gene may run off either
    # end, as genes do at a contig's edges in a draft assembly, and comes out marked partial
    closed_ends: bool = False
    # the logit of a start beyond a record's 5' end, above the record's average start codon's (it has no DNA to
    # read): how likely a gene the end cuts is, against the ORF's own start codons. A cut gene's ORF runs to the
    # edge, and its start most often lies beyond it, so this is well above 0
    edge_start_logit: float = 6.0
    max_overlap: int = 60  # nt a called gene may share with the one before it on the same strand
    # nt it may share with the one before it on the other strand where their 3' ends meet (-> <-) and where their
    # 5' ends meet (<- ->); None: `max_overlap`, one bound for all (Prodigal's 200 and 0 do no better)
    max_convergent_overlap: int | None = None
    max_divergent_overlap: int | None = None
    # self-training on the input (self_training.py): weight of the genome's own hexamer log-odds (0: no first pass)
    hexamer_weight: float = 2.0
    self_training_rounds: int = 1  # network-free passes that fit the hexamer statistics, each on the last's genes
    # nt; shorter genes of those passes are not counted: this keeps short ORFs inside rRNA genes out of the
    # statistics, which on an rRNA-rich input (the bundled example) would teach them as coding
    self_training_min_length: int = 500
    # nt; an input shorter than this in all (a plasmid, a phage, one metagenome contig) is not self-trained on: it
    # reads the model's pre-trained coding statistics at its GC content instead (coding_library.py), when the
    # model folder has them and their genetic code is the input's. 0: always self-train
    min_self_training_nt: int = 50_000
    # refit the start scorer on the input's own called genes, L2-pulled towards the model's
    refit_starts: bool = True
    start_refit_l2: float = 0.01
    # refits in a row, each on the genes the last one's scorer calls (always pulled towards the model's scorer):
    # the first refit's scorer places starts better, so its genes teach the next one better starts; each round
    # costs a decoding pass and a refit
    start_refit_rounds: int = 4

    def __post_init__(self):
        if self.window < 1 or not 0 <= self.overlap < self.window:
            raise ValueError(f"need window >= 1 and 0 <= overlap < window, got window={self.window} "
                             f"overlap={self.overlap}")
        if self.batch_size < 1:
            raise ValueError(f"`batch_size` must be >= 1, got {self.batch_size}")
        if not 0 <= self.min_frame_agreement <= 1:
            raise ValueError(f"`min_frame_agreement` must be in [0, 1], got {self.min_frame_agreement}")
        if self.decoding not in DECODINGS:
            raise ValueError(f"`decoding` must be one of {', '.join(DECODINGS)}, got {self.decoding!r}")
        weights = ("head_weight", "length_prior", "upstream_prior", "start_weight", "start_evidence", "hexamer_weight",
                   "start_refit_l2")
        for name in (*weights, "gene_bias", "edge_start_logit"):  # a NaN passes every comparison below
            if getattr(self, name) is not None and not math.isfinite(getattr(self, name)):
                raise ValueError(f"`{name}` must be a finite number, got {getattr(self, name)}")
        for name in (*weights, "max_overlap", "max_convergent_overlap", "max_divergent_overlap"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0, got {getattr(self, name)}")
        for name in ("self_training_rounds", "start_refit_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1, got {getattr(self, name)}")
        for name in ("self_training_min_length", "min_self_training_nt"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0 nt, got {getattr(self, name)}")

    @classmethod
    def window_for(cls, config, window: int | None = None, overlap: int | None = None) -> tuple[int, int]:
        """(window, overlap): the ones asked for, else the model's trained window and a quarter of it as overlap."""
        window = window or getattr(config, "trained_window", None) or cls.window
        return window, window // 4 if overlap is None else overlap

    def grammar(self, tok, dnas: list[str], max_length: int | None = None):
        """The decoding grammar of these settings for windows `dnas` (also what train.py's constrained loss uses,
        so training and annotation see the same choices); `max_length` counts the decoder start token."""
        from .grammar import GFFGrammarLogitsProcessor

        return GFFGrammarLogitsProcessor(tok, dnas, self.genetic_code, min_cds_length=self.min_cds_length,
                                         max_introns=None if self.introns else 0, allow_exons=not self.coding_only,
                                         max_length=max_length)


@dataclass(frozen=True)
class WindowPrediction:
    seqid: str
    start: int  # 0-based window start on the record
    length: int
    genes: tuple[Gene, ...]  # window coordinates, with scores


def plan_windows(length: int, settings: AnnotationSettings) -> list[tuple[int, int]]:
    """(start, length) of the windows covering a record of `length` nt."""
    return [(s, min(settings.window, length - s))
            for s in window_starts(length, settings.window, settings.window - settings.overlap)]


class GeneFinderAnnotator:
    """Runs a trained model over a record: `annotate_record` -> `WindowPrediction`s (one per window when
    generating, one for the whole record with ORF decoding); `predict(dnas)` -> generated genes per window."""

    def __init__(self, model, gff_tokenizer: GFFTokenizer | None, inputs: GeneFinderInputs | None,
                 settings: AnnotationSettings):
        self.model, self.tok, self.inputs, self.settings = model.eval(), gff_tokenizer, inputs, settings
        self.decoding = self._resolve_decoding()
        self.hexamers: CodingStatistics | None = None  # the input's own coding statistics, once `self_train` ran
        self.start_scorer = getattr(model, "start_scorer", None)  # the model's, or the input's own refit of it
        self.coding_library: CodingLibrary | None = getattr(model, "coding_library", None)
        self.input_gc: float | None = None  # the input's GC content, where `hexamers` are the library's at it
        self._strands: dict[bytes, tuple[Strand, Strand]] = {}  # `strands`', by record sequence digest
        self._cached_nt = 0

    @property
    def separator(self) -> str:
        """The Ns that join short records (`joined_records`): a gap wider than anything the start scorer reads."""
        return "N" * max(JOIN_GAP, self.start_scorer.span if self.start_scorer is not None else 0)

    @property
    def joins_records(self) -> bool:
        """Whether the final pass may decode short records joined (`annotate_joined`): network-free ORF decoding
        (with the head, the network would read across the joins)."""
        return self.decoding == "orf" and not self.settings.head_weight

    @property
    def pretrained_statistics(self) -> bool:
        """Whether `hexamers` came from the model's coding library (an input too short to self-train on)."""
        return self.input_gc is not None

    @property
    def self_trains(self) -> bool:
        """Whether `self_train` fits anything: ORF decoding with a hexamer weight or a start-scorer refit."""
        return self.decoding == "orf" and (self.settings.hexamer_weight > 0 or self.settings.refit_starts)

    def self_train(self, sequences: Callable[[], Iterable[str]]) -> None:
        """Fit the input's own hexamer statistics and refit the start scorer on it (self_training.py), from
        network-free ORF decoding of all its records; `sequences()` yields the records' sequences one at a time
        (it is called once per pass, so a genome need not sit in memory whole). A no-op unless ORF decoding
        uses them."""
        if not self.self_trains:
            return
        library = self.coding_library
        if self.settings.hexamer_weight and library is not None and library.genetic_code == self.settings.genetic_code:
            self.input_gc = short_input_gc(sequences(), self.settings.min_self_training_nt)
            if self.input_gc is not None:
                self.hexamers = library.statistics_at(self.input_gc)
                logger.info("input under %d nt: pre-trained coding statistics at GC %.3f",
                            self.settings.min_self_training_nt, self.input_gc)

        def called():
            return ((strands, genes) for strands, genes, _ in self.network_free_calls(sequences))

        fits_hexamers = self.settings.hexamer_weight and not self.pretrained_statistics
        for _ in range(self.settings.self_training_rounds if fits_hexamers else 0):
            self.hexamers = CodingStatistics.fit((strands, [g for g in genes if g.end - g.start + 1 >=
                                                            self.settings.self_training_min_length])
                                                 for strands, genes in called())
        fitted_on = None  # the genes the scorer in use was fitted on, by unit of work
        for _ in range(self.settings.start_refit_rounds if self.settings.refit_starts else 0):
            spans: list[list[tuple]] = []

            def recorded():
                for strands, genes in called():
                    spans.append([(g.strand, g.start, g.end) for g in genes])
                    yield strands, genes

            refit = refit_start_scorer(self.model.start_scorer, recorded(), self.settings.start_refit_l2)
            if spans == fitted_on:  # fitted on the same genes, from the same scorer: the scorer in use again, and
                break  # so would every round left be (a short input's genes settle in a round or two)
            self.start_scorer, fitted_on = refit, spans

    def network_free_calls(self, sequences: Callable[[], Iterable[str]]
                           ) -> Iterator[tuple[tuple[Strand, Strand], list[Gene], int]]:
        """Network-free ORF decoding of the input with the statistics and start scorer of this moment, one unit of
        work (`joined_records`) at a time: (its strands, its genes in joined coordinates, its records' own nt)."""
        first_pass = replace(self.settings, head_weight=0.0)
        for seq, records in joined_records(sequences(), JOIN_NT, self.separator):
            strands = self.strands(seq)
            genes = decode_orfs(seq, None, self.start_logits(strands), first_pass, hexamers=self.hexamers,
                                strands=strands, records=records)
            yield strands, genes, len(seq) - (len(records) - 1) * len(self.separator)

    def provenance(self) -> str:
        """One line saying how the genes were called: the decoder, the genetic code and, for ORF decoding, where
        its hexamer statistics and start scorer came from."""
        words = [f"decoding={self.decoding}", f"genetic_code={self.settings.genetic_code}"]
        if self.decoding == "orf":
            statistics = "none" if self.hexamers is None else \
                f"library@GC{self.input_gc:.3f}" if self.pretrained_statistics else "self-trained"
            starts = "refitted" if self.start_scorer is not getattr(self.model, "start_scorer", None) else "model"
            words += [f"hexamer_statistics={statistics}", f"start_scorer={starts}"]
        return " ".join(words)

    def _resolve_decoding(self) -> str:
        # read off the config, not the head itself: `network_free_model` loads the start scorer alone
        has_parts = getattr(self.model.config, "coding_frame_loss_coef", 0) > 0 and \
            getattr(self.model, "start_scorer", None) is not None
        if self.settings.decoding == "auto":
            return "orf" if has_parts and not self.settings.introns else "generate"
        if self.settings.decoding == "orf" and not has_parts:
            raise ValueError("ORF decoding needs a model with a coding-frame head and a fitted start scorer "
                             "(`genefinder fit-starts`); this one lacks them: use --decoding generate")
        if self.settings.decoding == "orf" and self.settings.introns:
            raise ValueError("ORF decoding calls single-exon genes only; eukaryotes need --decoding generate")
        return self.settings.decoding

    def plan(self, length: int) -> list[tuple[int, int]]:
        """(start, length) of the units of work of a record: its windows, or the record itself for ORF decoding."""
        return [(0, length)] if self.decoding == "orf" else plan_windows(length, self.settings)

    @torch.no_grad()
    def coding_evidence(self, seq: str, progress: Callable[[int], None] | None = None,
                        strands: tuple[Strand, Strand] | None = None
                        ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """What ORF decoding reads of a record: the coding-frame head's (n, 7) log-probabilities, each nucleotide
        from the window where it sits most centrally (None with `head_weight` 0: the network is not run at all),
        and the start scorer's logits per strand (5'->3'), on the record's `strands` (default:
        `self.strands(seq)`)."""
        n = len(seq)
        logits = self.start_logits(self.strands(seq) if strands is None else strands)
        if not self.settings.head_weight:
            if progress:
                progress(n)
            return None, logits
        half = self.settings.overlap // 2
        device = next(self.model.parameters()).device
        logp = np.zeros((n, 7), dtype=np.float32)
        plan = plan_windows(n, self.settings)
        read = 0  # nt of the record read so far, for `progress`
        for b in range(0, len(plan), self.settings.batch_size):
            chunk = plan[b:b + self.settings.batch_size]
            batch = {k: v.to(device) for k, v in self.inputs([seq[s:s + w] for s, w in chunk]).items()}
            keys = self.model.get_encoder()(**batch).nucleotide_keys
            out = self.model.coding_frame_logits(keys).log_softmax(-1).cpu().numpy()
            for row, (s, w) in zip(out, chunk):
                lo = 0 if s == 0 else half  # the neighbour to the left reads [s, s + half) more centrally
                hi = w if s + w == n else w - half
                logp[s + lo:s + hi] = row[lo:hi]
            if progress:
                progress(chunk[-1][0] + chunk[-1][1] - read)
            read = chunk[-1][0] + chunk[-1][1]
        return logp, logits

    def strands(self, seq: str) -> tuple[Strand, Strand]:
        """The record's two strands (`strands.record_strands`), kept from the first pass over it to the last, as
        long as the records kept total at most MAX_CACHED_NT (beyond, each pass reads its strands anew)."""
        key = hashlib.blake2b(seq.encode("ascii", "replace"), digest_size=16).digest()
        if key in self._strands:
            return self._strands[key]
        strands = record_strands(seq, GeneticCode(self.settings.genetic_code), self.settings.min_cds_length)
        if self._cached_nt + len(seq) <= MAX_CACHED_NT:
            self._strands[key] = strands
            self._cached_nt += len(seq)
        return strands

    def start_logits(self, strands: tuple[Strand, Strand]) -> dict[str, np.ndarray]:
        """The start scorer's logit at each start codon of each of a record's `strands` (`Strand.start_codons`;
        0 at other positions, which no ORF starts at), (n,) in that strand's 5'->3' order."""
        out = {}
        for sign, strand in zip("+-", strands):
            at = strand.start_codons
            if strand.detected is None:  # the model's detectors: what every pass reads alike, and the costly part
                strand.detected = self.start_scorer.detected_at(strand.seq, at)
            out[sign] = np.zeros(len(strand), np.float32)
            out[sign][at] = self.start_scorer.linear_at(strand.seq, at, codes=strand.scorer_codes(self.start_scorer)) \
                + strand.detected
        return out

    @torch.no_grad()
    def predict(self, dnas: list[str]) -> list[list[Gene]]:
        device = next(self.model.parameters()).device
        batch = {k: v.to(device) for k, v in self.inputs(dnas).items()}
        processors = []
        if self.settings.constrained:
            processors.append(self.settings.grammar(self.tok, dnas, max_length=self.settings.max_new_tokens + 1))
        encoded = self.model.get_encoder()(**batch)  # once, for generate and for the coding-frame check
        out = self.model.generate(**batch, encoder_outputs=encoded, max_new_tokens=self.settings.max_new_tokens,
                                  do_sample=False, num_beams=self.settings.num_beams, logits_processor=processors,
                                  output_scores=True, return_dict_in_generate=True)
        step_logprobs = _chosen_logprobs(out)  # (B, steps)
        genes = [decode_generated(self.tok, ids.tolist(), len(dna), step_logprobs[i].tolist())
                 for i, (ids, dna) in enumerate(zip(out.sequences, dnas))]
        if getattr(self.model, "coding_head", None) is None or self.settings.min_frame_agreement <= 0:
            return genes
        frames = self.model.coding_frame_logits(encoded.nucleotide_keys).argmax(-1).cpu().numpy()  # (B, N)
        return [[g for g in row if frame_agreement(g, frames[i, :len(dna)]) >= self.settings.min_frame_agreement]
                for i, (row, dna) in enumerate(zip(genes, dnas))]

    def annotate_joined(self, seqids: list[str], sequences: list[str],
                        progress: Callable[[int], None] | None = None) -> list[WindowPrediction]:
        """ORF decoding of records joined as self-training joins them (one `record_groups` group): one prediction
        per record, the genes `annotate_record` gives each alone, in one pass instead of one per record."""
        seq, starts = join_records(sequences, self.separator)
        strands = self.strands(seq)
        genes = decode_orfs(seq, *self.coding_evidence(seq, None, strands), self.settings, hexamers=self.hexamers,
                            strands=strands, records=starts)
        by_record: list[list[Gene]] = [[] for _ in seqids]
        for g in genes:
            by_record[int(np.searchsorted(starts, g.start - 1, side="right")) - 1].append(g)
        if progress:
            progress(sum(map(len, sequences)))
        return [WindowPrediction(name, 0, len(s), tuple(replace(g, seqid=name) for g in shift_genes(part, -int(at))))
                for name, s, at, part in zip(seqids, sequences, starts, by_record)]

    def annotate_record(self, seqid: str, length: int, fetch: Callable[[int, int], str],
                        windows: Iterable[int] | None = None, progress: Callable[[int], None] | None = None
                        ) -> list[WindowPrediction]:
        """Predictions for the units of work (`plan`) of one record: all, or the given indices, batch by batch."""
        plan = self.plan(length)
        wanted = sorted(set(range(len(plan)) if windows is None else windows))
        if self.decoding == "orf":
            if not wanted:
                return []
            seq = fetch(0, length)
            strands = self.strands(seq)
            genes = decode_orfs(seq, *self.coding_evidence(seq, progress, strands), self.settings,
                                hexamers=self.hexamers, strands=strands)
            return [WindowPrediction(seqid, 0, length, tuple(genes))]
        out = []
        for b in range(0, len(wanted), self.settings.batch_size):
            idx = wanted[b:b + self.settings.batch_size]
            dnas = [fetch(plan[i][0], plan[i][0] + plan[i][1]) for i in idx]
            for i, genes in zip(idx, self.predict(dnas)):
                out.append(WindowPrediction(seqid, plan[i][0], plan[i][1], tuple(genes)))
            if progress:
                progress(sum(plan[i][1] for i in idx))
        return out


def _chosen_logprobs(out) -> torch.Tensor:
    """Log-probability of each generated token (after the processors), (B, steps)."""
    if not out.scores:
        return torch.zeros(out.sequences.size(0), 0)
    scores = torch.stack(out.scores, dim=1).float().log_softmax(-1)  # (B, steps, V)
    chosen = out.sequences[:, -scores.size(1):]
    return scores.gather(-1, chosen.unsqueeze(-1)).squeeze(-1).clamp(min=-1e4)


def decode_generated(tok: GFFTokenizer, ids: list[int], window_length: int,
                     logprobs: list[float] | None = None) -> list[Gene]:
    """Genes of a generated sequence; a trailing gene the length limit cut off is dropped, not guessed.

    Constrained output always parses; unconstrained output (ablations) may break the grammar anywhere, and
    then the genes before the first break are kept. Each gene's score is the geometric-mean probability of its tokens (exp of the mean log-probability).
    """
    ids = [int(i) for i in ids]
    if ids and ids[0] == tok.bos_token_id:
        ids = ids[1:]
    gene_words = {tok.word_to_id["GENE+"], tok.word_to_id["GENE-"]}
    bounds = [i for i, t in enumerate(ids) if t in gene_words]
    if tok.eos_token_id in ids:  # what follows the first </s> is filler (<pad>, or </s> from beam search)
        cut = ids.index(tok.eos_token_id)
    else:  # cut by the length limit while writing: the last gene may have been about to grow
        cut = max(bounds, default=len(ids))
    for attempt in range(len(bounds) + 1):
        try:
            genes = tok.decode_genes(ids[:cut] + [tok.eos_token_id], window_length=window_length)
            break
        except ValueError:  # GFFTokenError, also when the tokenizer came as remote code
            earlier = [b for b in bounds if b < cut]
            if not earlier:
                return []
            cut = earlier[-1]
    if logprobs is None:
        return genes
    starts = [b for b in bounds if b < cut] + [cut]
    scored = []
    for g, a, b in zip(genes, starts, starts[1:]):
        lp = logprobs[a:b]
        scored.append(replace(g, score=math.exp(sum(lp) / len(lp)) if lp else None))
    return scored


def stitch(predictions: list[WindowPrediction], record_length: int) -> list[Gene]:
    """Genes of one record in genome coordinates, each once, from the window that saw it whole most centrally."""
    best: dict[tuple, tuple[float, Gene]] = {}
    for p in predictions:
        at_start, at_end = p.start == 0, p.start + p.length == record_length
        for g in shift_genes(list(p.genes), p.start):
            cut_left = any(t.partial_left for t in g.transcripts)
            cut_right = any(t.partial_right for t in g.transcripts)
            if (cut_left and not at_start) or (cut_right and not at_end):
                continue  # another window sees it whole (or it is longer than the overlap: documented limit)
            centrality = min(g.start - p.start, p.start + p.length - g.end)
            key = _identity(g)
            if key not in best or centrality > best[key][0]:
                best[key] = (centrality, replace(g, seqid=p.seqid))
    genes = _resolve_same_stop(list(best.values()))
    return sorted(genes, key=lambda g: (g.start, g.end, g.strand))


def _identity(g: Gene) -> tuple:
    return (g.strand, tuple((t.kind, t.exons, t.cds) for t in g.transcripts))


def _three_prime_end(g: Gene) -> tuple:
    return (g.strand, g.end if g.strand == "+" else g.start)


def _resolve_same_stop(candidates: list[tuple[float, Gene]]) -> list[Gene]:
    """Two windows that disagree on a gene's start (same strand, same 3' end): keep the more central call."""
    by_stop: dict[tuple, tuple[float, Gene]] = {}
    for centrality, g in sorted(candidates, key=lambda cg: (-cg[0], cg[1].start, cg[1].end)):
        by_stop.setdefault(_three_prime_end(g), (centrality, g))
    return [g for _, g in by_stop.values()]
