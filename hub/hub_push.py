"""`genefinder push-to-hub OUT_DIR REPO_ID [--dry-run] [--private]`: upload an exported model folder to the Hub.

Uses `huggingface_hub.HfApi`: `create_repo(exist_ok=True)` then one `upload_folder` commit. The token is
the usual one (`HF_TOKEN` or `hf auth login`). `--dry-run` lists the files and sizes and touches nothing.
A failure (no network, no token, no permission) prints one line and exits with status 1.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..formats.errors import GeneFinderInputError

REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")


def upload_plan(folder: str | Path) -> list[tuple[str, int]]:
    """(path in repo, bytes) of every file `push` would upload, after checking this is an exported folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GeneFinderInputError("folder not found", str(folder))
    for name in ("config.json", "model.safetensors", "README.md"):
        if not (folder / name).is_file():
            raise GeneFinderInputError(f"no {name}: push a folder written by `genefinder export`", str(folder))
    return [(p.relative_to(folder).as_posix(), p.stat().st_size) for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def push(folder: str | Path, repo_id: str, private: bool = False, dry_run: bool = False) -> str | None:
    """Upload `folder` to model repo `repo_id`; return the commit URL (None on a dry run)."""
    if not REPO_ID.match(repo_id):
        raise GeneFinderInputError(f"REPO_ID must look like 'owner/name' or 'name', got {repo_id!r}")
    plan = upload_plan(folder)
    if dry_run:
        total = sum(size for _, size in plan)
        print(f"dry run: would create {'private' if private else 'public'} model repo {repo_id} (if missing) and "
              f"upload {len(plan)} files, {total / 1e6:.2f} MB:")
        for path, size in plan:
            print(f"  {path}  ({size:,} bytes)")
        return None
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, private=private, repo_type="model", exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                             commit_message=f"genefinder export ({len(plan)} files)", ignore_patterns=[".*"])
    return getattr(info, "commit_url", str(info))


# ---------------------------------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="a folder written by `genefinder export`")
    parser.add_argument("repo_id", help="Hub model repository, e.g. your-name/genefinder-ecoli")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded; upload nothing")
    parser.add_argument("--private", action="store_true", help="create the repository as private")


def run(args) -> int:
    try:
        url = push(args.folder, args.repo_id, private=args.private, dry_run=args.dry_run)
    except GeneFinderInputError:
        raise
    except Exception as err:  # network, auth, permission: one line, not a traceback
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"genefinder: push-to-hub failed: {type(err).__name__}: {first}", file=sys.stderr)
        return 1
    if url:
        print(url)
    return 0
