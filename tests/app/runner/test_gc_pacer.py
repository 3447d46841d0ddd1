"""Full garbage collections wait while a run streams events, and after it until the studio is idle."""

from __future__ import annotations

import gc
import weakref

import pytest

from app.runner import gc_pacer


@pytest.fixture(autouse=True)
def _no_run_left():
    assert not gc_pacer.active()
    yield
    while gc_pacer.active():
        gc_pacer.run_stopped()
    gc_pacer.release()


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
    paused = gc.get_threshold()
    assert paused[2] > 10**6 and gc_pacer.owed()  # no automatic full collection right after the run
    gc_pacer.run_stopped()  # unbalanced stop: harmless
    assert gc.get_threshold() == paused
    assert gc_pacer.collect_owed() > 0.0  # step 1: the run's objects
    assert gc.get_threshold() == before  # automatic full collections again...
    assert gc.get_freeze_count() > 0 and gc_pacer.owed()  # ...of what is new: the rest is a step of its own
    gc_pacer.collect_owed()  # step 2: the rest
    assert gc.get_freeze_count() == 0 and not gc_pacer.owed()
    assert gc_pacer.collect_owed() == 0.0


def test_the_first_step_frees_a_runs_own_garbage_without_walking_what_was_frozen():
    frozen = _frozen_garbage()
    obj = _Cycle()  # made during the run, lives into the oldest generation, then dropped
    made = weakref.ref(obj)
    gc.collect(1)
    del obj
    gc.collect(1)
    assert made() is not None  # young collections do not reach it
    gc_pacer.run_stopped()
    gc_pacer.collect_owed()
    assert made() is None and frozen() is not None and gc_pacer.owed()
    gc_pacer.collect_owed()
    assert frozen() is None and not gc_pacer.owed()


def test_young_cycles_are_still_freed_during_a_run():
    gc_pacer.run_started()
    ref = weakref.ref(_Cycle())
    gc.collect(0)
    assert ref() is None


def test_a_long_run_still_gets_a_full_collection_now_and_then(monkeypatch):
    gc_pacer.run_started()
    obj = _Cycle()
    ref = weakref.ref(obj)
    gc.collect(1)  # survives into the oldest generation
    del obj
    gc_pacer.tick()  # not yet due
    assert ref() is not None
    monkeypatch.setattr(gc_pacer, "FULL_EVERY_S", 0.0)
    gc_pacer.tick()
    assert ref() is None


def _frozen_garbage() -> weakref.ref:
    """A cycle that lives through a run's start (so it is frozen) and is dropped during the run."""
    obj = _Cycle()
    ref = weakref.ref(obj)
    gc_pacer.run_started()
    del obj
    gc.collect()  # frozen: not even a full collection sees it
    assert ref() is not None
    return ref


def test_the_end_of_a_run_collects_nothing_until_the_studio_is_left_alone(qtbot, monkeypatch):
    monkeypatch.setattr(gc_pacer, "IDLE_S", 0.2)
    ref = _frozen_garbage()
    gc_pacer.run_stopped()
    gc.collect()  # what Python would do on its own right after the run: the heap is not walked
    assert ref() is not None and gc_pacer.owed()
    qtbot.waitUntil(lambda: not gc_pacer.owed(), timeout=5000)  # no input for IDLE_S: collected
    assert ref() is None and gc.get_freeze_count() == 0


def test_input_puts_the_owed_collection_off(qtbot, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLineEdit

    monkeypatch.setattr(gc_pacer, "IDLE_S", 1.0)
    field = QLineEdit()
    qtbot.addWidget(field)
    field.show()
    gc_pacer.run_started()
    gc_pacer.run_stopped()
    timer = gc_pacer._idle.timer
    qtbot.waitUntil(lambda: timer.remainingTime() < 500, timeout=5000)
    qtbot.keyClick(field, Qt.Key.Key_A)  # typing: the countdown starts again
    assert timer.remainingTime() > 600 and gc_pacer.owed()
    qtbot.waitUntil(lambda: not gc_pacer.owed(), timeout=5000)


def test_a_new_run_puts_the_owed_collection_off_until_its_own_end(qtbot, monkeypatch):
    monkeypatch.setattr(gc_pacer, "IDLE_S", 0.2)
    ref = _frozen_garbage()
    gc_pacer.run_stopped()
    gc_pacer.run_started()
    assert not gc_pacer._idle.timer.isActive()
    assert gc_pacer.collect_owed() == 0.0 and gc_pacer.owed() and ref() is not None  # not mid-run
    gc_pacer.run_stopped()
    qtbot.waitUntil(lambda: ref() is None, timeout=5000)


def test_shutting_the_run_tools_down_gives_the_heap_back():
    ref = _frozen_garbage()
    before = gc_pacer._saved
    gc_pacer.run_stopped()
    gc_pacer.release()
    assert gc.get_freeze_count() == 0 and not gc_pacer.owed()
    assert gc.get_threshold() == before
    gc.collect()
    assert ref() is None


def test_back_to_back_runs_leave_their_garbage_to_the_first_step():
    """A run starting before the last one's objects were collected does not freeze them: its
    own first step frees both runs' garbage, and the costly second step finds none of it."""
    gc_pacer.run_started()
    obj = _Cycle()  # the first run's garbage, in the oldest generation
    first = weakref.ref(obj)
    gc.collect(1)
    del obj
    gc_pacer.run_stopped()
    gc_pacer.run_started()  # the next run, at once
    gc_pacer.run_stopped()
    gc_pacer.collect_owed()
    assert first() is None and gc_pacer.owed()
