"""A small file system that can really fill up: a tmpfs mounted for one test (needs root, or
the test is skipped), and a filler that leaves a chosen amount of free space."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tiny_tmpfs(directory: Path, size_mib: int = 8) -> Iterator[Path]:
    """Mount a ``size_mib`` tmpfs at ``directory`` for the block; skip where not permitted."""
    directory.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def free_bytes(directory: Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def fill(directory: Path, leave: int) -> Path:
    """Write a filler file so that about ``leave`` bytes stay free; return its path."""
    path = directory / "filler"
    chunk = b"\xa5" * (1 << 16)
    with open(path, "wb") as f:
        while free_bytes(directory) > leave + len(chunk):
            f.write(chunk)
            f.flush()
        rest = free_bytes(directory) - leave
        if rest > 0:
            f.write(b"\xa5" * rest)
        f.flush()
        os.fsync(f.fileno())
    return path
