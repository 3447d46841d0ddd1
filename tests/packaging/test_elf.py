"""packaging/elf.py on real binaries of this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import elf
import pytest


def test_reads_needed_libraries_and_glibc_versions_like_objdump() -> None:
    target = Path(sys.executable).resolve()
    info = elf.read(target)
    dump = subprocess.run(["objdump", "-p", str(target)], capture_output=True, text=True, check=True).stdout
    needed = [line.split()[1] for line in dump.splitlines() if line.strip().startswith("NEEDED")]
    assert info.needed == needed
    assert "libc.so.6" in info.needed
    versions = {w[6:] for w in dump.split() if w.startswith("GLIBC_") and w[6:7].isdigit()}
    assert info.glibc_versions == versions


def test_debug_info_detected_and_gone_after_strip(tmp_path: Path) -> None:
    """A small library built with -g: debug sections found, then removed by strip --strip-debug."""
    src = tmp_path / "lib.c"
    src.write_text("#include <math.h>\nint answer(double x) { return (int)sqrt(x); }\n", encoding="utf-8")
    lib = tmp_path / "libanswer.so"
    subprocess.run(["cc", "-g", "-shared", "-fPIC", "-o", str(lib), str(src), "-lm"], check=True)
    info = elf.read(lib)
    assert info.has_debug
    assert info.needed == ["libm.so.6"]
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
