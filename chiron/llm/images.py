"""Image helpers shared by every job and backend: the one image check, content hashes for cache
keys, RGB loading and data URLs for APIs.

`check_image(path)` is THE check: a missing, empty, non-image, too large (more pixels than
`images.max_pixels`, decided from the header before anything is decoded) or undecodable file
(truncated or corrupt data, found by a full decode) raises `BadImage`, whose `category` says which.
Every job sets such an image aside with its reason and goes on; `load_rgb` and `image_data_url`
raise the same `BadImage` instead of PIL's own errors.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import stat
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# Re-exported: the response cache keys a message's images by it.
from chiron.utils.hashing import file_sha256  # noqa: F401

# What BadImage.category can be; "outside_root" is chiron.utils.paths.PathOutsideRoot's.
BAD_IMAGE_CATEGORIES = ("missing", "empty", "not_an_image", "too_many_pixels", "undecodable", "outside_root")

# PIL's limit as shipped (Image.MAX_IMAGE_PIXELS: it warns above it and refuses above twice it).
_PIL_MAX_PIXELS = Image.MAX_IMAGE_PIXELS


class BadImage(ValueError):
    """An image file no job can use; the message names the file and says why in a user's words."""

    def __init__(self, message: str, category: str, path: str | None = None) -> None:
        if category not in BAD_IMAGE_CATEGORIES:
            raise ValueError(f"BadImage category must be one of {BAD_IMAGE_CATEGORIES}, got {category!r}")
        super().__init__(message)
        self.category = category
        self.path = path


@dataclass(frozen=True)
class ImagePolicy:
    """How every job in this process treats image files (`images:` in the config)."""

    max_pixels: int | None = None  # None: PIL's own limit (Image.MAX_IMAGE_PIXELS)
    allow_outside_root: bool = False  # accept paths that resolve outside their root


_POLICY = ImagePolicy()

# The meta key under which a loader keeps a sample's or item's refused image paths ({path: why}):
# the path is never opened, and the job sets the sample or item aside with that reason.
REFUSED_IMAGES = "refused_images"
_RAISED_PIL_LIMIT = False


def configure_images(max_pixels: int | None = None, allow_outside_root: bool = False) -> ImagePolicy:
    """Set the process-wide image policy; run.py calls it once per job from `cfg.images`."""
    global _POLICY
    if max_pixels is not None and int(max_pixels) < 1:
        raise ValueError(f"images.max_pixels must be a positive number of pixels or null, got {max_pixels}")
    _POLICY = ImagePolicy(max_pixels=None if max_pixels is None else int(max_pixels),
                          allow_outside_root=bool(allow_outside_root))
    # PIL refuses to open anything above twice its own limit: a larger limit here must reach PIL, or
    # an image this policy accepts could not be loaded. A smaller one is enforced by check_image alone.
    global _RAISED_PIL_LIMIT
    limit = _POLICY.max_pixels
    if limit is not None and _PIL_MAX_PIXELS is not None and limit > _PIL_MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit
        _RAISED_PIL_LIMIT = True
    elif _RAISED_PIL_LIMIT:
        Image.MAX_IMAGE_PIXELS = _PIL_MAX_PIXELS
        _RAISED_PIL_LIMIT = False
    return _POLICY


def image_policy() -> ImagePolicy:
    return _POLICY


def pixel_limit() -> int | None:
    """The pixel limit in force: `images.max_pixels`, else PIL's own (None: no limit at all)."""
    limit = _POLICY.max_pixels
    return limit if limit is not None else Image.MAX_IMAGE_PIXELS


