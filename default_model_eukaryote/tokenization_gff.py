"""The GFF tokenizer: gene models in a DNA window <-> token ids, losslessly.

Grammar (one line per rule; `pos` is a coordinate token, everything else a word of the fixed vocabulary)::

    sequence   := gene* </s>
    gene       := (GENE+ | GENE-) transcript+
    transcript := KIND [PARTIAL_LEFT] [PARTIAL_RIGHT] exon* cds*
    exon       := EXON pos pos                       # only when exons say more than the CDS (UTRs)
    cds        := CDS [PHASE_0 | PHASE_1 | PHASE_2] pos pos   # phase only where it is not the implied one

KIND is a Sequence Ontology transcript type (mRNA, tRNA, rRNA, ncRNA, ...: `features.TRANSCRIPT_KINDS`).
Genes come in `features.canonical` order (by start), transcripts likewise, exon and CDS pieces by start, so
coordinates never decrease inside a transcript. PARTIAL_LEFT / PARTIAL_RIGHT mark a transcript cut by the
window's left / right edge. The implied phase is 0 for the 5'-most CDS piece and follows from the piece
lengths after that (`features.phase_after`); a PHASE token appears only when the annotation says otherwise
(a CDS cut on its 5' side by the window edge, a programmed frameshift), so the encoding stays lossless.
A bacterial gene costs 5 tokens: `GENE+ mRNA CDS @190 @255`.

Coordinates are pointers, not words. Position p (1-based, window coordinates) is token id
`n_words + p - 1` (string form `@p`), with no upper bound. The model scores these ids with a pointer head
over its encoder positions (one logit per nucleotide of the window) rather than with a coordinate
vocabulary, so (a) the output layer does not grow with the window, (b) a model trained on 8 kb windows
can still name every position of a 128 kb window (16x), and (c) grammar constraints (a CDS must end on an
in-frame stop) become masks over exactly those nucleotide positions. The alternatives: a coordinate
vocabulary of one token per position fixes the maximum window at training time; decimal digits are
unbounded but spend 4-6 steps per coordinate and make the model learn arithmetic instead of looking.

`decode_genes(ids)` returns the genes or raises `GFFTokenError` saying which token broke which rule, so a
caller never writes a half-understood annotation; generation is kept inside this grammar by the model's
grammar-constrained logits processor.

This module is a transformers tokenizer (save_pretrained / from_pretrained / AutoTokenizer with
trust_remote_code); it imports only the standard library, transformers and sibling modules.
"""

from __future__ import annotations

import json
import os

from transformers import PreTrainedTokenizer

from .features import STRANDS, TRANSCRIPT_KINDS, CDSPart, Gene, Transcript, canonical, phase_after

SPECIAL_WORDS = ("<pad>", "<s>", "</s>", "<unk>")
STRUCTURE_WORDS = ("GENE+", "GENE-", "PARTIAL_LEFT", "PARTIAL_RIGHT", "EXON", "CDS", "PHASE_0", "PHASE_1", "PHASE_2")
WORDS = SPECIAL_WORDS + STRUCTURE_WORDS + TRANSCRIPT_KINDS  # order fixes the ids: append only
VOCAB_FILES_NAMES = {"vocab_file": "gff_vocab.json"}


class GFFTokenError(ValueError):
    """A token sequence that is not a well-formed annotation; the message names the token index and the rule."""


