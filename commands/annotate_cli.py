"""`genefinder annotate GENOME.fa[.gz]`: a trained model over every record of a genome, to GFF3 (+ FASTA).

Resumable and shardable through the same files: each process appends every finished batch of windows as
one JSON line to `OUT.partial.<rank>.jsonl`; `--resume` skips the batches found there. After all
processes finish, the main process stitches the windows (annotation.stitch), writes the GFF3 to a
temporary file and renames it into place, then deletes the partial files. Under `accelerate launch
--num_processes P`, batch b of the run goes to process b mod P; batches are fixed by window index, so the
output is byte-identical to a one-process run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import yaml

from .annotate_eukaryote import GENE_STRUCTURE_MODEL_TYPE, model_type, run_gene_structure_annotation
from ..annotation.annotation import (JOIN_NT, AnnotationSettings, GeneFinderAnnotator, WindowPrediction,
                                     record_groups, stitch)
from ..decoding.genetic_code import GeneticCode
from ..formats.atomic_output import new_file_mode
from ..formats.errors import GeneFinderInputError
from ..formats.fasta import FastaFile
from ..formats.features import genes_from_rows, genes_to_rows
from ..formats.gff3 import write_gff3
from ..formats.windows import reverse_complement
from ..models.network_free_model import MODEL_TYPE, NetworkFreeModel, decodes_network_free, read_config
from ..prokaryotes.coding_library import LIBRARY_FILE, CodingLibrary
from ..prokaryotes.genetic_code_choice import choose_genetic_code

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "default_model"


def load_model(path: str | None, device: str, network_free: bool = False):
    """Model, GFF tokenizer and input builder from a model folder, with one-line errors.

    The installed package's classes load the folder (not the folder's own copy of the code), so the
    CLI runs the code it was installed with; the Hub path (`trust_remote_code`) is for other users.
    `network_free`, for settings that decode ORFs without the network: a model that can (has a coding-frame
    head and a start scorer) comes back as its start scorer alone (`network_free_model.NetworkFreeModel`, no
    tokenizer or input builder), several seconds sooner; any other model loads whole.
    """
    if path is None:
        if not (DEFAULT_MODEL / "config.json").exists():
            raise GeneFinderInputError("no trained default model is bundled yet; pass --model DIR")
        path = str(DEFAULT_MODEL)
    if not os.path.isdir(path):
        raise GeneFinderInputError("model folder not found (the CLI loads local folders; download Hub repos "
                                   "first with `huggingface-cli download REPO --local-dir DIR`)", path)
    missing = [f for f in ("config.json", "model.safetensors", "tokenizer_config.json")
               if not os.path.exists(os.path.join(path, f))]
    if missing:
        raise GeneFinderInputError(f"model folder is missing {', '.join(missing)}", path)
    try:
        config = read_config(path)
    except json.JSONDecodeError as err:
        raise GeneFinderInputError(f"config.json is not JSON: {err.msg}", f"{path}/config.json", err.lineno) from None
    if config.get("model_type") != MODEL_TYPE:
        raise GeneFinderInputError(f"config.json is for a {config.get('model_type')!r} model, not a genefinder model",
                                   path)
    try:
        library = CodingLibrary.from_folder(path)
    except Exception as err:  # a damaged file: one line naming it, not a traceback
        raise GeneFinderInputError(f"cannot read the coding library: {err}", os.path.join(path, LIBRARY_FILE)) from None
    if network_free and decodes_network_free(config):
        try:
            model = NetworkFreeModel.from_folder(path, config)
        except Exception as err:  # a damaged model.safetensors: one line naming the folder, not a traceback
            raise GeneFinderInputError(f"cannot read the start scorer from model.safetensors: {err}", path) from None
        model.coding_library = library
        return model, None, None
    from ..modeling_genefinder import GeneFinderForConditionalGeneration
    from ..processing_genefinder import GeneFinderInputs
    from ..tokenization.tokenization_dna import load_dnabert2_tokenizer
    from ..tokenization_gff import GFFTokenizer

    model = GeneFinderForConditionalGeneration.from_pretrained(path)
    model.coding_library = library  # read by the annotator, as on `NetworkFreeModel`
    tokenizer = GFFTokenizer.from_pretrained(path)
    encoder_type = model.config.encoder_config.encoder_type
    bpe = load_dnabert2_tokenizer(os.path.join(path, "dna_tokenizer")) if encoder_type == "dnabert2" else None
    return model.to(device), tokenizer, GeneFinderInputs(encoder_type, bpe)


def _genetic_code(text: str) -> int | str:
    """--genetic-code's value: an NCBI table number, or "auto"."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a table number or auto, got {text!r}") from None


