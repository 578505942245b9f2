"""hub/remote_code.py and `genefinder export --refresh-code`: the explicit remote-code lists are the import
closures of their entry points, written flat they import only siblings, and default_model/ holds exactly a fresh
flat copy of the package's files (so its code cannot go stale)."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genefinder.hub.hub_export import REMOTE_CODE_SETS, code_set, refresh_code
from genefinder.hub.remote_code import ENCODER_FILES, HUB_FILES, flat_source, write_remote_code

PACKAGE = Path(__file__).resolve().parents[1]
FOLDER = PACKAGE / "default_model"


def relative_imports(path: Path) -> set[str]:
    """Package paths of the modules `path` imports relatively, anywhere in the file (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.module, f"{path}: `from . import` is not resolvable as one sibling file"
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            target = base.joinpath(*node.module.split(".")).with_suffix(".py")
            assert target.is_file(), f"{path}: {node.module} is not a module file"
            found.add(target.relative_to(PACKAGE).as_posix())
    return found


def import_closure(entry_points) -> set[str]:
    todo, seen = list(entry_points), set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(relative_imports(PACKAGE / path))
    return seen


@pytest.mark.parametrize("entry_points, files", REMOTE_CODE_SETS)
def test_each_file_list_is_the_import_closure_of_its_entry_points(entry_points, files):
    assert len(files) == len(set(files)) and sorted(files) == sorted(import_closure(entry_points))
    names = [Path(p).name for p in files]
    assert len(names) == len(set(names))  # flat in one folder


def test_flat_copies_import_only_their_siblings(tmp_path):
    written = write_remote_code(tmp_path, HUB_FILES)
    names = {p.name for p in written}
    for path in written:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and f"{node.module}.py" in names, (path.name, node.module)
    assert flat_source("    from ..formats.fasta import FastaFile\n") == "    from .fasta import FastaFile\n"
    with pytest.raises(ValueError, match="basenames must be unique"):
        write_remote_code(tmp_path, ("formats/errors.py", "formats/errors.py"))


def test_default_model_holds_a_fresh_flat_copy_of_the_package_code():
    files = code_set(FOLDER)
    assert files == HUB_FILES
    assert sorted(p.name for p in FOLDER.glob("*.py")) == sorted(Path(p).name for p in files)
    for path in files:
        copy = FOLDER / Path(path).name
        assert not copy.is_symlink(), copy
        assert copy.read_text() == flat_source((PACKAGE / path).read_text()), \
            f"{copy} is stale: run `genefinder export --refresh-code default_model`"


def test_refresh_code_command_rewrites_the_code_and_drops_stale_files(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(FOLDER, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / "fasta.py").write_text("stale\n")
    (folder / "old_module.py").write_text("stale\n")
    (folder / "grammar.py").unlink()
    res = subprocess.run([str(Path(sys.executable).parent / "genefinder"), "export", "--refresh-code", str(folder)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in folder.glob("*.py")) == sorted(p.name for p in FOLDER.glob("*.py"))
    assert all((folder / p.name).read_text() == p.read_text() for p in FOLDER.glob("*.py"))


def test_refresh_code_picks_the_encoder_set_and_refuses_an_unknown_auto_map(tmp_path):
    from genefinder.models.configuration_encoders import ENCODER_AUTO_MAP

    (tmp_path / "config.json").write_text(json.dumps({"auto_map": ENCODER_AUTO_MAP}))
    assert {p.name for p in refresh_code(tmp_path)} == {Path(p).name for p in ENCODER_FILES}
    from genefinder.formats.errors import GeneFinderInputError

    (tmp_path / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "modeling_other.Model"}}))
    with pytest.raises(GeneFinderInputError, match="no remote-code set"):
        refresh_code(tmp_path)
