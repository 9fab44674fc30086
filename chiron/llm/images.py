"""Image helpers shared by the backends: content hashes for cache keys, data URLs for APIs."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os

from PIL import Image


def file_sha256(path: str) -> str:
    st = os.stat(path)
    return _sha256_cached(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=65536)
def _sha256_cached(path: str, _mtime_ns: int, _size: int) -> str:
    # mtime and size are part of the memo key so an edited file is hashed again.
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_rgb(path: str, max_side: int | None = None) -> Image.Image:
    """Open an image as RGB, shrinking it so its longest side is at most `max_side`."""
    with Image.open(path) as img:
        img = img.convert("RGB")
    if max_side and max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    return img


@functools.lru_cache(maxsize=4096)
def _data_url_cached(path: str, max_side: int, _mtime_ns: int) -> str:
    img = load_rgb(path, max_side)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_data_url(path: str, max_side: int = 512) -> str:
    """PNG data URL of the (resized) image; memoized because every intern call resends it."""
    return _data_url_cached(path, max_side, os.stat(path).st_mtime_ns)


def check_image(path: str) -> None:
    """Raise a ValueError with a readable reason if the file is missing or not a decodable image."""
    if not os.path.isfile(path):
        raise ValueError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            img.verify()
    except Exception as exc:  # PIL raises many types for broken files
        raise ValueError(f"unreadable image {path}: {exc}") from exc