def annotate_gene_structure(args) -> None:
    """The eukaryotic gene-structure model over the genome (commands/annotate_eukaryote.py)."""
    args.eukaryote = True  # a gene-structure model annotates eukaryotes only: gene -> mRNA -> exon/CDS
    if args.genetic_code == 11:  # the flag's bacterial default; the gene-structure decoder reads table 1
        args.genetic_code = 1
    if args.genetic_code != 1:
        raise GeneFinderInputError("the eukaryotic gene-structure model decodes under the standard code (table "
                                   f"1), not table {args.genetic_code}")
    run_gene_structure_annotation(args, lambda run_line: (
        f"processor genefinder {_version()}", f"genefinder-model {args.model or 'default_model_eukaryote (bundled)'}",
        f"genefinder-run {run_line}"), _write_outputs)


def run_annotation(args) -> None:
    from accelerate import PartialState
    from tqdm.auto import tqdm

    state = PartialState(cpu=args.device == "cpu")
    fa = FastaFile(args.genome)
    overrides = dict(args.settings)
    network_free = (overrides.get("head_weight", AnnotationSettings.head_weight) == 0
                    and overrides.get("decoding", AnnotationSettings.decoding) in ("auto", "orf") and not args.eukaryote)
    model, tok, inputs = load_model(args.model, "cpu" if args.device == "cpu" else str(state.device), network_free)
    window, overlap = AnnotationSettings.window_for(model.config, overrides.pop("window", None),
                                                    overrides.pop("overlap", None))
    if args.eukaryote and Path(args.model or DEFAULT_MODEL).resolve() == DEFAULT_MODEL.resolve() \
            and state.is_local_main_process:  # the path runs, but this model never saw an intron: say so up front
        print("genefinder: warning: the bundled default model was trained on bacteria only and finds few or no "
              "eukaryotic genes; for --eukaryote leave out --model (the bundled eukaryotic model) or pass one "
              "trained on eukaryotes", file=sys.stderr)

    def records():
        return (fa.fetch(name, 0, fa.length(name)) for name in fa.names)

    try:
        settings = AnnotationSettings(window=window, overlap=overlap, batch_size=args.batch_size,
                                      genetic_code=11 if args.genetic_code == "auto" else args.genetic_code,
                                      introns=args.eukaryote, **overrides)
        chosen_code = args.genetic_code == "auto"
        if chosen_code:
            args.genetic_code, scores = choose_genetic_code(model, settings, records)
            settings = replace(settings, genetic_code=args.genetic_code)
            if state.is_local_main_process:
                print(f"genetic code auto: table {args.genetic_code} (gene score per kb {scores[11]:.1f} under table "
                      f"11, {scores[4]:.1f} under table 4)", file=sys.stderr)
        annotator = GeneFinderAnnotator(model, tok, inputs, settings)
    except ValueError as err:
        raise GeneFinderInputError(str(err)) from None
    out = Path(args.output)
    partial = out.parent / f"{out.name}.partial.{state.process_index}.jsonl"
    done = _read_partials(out) if args.resume else {}
    if not args.resume:
        partial.unlink(missing_ok=True)
    independent = args.independent_records and annotator.decoding == "orf"
    if independent and state.is_local_main_process:
        print(f"annotating each of the {len(fa.names):,} records of {args.genome} as an input of its own",
              file=sys.stderr)
    elif state.is_local_main_process and annotator.self_trains:
        print(f"self-training on {args.genome} ({sum(fa.length(n) for n in fa.names):,} nt of network-free "
              "passes)", file=sys.stderr)
    if not independent:
        annotator.self_train(records)
    if state.is_local_main_process and annotator.pretrained_statistics:
        print(f"{args.genome} is under --min-self-training-nt ({settings.min_self_training_nt:,} nt): hexamer "
              "statistics from the model's coding library, at the input's GC content", file=sys.stderr)
    plans = {name: annotator.plan(fa.length(name)) for name in fa.names}
    total = sum(n for plan in plans.values() for _, n in plan)  # nt of the units of work (windows overlap)
    bar = tqdm(total=total, unit="nt", unit_scale=True, desc=f"annotate ({annotator.decoding}, nt)", file=sys.stderr,
               disable=not state.is_local_main_process)
    with open(partial, "a", encoding="utf-8") as log:
        for batch_no, (names, idx) in enumerate(_units_of_work(annotator, fa, plans, independent)):
            mine = batch_no % state.num_processes == state.process_index
            if mine and not all((name, plans[name][i][0]) in done for name in names for i in idx):
                if independent:  # the record alone: its own self-training (or the library), its own decoding
                    name, alone = names[0], GeneFinderAnnotator(model, tok, inputs, settings)
                    alone.self_train(lambda: [fa.fetch(name, 0, fa.length(name))])
                    preds = alone.annotate_record(name, fa.length(name), lambda s, e: fa.fetch(name, s, e),
                                                  progress=bar.update)
                elif len(names) > 1:  # short records, decoded joined
                    preds = annotator.annotate_joined(names, [fa.fetch(n, 0, fa.length(n)) for n in names],
                                                      progress=bar.update)
                else:
                    name = names[0]
                    preds = annotator.annotate_record(name, fa.length(name), lambda s, e: fa.fetch(name, s, e),
                                                      idx, progress=bar.update)
                log.write(json.dumps([{"seqid": p.seqid, "start": p.start, "length": p.length,
                                       "genes": genes_to_rows(list(p.genes))} for p in preds]) + "\n")
                log.flush()
            else:  # done earlier or by another process: the main process's bar shows the whole run's pace
                bar.update(sum(plans[name][i][1] for name in names for i in idx))
    bar.close()
    state.wait_for_everyone()
    if state.is_main_process:
        by_record: dict[str, list[WindowPrediction]] = {}  # one pass: a draft assembly has thousands of records
        for (seqid, _), p in _read_partials(out).items():
            by_record.setdefault(seqid, []).append(p)
        genes = [g for name in fa.names for g in stitch(by_record.get(name, []), fa.length(name))]
        run_line = f"decoding=orf genetic_code={settings.genetic_code} records=independent" if independent \
            else annotator.provenance()
        if chosen_code:
            run_line += " (genetic code chosen by --genetic-code auto)"
        _write_outputs(args, fa, genes, (f"processor genefinder {_version()}",
                                         f"genefinder-model {args.model or 'default_model (bundled)'}",
                                         f"genefinder-run {run_line}"))
        if not chosen_code:  # --genetic-code auto has weighed table 4 already
            _check_coding_density(args, fa, genes, settings)
        for p in out.parent.glob(f"{out.name}.partial.*.jsonl"):
            p.unlink()


