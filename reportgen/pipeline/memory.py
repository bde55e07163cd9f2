"""Give freed memory back to the system between the phases of a large job.

CPython frees a large job's objects (a merged PDF's object graph, a cohort's rows) into
glibc's heap, which keeps the pages: the process's resident size stays at its high-water
mark, and the next phase's large buffers (the bytes sent to the database) come on top of it.
``malloc_trim`` returns the free pages; measured on the 2,000-student PDF assembly
(``bench/cohort_bench.py``). Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release() -> None:
    """Collect garbage and hand the free heap pages back to the system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
