"""An on-disk cache of decoded media, so later epochs and later runs skip decoding.

Each entry is the deterministic part of a processor's work on one file (an image
decoded and shrunk, a clip decoded, mixed to mono and resampled), stored as a ``.npy``
array. Its key hashes the file's bytes together with the processor settings that
shape the array, so editing a file or changing ``image_size`` or ``sample_rate``
makes a new entry instead of reusing a stale one. Random augmentation runs after the
cache, so it still differs each epoch.

Several DataLoader workers and DDP ranks can share one cache folder: each entry is
written to a temporary file and renamed into place, which is atomic on one file
system.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmlearn.errors import MediaDecodeError

log = logging.getLogger(__name__)


class MediaCache:
    """Store arrays computed from media files under ``root``, keyed by content and settings.

    ``hits`` and ``misses`` count lookups in this process (each DataLoader worker
    counts its own).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        # Hashing a file reads all of it; remember the digest while size and mtime hold.
        self._digests: dict[str, tuple[int, int, str]] = {}

    def _content_digest(self, path: Path) -> str:
        stat = path.stat()
        known = self._digests.get(str(path))
        if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        self._digests[str(path)] = (stat.st_size, stat.st_mtime_ns, digest)
        return digest

    def entry(self, path: str | Path, settings: str) -> Path:
        """Return where the array for ``path`` under ``settings`` is stored."""
        content = self._content_digest(Path(path))
        key = hashlib.blake2b(f"{content}|{settings}".encode(), digest_size=16).hexdigest()
        return self.root / key[:2] / f"{key}.npy"

    def get(
        self,
        path: str | Path,
        settings: str,
        modality: str,
        compute: Callable[[str | Path], np.ndarray],
    ) -> np.ndarray:
        """Return the cached array for ``path``, or ``compute(path)``, store and return it.

        A source file that cannot be read raises ``MediaDecodeError`` naming it. An entry
        that cannot be loaded (a run killed while writing on a file system without
        atomic rename) is computed again and replaced.
        """
        try:
            entry = self.entry(path, settings)
        except FileNotFoundError:
            raise MediaDecodeError(str(path), modality, "file not found") from None
        except OSError as error:
            reason = f"cannot read the file ({error})"
            raise MediaDecodeError(str(path), modality, reason) from error
        if entry.exists():
            try:
                array = np.load(entry, allow_pickle=False)
            except (OSError, ValueError, EOFError) as error:
                log.warning("Replacing unreadable cache entry %s (%s)", entry, error)
            else:
                self.hits += 1
                return array
        self.misses += 1
        array = compute(path)
        self._store(entry, array)
        return array

    @staticmethod
    def _store(entry: Path, array: np.ndarray) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.save(file, array, allow_pickle=False)
            os.replace(temporary, entry)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