LOW_DENSITY = 0.75  # share of a genome in genes under table 11 below which table 4 may be what it uses
MIN_DENSITY_NT = 500_000  # nt below which the share says little (docs/results/genetic_code_choice.md, slices)


def _check_coding_density(args, fa: FastaFile, genes, settings: AnnotationSettings) -> None:
    """Warn when bacterial genes under table 11 cover little of a long input: the genome may read TGA as Trp.
    On the shared genomes, decoded as `--genetic-code auto` decodes them, genes cover 83-90% of the four table-11
    genomes and 69% of M. genitalium under table 11 (docs/results/genetic_code_choice.md); of their slices of 500 kb,
    decoded alone, at least 80% in the training genomes, while a 100-kb slice of S. aureus falls to 71%. Not
    called after `--genetic-code auto`, whose choice is what the warning would suggest (a table-11 genome of low
    coding density, such as the archaeon M. acetivorans at 73%, keeps table 11 there)."""
    total = sum(fa.length(n) for n in fa.names)
    if settings.genetic_code != 11 or settings.introns or total < MIN_DENSITY_NT or not genes:
        return
    covered = sum(g.end - g.start + 1 for g in genes)  # called genes barely overlap (at most max_overlap nt)
    if covered / total < LOW_DENSITY:
        print(f"genefinder: warning: genes cover {covered / total:.0%} of {args.genome} under table 11, less than "
              "of a bacterial genome: if it reads TGA as Trp (Mycoplasma, Spiroplasma), try --genetic-code auto; a "
              "eukaryote needs --eukaryote", file=sys.stderr)