class GFFTokenizer(PreTrainedTokenizer):
    """Tokens for gene models in a window. Words have fixed ids; coordinate `@p` has id `n_words + p - 1`."""

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file: str | None = None, **kwargs):
        self.word_to_id = {w: i for i, w in enumerate(WORDS)}
        if vocab_file is not None:
            with open(vocab_file, encoding="utf-8") as fh:
                saved = json.load(fh)
            if saved != self.word_to_id:
                raise ValueError(f"{vocab_file}: GFF vocabulary differs from this code's; load it with the code "
                                 f"saved beside it (trust_remote_code=True)")
        self.id_to_word = dict(enumerate(WORDS))
        self.n_words = len(WORDS)
        for name, word in (("pad_token", "<pad>"), ("bos_token", "<s>"), ("eos_token", "</s>"), ("unk_token", "<unk>")):
            kwargs.setdefault(name, word)
        # tokenizer_config.json names this class for AutoTokenizer(trust_remote_code=True)
        kwargs.setdefault("auto_map", {"AutoTokenizer": ["tokenization_gff.GFFTokenizer", None]})
        super().__init__(**kwargs)

    # -- transformers tokenizer protocol (text form: whitespace-separated words and @positions) --------------
    @property
    def vocab_size(self) -> int:
        return self.n_words

    def get_vocab(self) -> dict[str, int]:
        return dict(self.word_to_id)

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        return text.split()

    def _convert_token_to_id(self, token: str) -> int:
        if token.startswith("@") and token[1:].isdigit() and int(token[1:]) >= 1:
            return self.position_id(int(token[1:]))
        return self.word_to_id.get(token, self.word_to_id["<unk>"])

    def _convert_id_to_token(self, index: int) -> str:
        return f"@{self.position_of(index)}" if index >= self.n_words else self.id_to_word[index]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        if token_ids_1 is not None:
            raise ValueError("GFFTokenizer encodes one annotation at a time")
        return list(token_ids_0) + [self.eos_token_id]

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        path = os.path.join(save_directory, (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILES_NAMES["vocab_file"])
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.word_to_id, fh, indent=1)
        return (path,)

    # -- coordinates ------------------------------------------------------------------------------------------
    def position_id(self, position: int) -> int:
        """Token id of 1-based window position `position`."""
        return self.n_words + position - 1

    def position_of(self, token_id: int) -> int:
        """1-based window position named by a coordinate token id."""
        return token_id - self.n_words + 1

    def is_position(self, token_id: int) -> bool:
        return token_id >= self.n_words

    # -- genes <-> ids ----------------------------------------------------------------------------------------
    def encode_genes(self, genes: list[Gene], add_eos: bool = True) -> list[int]:
        """Token ids of genes given in window coordinates (any order; written in canonical order)."""
        w, ids = self.word_to_id, []
        for g in canonical(genes):
            if g.strand not in STRANDS:
                raise GFFTokenError(f"gene strand must be + or -, got {g.strand!r}")
            ids.append(w["GENE" + g.strand])
            for t in g.transcripts:
                if t.kind not in w:
                    raise GFFTokenError(f"transcript kind {t.kind!r} has no token (known: {', '.join(TRANSCRIPT_KINDS)})")
                ids.append(w[t.kind])
                ids += [w["PARTIAL_LEFT"]] * t.partial_left + [w["PARTIAL_RIGHT"]] * t.partial_right
                for s, e in t.exons:
                    ids += [w["EXON"], self.position_id(s), self.position_id(e)]
                phases = chain_phases([(c.start, c.end) for c in t.cds], g.strand, [c.phase for c in t.cds])
                for c, (implied, _) in zip(t.cds, phases):
                    ids.append(w["CDS"])
                    if c.phase != implied:
                        ids.append(w[f"PHASE_{c.phase}"])
                    ids += [self.position_id(c.start), self.position_id(c.end)]
        return ids + [self.eos_token_id] * add_eos

    def decode_genes(self, ids, window_length: int | None = None) -> list[Gene]:
        """Genes named by `ids` (a leading <s>, trailing </s> and padding are allowed); GFFTokenError otherwise."""
        return _Parser(self, [int(i) for i in ids], window_length).parse()


