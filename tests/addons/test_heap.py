import gc

from stickyguard.addons import heap


def test_the_start_up_heap_is_frozen_once(monkeypatch):
    monkeypatch.setattr(heap, "_frozen", False)
    try:
        heap.freeze_startup_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        kept = [object() for _ in range(10)]  # noqa: F841  (made after the freeze)
        heap.freeze_startup_heap()  # a second addon's running hook: nothing more is frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
