"""Keeping medr1's data output apart from whatever plugins print.

Commands whose stdout is data (``rewards score``'s JSON lines, ``--json``
listings) run plugin code (imports, hooks, rewards) inside :func:`data_stdout`:
it hands back a stream on the real standard output for the data, and
meanwhile sends everything else written to stdout -- ``print()``, and below
Python, file descriptor 1 (C extensions, subprocesses) -- to stderr.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from typing import TextIO


def _fd(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        return None


@contextmanager
def data_stdout() -> Iterator[TextIO]:
    """A text stream on the real stdout for data; inside the block, stdout and fd 1 go to stderr."""
    out_fd, err_fd = _fd(sys.stdout), _fd(sys.stderr)
    if out_fd is None or err_fd is None:  # no descriptors (in-process tests, notebooks): Python level only
        data = sys.stdout
        with redirect_stdout(sys.stderr):
            yield data
        data.flush()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(out_fd)
    data = open(saved, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - closed below
    os.dup2(err_fd, out_fd)
    try:
        with redirect_stdout(sys.stderr):
            yield data
    finally:
        data.flush()
        data.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, out_fd)
        os.close(saved)
