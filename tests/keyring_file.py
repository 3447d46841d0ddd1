"""A real, file-backed keyring for tests (keyrings.alt PlaintextKeyring in a temp dir).

`file_keyring(tmp_path)` installs it in this process and returns the env vars that
make a child process (the CLI) use the same file: keyring reads
PYTHON_KEYRING_BACKEND, and keyrings.alt puts its file under XDG_DATA_HOME.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
from keyrings.alt.file import PlaintextKeyring

BACKEND = "keyrings.alt.file.PlaintextKeyring"


@contextmanager
def file_keyring(root: Path) -> Iterator[tuple[PlaintextKeyring, dict[str, str]]]:
    data = root / "xdg-data"
    data.mkdir(parents=True, exist_ok=True)
    backend = PlaintextKeyring()
    backend.file_path = str(data / "python_keyring" / backend.filename)
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend, {"PYTHON_KEYRING_BACKEND": BACKEND, "XDG_DATA_HOME": str(data)}
    finally:
        keyring.set_keyring(previous)
