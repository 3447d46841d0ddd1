"""Full garbage collections wait while a run streams events; everything is restored after."""

from __future__ import annotations

import gc

import pytest

from app.runner import gc_pacer


@pytest.fixture(autouse=True)
def _no_run_left():
    assert not gc_pacer.active()
    yield
    while gc_pacer.active():
        gc_pacer.run_stopped()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_run_freezes_what_lives_and_pauses_full_collections():
    before = gc.get_threshold()
    gc_pacer.run_started()
    assert gc.get_freeze_count() > 0  # the document and the scene are not walked again
    assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] > 10**6
    gc_pacer.run_started()  # a second run (e.g. a sub-window) nests
    gc_pacer.run_stopped()
    assert gc_pacer.active()
    gc_pacer.run_stopped()
    assert not gc_pacer.active()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    gc_pacer.run_stopped()  # unbalanced stop: harmless
    assert gc.get_threshold() == before


def test_young_cycles_are_still_freed_during_a_run():
    gc_pacer.run_started()
    import weakref

    ref = weakref.ref(_Cycle())
    gc.collect(0)
    assert ref() is None


def test_a_long_run_still_gets_a_full_collection_now_and_then(monkeypatch):
    gc_pacer.run_started()
    import weakref

    obj = _Cycle()
    ref = weakref.ref(obj)
    gc.collect(1)  # survives into the oldest generation
    del obj
    gc_pacer.tick()  # not yet due
    assert ref() is not None
    monkeypatch.setattr(gc_pacer, "FULL_EVERY_S", 0.0)
    gc_pacer.tick()
    assert ref() is None
