"""Image thumbnails as data URIs, each image once per page.

:class:`Thumbnails` turns image paths into small JPEG (or PNG) data URIs,
opening them as training does (:func:`medr1_core.data.images.open_image`:
DICOM, 16-bit and palette images included). Each path is read once; the
page refers to it by a short key. A path that cannot be read is counted in
:attr:`Thumbnails.failed` with the reason, and its place in the page says so.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence

#: Longest side of a thumbnail, in pixels (shown at half size; a click shows it whole).
THUMB_SIZE = 192
#: Thumbnails made in this process, by path (with the file's mtime): a run's report, rewritten at
#: every checkpoint, reads each image once.
_MADE: dict[str, tuple[int, str]] = {}
_MAX_MADE = 20_000


class Thumbnails:
    """The images of one page: ``key(path)`` gives the key of its data URI in :attr:`images`."""

    def __init__(self, size: int = THUMB_SIZE, cache: dict | None = None):
        self.size = size
        self.images: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self._keys: dict[str, str | None] = {}
        self._cache = cache if cache is not None else _MADE

    def key(self, path: str | os.PathLike) -> str | None:
        """The key of ``path``'s thumbnail (``None`` if it cannot be read: see :attr:`failed`)."""
        path = os.fspath(path)
        if path not in self._keys:
            uri = self._data_uri(path)
            key = None
            if uri is not None:
                key = f"i{len(self.images)}"
                self.images[key] = uri
            self._keys[path] = key
        return self._keys[path]

    def keys(self, paths: Sequence[str]) -> list[str | None]:
        return [self.key(p) for p in paths]

    def _data_uri(self, path: str) -> str | None:
        try:
            stamp = os.stat(path).st_mtime_ns
        except OSError as exc:
            self.failed[path] = exc.strerror or "cannot be read"
            return None
        cached = self._cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        from ..data.images import ImageError, open_image

        try:
            image = open_image(path)
        except ImageError as exc:
            self.failed[path] = exc.reason
            return None
        image.thumbnail((self.size, self.size))
        buffer = io.BytesIO()
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(buffer, format="JPEG", quality=82)
        uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        if len(self._cache) >= _MAX_MADE:
            self._cache.clear()
        self._cache[path] = (stamp, uri)
        return uri
