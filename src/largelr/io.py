"""Atomic file output: a job that dies mid-write never leaves a half-written file.

Every writer goes to a temporary file in the destination folder, flushes it to disk and
renames it over the destination (``os.replace`` is atomic on POSIX file systems).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def link_files(source_dir: str | Path, destinations: Iterable[str | Path]) -> None:
    """Give each destination the file of the same name in ``source_dir`` (a hard link, or a copy
    where the two folders are on different file systems), replacing it atomically."""
    for destination in map(Path, destinations):
        source = Path(source_dir) / destination.name
        with atomic_path(destination) as tmp:
            tmp.unlink()
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copy2(source, tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """JSON with sorted keys; NaN/inf are written as ``null`` so the file stays valid JSON."""
    atomic_write_text(path, json.dumps(_finite_or_none(obj), indent=2, sort_keys=True) + "\n")


def atomic_write_npz(path: str | Path, arrays: Mapping[str, Any], deterministic: bool = False) -> None:
    """A compressed ``.npz`` of ``arrays`` (``np.savez_compressed``).

    ``deterministic``: entries in sorted order with a fixed timestamp, no pickles, so that
    writing the same arrays twice gives the same bytes (``np.savez_compressed`` stamps each
    entry with the current time).
    """
    buffer = io.BytesIO()
    if deterministic:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for key in sorted(arrays):
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, np.asanyarray(arrays[key]), allow_pickle=False)
    else:
        np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
