"""Counting the GUI thread's calls into a Python function: the tests that keep Qt from
calling Python per line, card or edge (each call waits for the interpreter lock while a
run's engine thread holds it) count them with this."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def python_calls(name: str, filenames: set[str], action: Callable[[], Any]) -> int:
    """How many times Python code `name` in one of `filenames` ran while `action` ran."""
    calls = [0]

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == name and frame.f_code.co_filename in filenames:
            calls[0] += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls[0]
