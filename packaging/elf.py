"""Just enough ELF reading for packaging: debug sections, DT_NEEDED and glibc versions.

The build uses it to strip debug info only where there is some (pyenv builds
of libpython and C extensions carry it; auditwheel-patched wheel libraries are
better left untouched) and to derive the .deb's Depends from what the bundle
links against but does not carry.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NEEDED = 1


@dataclass
class ElfInfo:
    path: Path
    has_debug: bool = False
    needed: list[str] = field(default_factory=list)
    glibc_versions: set[str] = field(default_factory=set)


def is_elf(path: Path) -> bool:
    if not path.is_file() or path.is_symlink():
        return False
    with path.open("rb") as fh:
        return fh.read(4) == ELF_MAGIC


def read(path: Path) -> ElfInfo:
    """Section names, DT_NEEDED entries and GLIBC_x.y version needs of a 64-bit little-endian ELF."""
    data = path.read_bytes()
    if data[:4] != ELF_MAGIC or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = []
    for i in range(shnum):
        name, stype, _flags, _addr, offset, size, link, info, _align, entsize = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize
        )
        sections.append((name, stype, offset, size, link, info, entsize))
    info = ElfInfo(path)
    if not sections:
        return info

    def cstr(table: int, offset: int) -> str:
        start = sections[table][2] + offset
        return data[start : data.index(b"\0", start)].decode("utf-8", "replace")

    names = [cstr(shstrndx, s[0]) for s in sections]
    info.has_debug = any(n.startswith((".debug_", ".zdebug_")) for n in names)
    for _name, stype, offset, size, link, count, entsize in sections:
        if stype == SHT_DYNAMIC:
            for pos in range(offset, offset + size, entsize or 16):
                tag, val = struct.unpack_from("<qQ", data, pos)
                if tag == DT_NEEDED:
                    info.needed.append(cstr(link, val))
        elif stype == SHT_GNU_VERNEED:
            pos = offset
            for _ in range(count):
                _ver, cnt, _file, aux, nxt = struct.unpack_from("<HHIII", data, pos)
                apos = pos + aux
                for _ in range(cnt):
                    _hash, _flags, _other, vname, anext = struct.unpack_from("<IHHII", data, apos)
                    name = cstr(link, vname)
                    if name.startswith("GLIBC_") and re.fullmatch(r"GLIBC_\d+(\.\d+)*", name):
                        info.glibc_versions.add(name[6:])
                    apos += anext
                pos += nxt
    return info


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))
