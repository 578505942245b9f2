"""FASTA input: plain or gzipped, validated once, then random access through pyfaidx.

Why a validation pass before indexing: pyfaidx gives fast random access but only to plain (or BGZF) files
with regular line lengths, and it accepts any byte as a base. Users hand us `genome.fna.gz` from NCBI,
CRLF files from Windows, and the odd file with ragged lines. So `FastaFile` streams the source once,
checks every header and base (reporting `file:line` on the first problem), writes a normalised plain copy
(LF line ends, 80 columns, case kept) into a cache directory, and lets pyfaidx index that copy. Later
opens of the same unchanged file reuse the cache, so a 100 Mb chromosome is never held in memory.

Accepted bases: A C G T U N and the IUPAC ambiguity codes R Y K M S W B D H V, either case (lowercase =
soft-masked repeats, kept as written here; the DNA tokenizers decide what to do with case and IUPAC).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from pathlib import Path

import pyfaidx

from .errors import GeneFinderInputError, require_file

logger = logging.getLogger(__name__)

BASES = b"ACGTUNRYKMSWBDHVacgtunrykmswbdhv"
_LINE_WIDTH = 80


def default_cache_dir() -> Path:
    """Where normalised FASTA copies live: $GENEFINDER_CACHE, else ~/.cache/genefinder/fasta."""
    env = os.environ.get("GENEFINDER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "genefinder" / "fasta"


def open_text_or_gzip(path: str | os.PathLike):
    """Binary handle on a file, transparently decompressing gzip (detected by magic bytes, not suffix)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


class FastaFile:
    """A validated multi-record FASTA with random access.

    >>> fa = FastaFile("genome.fna.gz")           # doctest: +SKIP
    >>> fa.names, fa.length("chr1"), fa.fetch("chr1", 0, 10)   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
        self.path = str(path)
        require_file(self.path, "FASTA")
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        normalised = cache / f"{_cache_key(self.path)}.fa"
        if not (normalised.exists() and Path(f"{normalised}.fai").exists()):
            _normalise(self.path, normalised)
        self._faidx = pyfaidx.Fasta(str(normalised), as_raw=True, sequence_always_upper=False, rebuild=False)
        self.names: list[str] = [n for n in self._faidx.keys() if len(self._faidx[n]) > 0]
        if not self.names:
            raise GeneFinderInputError("no sequence records (is this a FASTA file?)", self.path)

    def length(self, name: str) -> int:
        return len(self._faidx[name])

    def fetch(self, name: str, start: int, end: int) -> str:
        """Bases [start, end) of record `name`, 0-based half-open, case as in the file."""
        if name not in self._faidx:
            raise GeneFinderInputError(f"no sequence named {name!r}", self.path)
        return self._faidx[name][start:end]

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def close(self) -> None:
        self._faidx.close()


def _cache_key(path: str) -> str:
    st = os.stat(path)
    ident = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(ident.encode()).hexdigest()[:24]


def _normalise(src: str, dst: Path) -> None:
    """Validate `src` and write the normalised copy (and its .fai) to `dst` atomically."""
    tmp = dst.with_suffix(f".tmp{os.getpid()}")
    names: set[str] = set()
    name, header_line, n_bases, empty = None, 0, 0, 0
    try:
        with open_text_or_gzip(src) as fin, open(tmp, "wb") as fout:
            pending = bytearray()
            for lineno, raw in enumerate(_lines(fin, src), start=1):
                line = raw.rstrip(b"\r\n")
                if line.startswith(b">"):
                    if name is not None:
                        empty += _finish_record(fout, pending, n_bases, name, src, header_line)
                    name = _record_name(line, src, lineno)
                    if name in names:
                        raise GeneFinderInputError(f"duplicate sequence name {name!r}", src, lineno)
                    names.add(name)
                    header_line, n_bases = lineno, 0
                    fout.write(b">" + name.encode() + b"\n")
                    continue
                if not line.strip():
                    continue
                if name is None:
                    raise GeneFinderInputError("sequence before the first '>' header (is this FASTA?)", src, lineno)
                bad = line.translate(None, BASES)
                if bad:
                    col = next(i for i, c in enumerate(line) if c not in BASES) + 1
                    raise GeneFinderInputError(
                        f"invalid character {chr(bad[0])!r} at column {col} (expected A,C,G,T,U,N or IUPAC codes)",
                        src, lineno)
                pending += line
                n_bases += len(line)
                while len(pending) >= _LINE_WIDTH:
                    fout.write(bytes(pending[:_LINE_WIDTH]) + b"\n")
                    del pending[:_LINE_WIDTH]
            if name is None:
                raise GeneFinderInputError("no sequence records (empty file, or no '>' header)", src)
            empty += _finish_record(fout, pending, n_bases, name, src, header_line)
        if empty == len(names):
            raise GeneFinderInputError("every record is empty (headers but no bases)", src)
        pyfaidx.Faidx(str(tmp), indexname=f"{dst}.fai", as_raw=True)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _lines(fin, src: str):
    try:
        yield from fin
    except (OSError, EOFError) as err:  # truncated or corrupt gzip
        raise GeneFinderInputError(f"cannot read: {err}", src) from None


def _record_name(header: bytes, src: str, lineno: int) -> str:
    fields = header[1:].split()
    if not fields:
        raise GeneFinderInputError("empty FASTA header", src, lineno)
    try:
        return fields[0].decode("ascii")
    except UnicodeDecodeError:
        raise GeneFinderInputError("non-ASCII sequence name", src, lineno) from None


def _finish_record(fout, pending: bytearray, n_bases: int, name: str, src: str, header_line: int) -> int:
    if pending:
        fout.write(bytes(pending) + b"\n")
        pending.clear()
    if n_bases == 0:
        logger.warning("%s:%d: record %r has no bases; skipped", src, header_line, name)
        return 1
    return 0
