"""`pipeline("gene-finding", model=folder, trust_remote_code=True)`: DNA or a FASTA path in, GFF3 out.

The Hub demo runs exactly what `genefinder annotate` runs (annotation.GeneFinderAnnotator with the same
decoding, windows and stitching, the same GFF3 writer); only the input and output shapes differ. A eukaryotic
gene-structure model folder (`genefinder annotate --eukaryote`'s) runs annotation.GeneStructureAnnotator instead,
whose keyword arguments are the decoder's penalties (GeneStructureDecodingParams):

    >>> finder = pipeline("gene-finding", model="path/to/model", trust_remote_code=True)   # doctest: +SKIP
    >>> result = finder("ATGAAACGC...", genetic_code=11)  # or "auto": 11 or 4 from the input # doctest: +SKIP
    >>> print(result["gff3"]); result["genes"][0]                                          # doctest: +SKIP

A string naming an existing file is read as FASTA (plain or gzip, every record); any other string is a
DNA sequence named `sequence`.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace

from transformers import Pipeline

from .annotation import AnnotationSettings, GeneFinderAnnotator, stitch
from .gene_structure_annotation import DECODING_FIELDS, GeneStructureAnnotator, decoding_params
from .splice_sites import SPLICE_SITES_FILE, SpliceSiteScorers
from .fasta import FastaFile
from .features import genes_to_rows
from .gff3 import write_gff3
from .processing_genefinder import GeneFinderInputs
from .coding_library import LIBRARY_FILE, CodingLibrary
from .genetic_code_choice import choose_genetic_code
from .tokenization_dna import load_dnabert2_tokenizer, normalize_dna

SETTING_NAMES = ("window", "overlap", "batch_size", "max_new_tokens", "genetic_code", "constrained", "num_beams",
                 "min_cds_length", "min_frame_agreement", "decoding", "head_weight", "length_prior", "upstream_prior",
                 "start_weight", "start_evidence", "gene_bias", "closed_ends", "edge_start_logit", "max_overlap",
                 "max_convergent_overlap", "max_divergent_overlap", "hexamer_weight",
                 "self_training_rounds", "self_training_min_length", "min_self_training_nt", "refit_starts",
                 "start_refit_l2", "start_refit_rounds")


class GeneFindingPipeline(Pipeline):
    """Gene finding on a DNA string or FASTA file; returns {"gff3": text, "genes": [per-gene dicts]}."""

    def _sanitize_parameters(self, eukaryote: bool | None = None, **settings):
        if self._gene_structure:
            if eukaryote is False:
                raise ValueError("this is a eukaryotic gene-structure model; eukaryote=False needs a bacterial one")
            unknown = set(settings) - set(DECODING_FIELDS) - {"batch_size"}
            if unknown:
                raise ValueError(f"unknown gene-structure argument(s) {sorted(unknown)}; known: "
                                 f"{('batch_size', *DECODING_FIELDS)}")
            batch_size = settings.pop("batch_size", 8)
            if not hasattr(self.model, "splice_sites"):
                self.model.splice_sites = self._splice_sites()
            return {}, {"annotator": GeneStructureAnnotator(self.model, decoding_params(self.model, **settings),
                                                            batch_size=batch_size)}, {"eukaryote": True}
        unknown = set(settings) - set(SETTING_NAMES)
        if unknown:
            raise ValueError(f"unknown gene-finding argument(s) {sorted(unknown)}; known: {SETTING_NAMES}")
        if "genetic_code" not in settings:
            settings["genetic_code"] = getattr(self.model.config, "genetic_code", 11)
        choose_code = settings["genetic_code"] == "auto"  # table 11 or 4, chosen from the input (genetic_code_choice)
        if choose_code:
            settings["genetic_code"] = 11
        settings["window"], settings["overlap"] = AnnotationSettings.window_for(
            self.model.config, settings.get("window"), settings.get("overlap"))
        eukaryote = bool(eukaryote)
        if choose_code and eukaryote:
            raise ValueError('genetic_code="auto" chooses between bacterial tables 11 and 4; give a table')
        return {}, {"settings": AnnotationSettings(introns=eukaryote, **settings), "choose_code": choose_code}, \
            {"eukaryote": eukaryote}

    def preprocess(self, inputs):
        if isinstance(inputs, str) and os.path.isfile(inputs):
            fasta = FastaFile(inputs)
            return {"records": [(n, fasta.length(n), _fetcher(fasta, n)) for n in fasta.names]}
        sequence = str(inputs)
        normalize_dna(sequence)  # raises on anything that is not DNA, naming the character and position
        return {"records": [("sequence", len(sequence), lambda a, b: sequence[a:b])]}

    @property
    def _gene_structure(self) -> bool:
        return self.model.config.model_type == "genefinder_gene_structure"

    def _forward(self, model_inputs, settings: AnnotationSettings | None = None, choose_code: bool = False,
                 annotator: GeneStructureAnnotator | None = None):
        if annotator is not None:
            genes, lengths = [], {}
            for seqid, length, fetch in model_inputs["records"]:
                genes += annotator.annotate(seqid, fetch(0, length))
                lengths[seqid] = length
            return {"genes": genes, "lengths": lengths}
        encoder_type = self.model.config.encoder_config.encoder_type
        bpe = self._bpe_tokenizer() if encoder_type == "dnabert2" else None
        if not hasattr(self.model, "coding_library"):
            self.model.coding_library = self._coding_library()

        def sequences():
            return (fetch(0, length) for _, length, fetch in model_inputs["records"])

        if choose_code:
            settings = replace(settings, genetic_code=choose_genetic_code(self.model, settings, sequences)[0])
        annotator = GeneFinderAnnotator(self.model, self.tokenizer, GeneFinderInputs(encoder_type, bpe), settings)
        annotator.self_train(sequences)
        genes, lengths = [], {}
        for seqid, length, fetch in model_inputs["records"]:
            genes += stitch(annotator.annotate_record(seqid, length, fetch), length)
            lengths[seqid] = length
        return {"genes": genes, "lengths": lengths}

    def _bpe_tokenizer(self):
        """The BPE vocabulary the model was trained with: `dna_tokenizer/` of its folder or Hub repo."""
        if getattr(self, "_bpe", None) is None:
            from transformers.utils import cached_file

            path = cached_file(self.model.name_or_path, "dna_tokenizer/tokenizer.json")
            cached_file(self.model.name_or_path, "dna_tokenizer/special_tokens_map.json",  # read beside it if any
                        _raise_exceptions_for_missing_entries=False)
            self._bpe = load_dnabert2_tokenizer(os.path.dirname(path))
        return self._bpe

    def _splice_sites(self) -> SpliceSiteScorers | None:
        """The splice-site scorers of a gene-structure model: SPLICE_SITES_FILE of its folder or Hub repo, if any."""
        from transformers.utils import cached_file

        path = cached_file(self.model.name_or_path, SPLICE_SITES_FILE, _raise_exceptions_for_missing_entries=False)
        return SpliceSiteScorers.load(path) if path else None

    def _coding_library(self) -> CodingLibrary | None:
        """The pre-trained coding statistics short inputs read: LIBRARY_FILE of the model's folder or Hub repo, if
        any."""
        from transformers.utils import cached_file

        path = cached_file(self.model.name_or_path, LIBRARY_FILE, _raise_exceptions_for_missing_entries=False)
        return CodingLibrary.from_file(path) if path else None

    def postprocess(self, model_outputs, eukaryote: bool = False):
        text = io.StringIO()
        written = write_gff3(text, model_outputs["genes"], model_outputs["lengths"], eukaryote=eukaryote)
        rows = genes_to_rows([g for _, g in written])
        for (gene_id, g), row in zip(written, rows):
            row.update(id=gene_id, seqid=g.seqid, start=g.start, end=g.end)
        return {"gff3": text.getvalue(), "genes": rows}


def _fetcher(fasta: FastaFile, name: str):
    return lambda a, b: fasta.fetch(name, a, b)
