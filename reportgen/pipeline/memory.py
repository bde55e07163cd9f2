"""Give freed memory back to the system between the phases of a large job.

CPython frees a large job's objects (a merged PDF's object graph, a cohort's rows) into
glibc's heap, which keeps the pages: the process's resident size stays at its high-water
mark, and the next phase's large buffers (the bytes sent to the database) come on top of it.
``malloc_trim`` returns the free pages; measured on the 2,000-student PDF assembly
(``bench/cohort_bench.py``). Elsewhere than glibc it does nothing.

A threaded web process has the same problem across threads: glibc gives each thread a heap
(arena) of its own, and an upload parsed in one thread leaves its high-water mark there while
the next one, parsed in another, grows a second (five uploads at the cap one after another:
263, 282, 299 MiB). ``single_heap`` makes the threads share one, so the next parse reuses what
the last freed (263 MiB each time).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc


@functools.cache
def _libc():
    """glibc's functions, or None elsewhere."""
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return library if library is not None and hasattr(library, "malloc_trim") else None


def release() -> None:
    """Collect garbage and hand the free heap pages back to the system."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


#: glibc's ``mallopt`` parameter for the number of heaps (``M_ARENA_MAX``).
M_ARENA_MAX = -8


def single_heap() -> None:
    """Make every thread of this process allocate from one glibc heap (before it starts them)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, 1)