def chain_phases(pieces: list[tuple[int, int]], strand: str, written: list[int | None]) -> list[tuple[int, int]]:
    """(implied, actual) phase per CDS piece, walking 5' -> 3'.

    The implied phase is 0 for the 5'-most piece and follows from the previous piece's length and *actual*
    phase; the actual phase is the written one where given, else the implied one. The encoder passes the
    annotation's phases as `written` and emits a PHASE token where implied != actual; the parser passes the
    PHASE tokens it read (None where absent).
    """
    order = range(len(pieces)) if strand == "+" else range(len(pieces) - 1, -1, -1)
    out: list[tuple[int, int]] = [(0, 0)] * len(pieces)
    prev = None
    for i in order:
        implied = 0 if prev is None else phase_after(pieces[prev][1] - pieces[prev][0] + 1, out[prev][1])
        out[i] = (implied, implied if written[i] is None else written[i])
        prev = i
    return out


class _Parser:
    """Recursive-descent reader of the grammar in the module docstring."""

    def __init__(self, tok: GFFTokenizer, ids: list[int], window_length: int | None):
        self.tok, self.w, self.limit = tok, tok.word_to_id, window_length
        start = 1 if ids[:1] == [tok.bos_token_id] else 0
        self.ids, self.i = ids[start:], 0
        self.offset = start

    def fail(self, rule: str):
        got = self.tok._convert_id_to_token(self.ids[self.i]) if self.i < len(self.ids) else "end of sequence"
        raise GFFTokenError(f"token {self.i + self.offset} ({got}): {rule}")

    def peek(self) -> int | None:
        return self.ids[self.i] if self.i < len(self.ids) else None

    def take(self, word: str) -> bool:
        if self.peek() == self.w[word]:
            self.i += 1
            return True
        return False

    def parse(self) -> list[Gene]:
        genes = []
        while True:
            if self.take("</s>") or self.peek() is None:
                break
            if self.peek() in (self.w["GENE+"], self.w["GENE-"]):
                genes.append(self.gene())
            else:
                self.fail("expected GENE+, GENE- or </s>")
        if any(i != self.tok.pad_token_id for i in self.ids[self.i:]):
            self.fail("only padding may follow </s>")
        return genes

    def gene(self) -> Gene:
        strand = "+" if self.ids[self.i] == self.w["GENE+"] else "-"
        self.i += 1
        transcripts = []
        while self.peek() is not None and self.tok.id_to_word.get(self.peek()) in TRANSCRIPT_KINDS:
            transcripts.append(self.transcript(strand))
        if not transcripts:
            self.fail("a gene needs at least one transcript (a KIND token)")
        return Gene(strand=strand, transcripts=tuple(transcripts))

    def transcript(self, strand: str) -> Transcript:
        kind = self.tok.id_to_word[self.ids[self.i]]
        self.i += 1
        partial_left, partial_right = self.take("PARTIAL_LEFT"), self.take("PARTIAL_RIGHT")
        exons, cds_pieces, last = [], [], 0
        while self.take("EXON"):
            s, e = self.interval(last)
            exons.append((s, e))
            last = s
        explicit = []
        while self.take("CDS"):
            phase = next((p for p in range(3) if self.take(f"PHASE_{p}")), None)
            s, e = self.interval(cds_pieces[-1][0] if cds_pieces else 0)
            cds_pieces.append((s, e))
            explicit.append(phase)
        if not exons and not cds_pieces:
            self.fail(f"transcript {kind} needs an EXON or CDS")
        phases = chain_phases(cds_pieces, strand, explicit)
        cds = tuple(CDSPart(s, e, actual) for (s, e), (_, actual) in zip(cds_pieces, phases))
        return Transcript(kind=kind, exons=tuple(exons), cds=cds, partial_left=partial_left, partial_right=partial_right)

    def interval(self, not_before: int) -> tuple[int, int]:
        s, e = self.position(), self.position()
        if s > e:
            self.i -= 1
            self.fail(f"end {e} is before start {s}")
        if s < not_before:
            self.i -= 2
            self.fail(f"start {s} goes back before the previous piece's start {not_before}")
        return s, e

    def position(self) -> int:
        token = self.peek()
        if token is None or not self.tok.is_position(token):
            self.fail("expected a coordinate @p")
        p = self.tok.position_of(token)
        if self.limit is not None and p > self.limit:
            self.fail(f"coordinate beyond the window's {self.limit} nt")
        self.i += 1
        return p