def _units_of_work(annotator: GeneFinderAnnotator, fa: FastaFile, plans: dict[str, list[tuple[int, int]]],
                   independent: bool = False) -> Iterator[tuple[list[str], list[int]]]:
    """(records, indices into each one's plan) of each batch, fixed by the input alone (never by process):
    `independent` records (ORF decoding), one whole record each; with network-free ORF decoding, consecutive records
    grouped as self-training joins them (`record_groups`: the whole record each); otherwise `batch_size` windows
    of one record at a time."""
    if independent:
        for name in fa.names:
            yield [name], [0]
        return
    if annotator.joins_records:
        for names in record_groups(fa.names, fa.length, JOIN_NT, len(annotator.separator)):
            yield names, [0]
        return
    for name in fa.names:
        plan = plans[name]
        for b in range(0, len(plan), annotator.settings.batch_size):
            yield [name], list(range(b, min(b + annotator.settings.batch_size, len(plan))))


def _read_partials(out: Path) -> dict[tuple[str, int], WindowPrediction]:
    found = {}
    for path in sorted(out.parent.glob(f"{out.name}.partial.*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    batch = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a batch cut short by the interruption: it is simply redone
                for w in batch:
                    found[(w["seqid"], w["start"])] = WindowPrediction(
                        w["seqid"], w["start"], w["length"], tuple(genes_from_rows(w["genes"])))
    return found


def _version() -> str:
    try:
        return importlib.metadata.version("genefinder")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _write_outputs(args, fa: FastaFile, genes, pragmas: tuple[str, ...] = ()) -> None:
    """GFF3 (and protein / CDS FASTA) written to temporary files, then renamed: never a partial output; `pragmas`,
    the run's provenance (`gff3.write_gff3`)."""
    code = GeneticCode(args.genetic_code)
    targets = [(args.output, "gff")] + [(p, kind) for p, kind in ((args.proteins, "faa"), (args.cds, "fna")) if p]
    temps = {}
    try:
        for path, kind in targets:
            fd, tmp = tempfile.mkstemp(prefix=".genefinder.", dir=os.path.dirname(os.path.abspath(path)))
            temps[kind] = (tmp, path)
            os.close(fd)
        with open(temps["gff"][0], "w", encoding="utf-8") as fh:
            written = write_gff3(fh, genes, {n: fa.length(n) for n in fa.names}, eukaryote=args.eukaryote,
                                 pragmas=pragmas)
        for kind in ("faa", "fna"):
            if kind not in temps:
                continue
            with open(temps[kind][0], "w", encoding="utf-8") as fh:
                for gene_id, g in written:
                    for n, t in enumerate(g.transcripts, start=1):
                        if not t.cds:
                            continue
                        seq = "".join(fa.fetch(g.seqid, c.start - 1, c.end) for c in t.cds).upper()
                        if g.strand == "-":
                            seq = reverse_complement(seq)
                        first = t.cds[0].phase if g.strand == "+" else t.cds[-1].phase
                        body = code.translate(seq[first:]).rstrip("*") if kind == "faa" else seq
                        fh.write(f">{gene_id}.t{n} {g.seqid}:{t.start}-{t.end}({g.strand})\n")
                        fh.writelines(body[i:i + 60] + "\n" for i in range(0, len(body), 60))
        for tmp, path in temps.values():
            os.chmod(tmp, new_file_mode())  # the umask's permissions, not mkstemp's 0600
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)


def _setting(text: str) -> tuple[str, object]:
    """--set's KEY=VALUE, the value read as YAML (numbers, true/false, null, text)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip().replace("-", "_"), yaml.safe_load(value)
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"cannot read the value of {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    files = parser.add_argument_group("input and output")
    files.add_argument("genome", help="FASTA (plain or .gz), one or many records")
    files.add_argument("-o", "--output", required=True, help="GFF3 to write (atomically, when the run is done)")
    files.add_argument("--proteins", help="also write protein FASTA (like Prodigal -a)")
    files.add_argument("--cds", help="also write CDS nucleotide FASTA (like Prodigal -d)")
    files.add_argument("--resume", action="store_true", help="continue an interrupted run with the same -o")
    organism = parser.add_argument_group("organism and model")
    organism.add_argument("--eukaryote", action="store_true",
                          help="genes with introns: the bundled eukaryotic gene-structure model (or --model one), "
                               "written gene -> mRNA -> exon/CDS; default: prokaryote, gene -> CDS")
    organism.add_argument("--model", help="model folder (default: the bundled bacterial model, or the bundled "
                          "eukaryotic model with --eukaryote); a Hub repo id is read from the local Hub cache")
    organism.add_argument("--genetic-code", type=_genetic_code, default=11,
                          help="NCBI table: 11 bacteria (default), 4 Mycoplasma, 1 eukaryotes (--eukaryote reads 1); "
                               "auto: 11 or 4, whichever the input's own genes fit better")
    organism.add_argument("--independent-records", action="store_true",
                          help="bacteria: records of different organisms (phages, plasmids, a metagenome), each "
                               "self-trained alone, as Prodigal -p meta treats them; default: one genome")
    decoding = parser.add_argument_group("decoding")
    decoding.add_argument("--set", dest="settings", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                          help="override one decoding setting of the model, repeatable: bacteria, a field of "
                               "annotation.AnnotationSettings (e.g. closed_ends=true, decoding=generate, window=16384); "
                               "eukaryotes, of GeneStructureDecodingParams (e.g. gene_start=-12)")
    machine = parser.add_argument_group("machine")
    machine.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                         help="where the network runs (default: CUDA when available)")
    machine.add_argument("--batch-size", type=int, default=8, help="windows per network call (default 8)")


def model_folder(model: str | None) -> str | None:
    """--model as a local folder: a folder as given, or a Hub repo id (OWNER/NAME) fetched with huggingface_hub
    (from the local cache when offline)."""
    if model is None or os.path.isdir(model) or model.count("/") != 1 or model.startswith((".", "/")):
        return model
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return snapshot_download(model)
    except LocalEntryNotFoundError:
        raise GeneFinderInputError("not a local folder, and the Hub repo is neither cached nor reachable (offline?)",
                                   model) from None
    except (HfHubHTTPError, OSError, ValueError) as err:
        raise GeneFinderInputError(f"cannot fetch the Hub repo: {str(err).splitlines()[0]}", model) from None


def typed_settings(settings: dict, cls) -> dict:
    """--set values as the dataclass `cls` declares them: an integer given for a float field becomes a float."""
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    return {k: float(v) if "float" in types.get(k, "") and isinstance(v, int) and not isinstance(v, bool) else v
            for k, v in settings.items()}


def check_outputs(args) -> None:
    """Refuse output paths that cannot be written before any work starts."""
    for flag, path in (("-o", args.output), ("--proteins", args.proteins), ("--cds", args.cds)):
        if path is None:
            continue
        target = Path(path)
        if target.is_dir():
            raise GeneFinderInputError(f"{flag} names a directory, not a file to write", path)
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise GeneFinderInputError(f"{flag}: the folder {parent} does not exist", path)
        if not os.access(parent, os.W_OK):
            raise GeneFinderInputError(f"{flag}: the folder {parent} is not writable", path)


def run(args) -> None:
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise GeneFinderInputError("--device cuda, but no CUDA device is available")
    check_outputs(args)
    args.model = model_folder(args.model)
    gene_structure = (args.eukaryote and args.model is None) or (
        args.model is not None and model_type(args.model) == GENE_STRUCTURE_MODEL_TYPE)
    if gene_structure:  # imported only here: the bacterial path never loads the eukaryotic decoder (numba)
        from ..annotation.gene_structure_annotation import DECODING_FIELDS
        from ..decoding.gene_structure_viterbi import GeneStructureDecodingParams
    args.settings = list(typed_settings(dict(args.settings), GeneStructureDecodingParams if gene_structure
                                        else AnnotationSettings).items())
    settings = dict(args.settings)
    try:
        if gene_structure:
            unknown = sorted(set(settings) - set(DECODING_FIELDS))
            if unknown:
                raise ValueError(f"--set: unknown eukaryotic decoding setting(s) {unknown}; known: {DECODING_FIELDS}")
            return annotate_gene_structure(args)
        fields = {f.name for f in dataclasses.fields(AnnotationSettings)} - {"batch_size", "genetic_code", "introns"}
        unknown = sorted(set(settings) - fields)
        if unknown:
            raise ValueError(f"--set: unknown setting(s) {unknown}; known: {sorted(fields)}")
        generate = settings.get("decoding") == "generate"
        for flag, on in (("--genetic-code auto", args.genetic_code == "auto"),
                         ("--independent-records", args.independent_records)):
            if on and (args.eukaryote or generate):
                raise ValueError(f"{flag} is for bacterial ORF decoding, not --eukaryote or decoding=generate")
        GeneticCode(11 if args.genetic_code == "auto" else args.genetic_code)
        AnnotationSettings(*AnnotationSettings.window_for(None, settings.get("window"), settings.get("overlap")),
                           batch_size=args.batch_size,
                           **{k: v for k, v in settings.items() if k not in ("window", "overlap")})  # before loading
    except (ValueError, TypeError) as err:
        raise GeneFinderInputError(str(err)) from None
    run_annotation(args)
