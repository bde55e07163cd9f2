"""Making a document in a forked child while this process does other work.

A report's assembly runs in one work horse after every chunk is rendered, so the machine's other
cores have nothing to do meanwhile. Its two largest steps do not depend on each other: the class
page (2,000 students: decoding their stored metrics, their figures and a 33-page PDF, ~2 s of
CPU) and the merge of the chunks' documents (4,033 pages, ~2.5 s). The class page is made in a
child forked from the horse, which inherits the loaded renderer and the data, and hands back
bytes through a pipe; the merge goes on meanwhile and takes the class page when it needs it.

The child touches nothing it shares with its parent but the pipe: no database, no Redis, no
files. It leaves with ``os._exit``, so no inherited connection, pool or ``atexit`` handler is
closed or run from it. If the fork fails, or the child does, the work is done here instead:
a slower assembly, never a failed one.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)


def made_beside(work: Callable[[], bytes]) -> Callable[[], bytes]:
    """Start ``work`` in a forked child; the function returned waits for its bytes (and does
    the work itself if the child could not). Call it exactly once."""
    try:
        reading, writing = os.pipe()
    except OSError:
        return work
    try:
        pid = os.fork()
    except OSError:
        os.close(reading)
        os.close(writing)
        return work
    if pid == 0:  # the child
        os.close(reading)
        status = 1
        try:
            data = work()
            with os.fdopen(writing, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(writing)

    def result() -> bytes:
        with os.fdopen(reading, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            log.warning("the document made beside the assembly failed (exit status %d); making it here",
                        os.waitstatus_to_exitcode(status))
            return work()
        return data

    return result