def check_image(path: str) -> None:
    """Raise BadImage (category missing | empty | not_an_image | too_many_pixels | undecodable) unless
    `path` is an image every backend can decode. Memoized per (path, mtime, size, pixel limit): a
    file is checked once per process, and again only once it changes."""
    path = str(path)
    try:
        st = os.stat(path)
    except OSError:
        raise BadImage(f"image not found: {path}", "missing", path) from None
    if not stat.S_ISREG(st.st_mode):
        raise BadImage(f"image not found: {path} is not a file", "missing", path)
    if st.st_size == 0:
        raise BadImage(f"unreadable image {path}: the file is empty (0 bytes)", "empty", path)
    problem = _check_cached(path, st.st_mtime_ns, st.st_size, pixel_limit())
    if problem is not None:
        raise BadImage(problem[1], problem[0], path)


def image_problem(path: str) -> BadImage | None:
    """check_image's verdict as a value: None for a good image, else the BadImage."""
    try:
        check_image(path)
    except BadImage as exc:
        return exc
    return None


# warnings.catch_warnings swaps a process-wide filter list: one opener at a time (opening reads
# only the header, so this serializes microseconds, never a decode).
_OPEN_LOCK = threading.Lock()


def _open(path: str, limit: int | None) -> Image.Image:
    """Image.open (the header only) with PIL's decompression-bomb warning and error, and our own
    pixel limit, turned into BadImage before any pixel is decoded."""
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"image too large {path}: {exc} (images.max_pixels sets the limit)", "too_many_pixels",
                       path) from None
    except UnidentifiedImageError:
        raise BadImage(f"unreadable image {path}: not an image (no image format recognises the file)",
                       "not_an_image", path) from None
    except FileNotFoundError:
        raise BadImage(f"image not found: {path}", "missing", path) from None
    except Exception as exc:  # noqa: BLE001  a header PIL recognised but cannot parse (OSError, SyntaxError...)
        raise BadImage(f"unreadable image {path}: the header cannot be read ({type(exc).__name__}: {exc})",
                       "undecodable", path) from None
    width, height = img.size
    if limit is not None and width * height > limit:
        img.close()
        raise BadImage(f"image too large {path}: {width}x{height} = {width * height:,} pixels, above the limit "
                       f"of {limit:,} (images.max_pixels sets it)", "too_many_pixels", path)
    return img


@functools.lru_cache(maxsize=1 << 20)
def _check_cached(path: str, _mtime_ns: int, _size: int, limit: int | None) -> tuple[str, str] | None:
    """(category, reason) of a bad image, None for a good one (the memo keeps both)."""
    try:
        img = _open(path, limit)
    except BadImage as exc:
        return exc.category, str(exc)
    try:
        with img:
            if img.format == "JPEG":
                # Decode at 1/8 scale (DCT scaling): every byte of the bitstream is still read and
                # entropy-decoded, so truncation shows, at a fraction of a full decode's cost.
                img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()  # verify() misses truncated pixel data; a full decode does not
    except Exception as exc:  # noqa: BLE001  PIL raises many types for broken pixel data
        return "undecodable", (f"unreadable image {path}: the image data is truncated or corrupt "
                               f"({type(exc).__name__}: {exc})")
    return None


def load_rgb(path: str, max_side: int | None = None) -> Image.Image:
    """Open an image as RGB, shrinking it so its longest side is at most `max_side`; BadImage if it
    is not a usable image."""
    check_image(path)
    try:
        with _open(path, pixel_limit()) as img:
            img = img.convert("RGB")
    except BadImage:
        raise
    except Exception as exc:  # noqa: BLE001  changed since it was checked, or a decoder failure the check missed
        raise BadImage(f"unreadable image {path}: the image data cannot be decoded ({type(exc).__name__}: {exc})",
                       "undecodable", path) from None
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
    """PNG data URL of the (resized) image; memoized because every intern call resends it. BadImage
    if the file is not a usable image."""
    check_image(path)
    try:
        mtime_ns = os.stat(path).st_mtime_ns
    except OSError:
        raise BadImage(f"image not found: {path}", "missing", path) from None
    return _data_url_cached(path, max_side, mtime_ns)
