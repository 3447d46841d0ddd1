"""packaging/elf.py on real binaries of this machine."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import elf


def test_reads_needed_libraries_and_glibc_versions_like_objdump() -> None:
    target = Path(sys.executable).resolve()
    info = elf.read(target)
    dump = subprocess.run(["objdump", "-p", str(target)], capture_output=True, text=True, check=True).stdout
    needed = [line.split()[1] for line in dump.splitlines() if line.strip().startswith("NEEDED")]
    assert info.needed == needed
    assert "libc.so.6" in info.needed
    versions = {w[6:] for w in dump.split() if w.startswith("GLIBC_") and w[6:7].isdigit()}
    assert info.glibc_versions == versions


def _extension(name: str) -> Path:
    # where the interpreter really loads it from (a venv's platstdlib has no lib-dynload)
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin and spec.origin.endswith(".so"), f"no {name} extension in this Python"
    return Path(spec.origin)


def test_debug_info_detected_and_gone_after_strip(tmp_path: Path) -> None:
    """A real extension given a .debug_info section (objcopy): found, then removed by strip --strip-debug."""
    lib = tmp_path / "ext.so"
    shutil.copy(_extension("_sqlite3"), lib)
    subprocess.run(["strip", "--strip-debug", str(lib)], check=True)
    assert not elf.read(lib).has_debug
    payload = tmp_path / "payload"
    payload.write_bytes(b"\0" * 64)
    subprocess.run(["objcopy", f"--add-section=.debug_info={payload}", str(lib)], check=True)
    info = elf.read(lib)
    assert info.has_debug
    assert "libsqlite3.so.0" in info.needed
    subprocess.run(["strip", "--strip-debug", str(lib)], check=True)
    stripped = elf.read(lib)
    assert not stripped.has_debug
    assert stripped.needed == info.needed


def test_non_elf_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "x.so"
    text.write_text("not a binary", encoding="utf-8")
    assert not elf.is_elf(text)
    with pytest.raises(ValueError, match="not a 64-bit"):
        elf.read(text)


def test_version_key_orders_numerically() -> None:
    assert sorted(["2.9", "2.36", "2.2.5"], key=elf.version_key) == ["2.2.5", "2.9", "2.36"]
