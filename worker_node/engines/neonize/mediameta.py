"""What WhatsApp shows of media before it is downloaded: a small JPEG preview and the playing time.

neonize's ``build_video_message`` and ``build_audio_message`` get these from ffmpeg, which the worker image does not
have (they fail with FileNotFoundError without it), so the engine reads them from the bytes: Pillow for the preview,
the Ogg and MP4 containers' own headers for the duration. Every function returns None rather than raise: a message
without a preview or a duration still goes out.
"""

from __future__ import annotations

import io
import logging

logger = logging.getLogger(__name__)

_GRANULE_UNKNOWN = 2**64 - 1


def jpeg_thumbnail(data: bytes, size: int = 200) -> tuple[bytes, int, int] | None:
    """A JPEG at most ``size`` pixels on its long side, and the original width and height."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            image.thumbnail((size, size))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=70)
    except Exception as error:  # not an image Pillow knows, truncated, a decompression bomb …
        logger.debug("no thumbnail: %s", error)
        return None
    return out.getvalue(), width, height


def ogg_seconds(data: bytes) -> int | None:
    """Opus or Vorbis in Ogg: the last page's granule position over the sample rate."""
    if not data.startswith(b"OggS"):
        return None
    opus = data.find(b"OpusHead", 0, 512)
    if opus >= 0:
        rate, pre_skip = 48_000, int.from_bytes(data[opus + 10 : opus + 12], "little")
    else:
        vorbis = data.find(b"\x01vorbis", 0, 512)
        if vorbis < 0:
            return None
        rate, pre_skip = int.from_bytes(data[vorbis + 12 : vorbis + 16], "little"), 0
    last = data.rfind(b"OggS")
    granule = int.from_bytes(data[last + 6 : last + 14], "little")
    if rate <= 0 or granule in (0, _GRANULE_UNKNOWN) or granule < pre_skip:
        return None
    return round((granule - pre_skip) / rate)


def mp4_seconds(data: bytes) -> int | None:
    """MP4 and 3GP: the movie header's duration over its time scale."""
    at = data.find(b"mvhd")
    if at < 4:
        return None
    body = at + 4
    if data[body : body + 1] == b"\x01":
        timescale = int.from_bytes(data[body + 20 : body + 24], "big")
        duration = int.from_bytes(data[body + 24 : body + 32], "big")
    else:
        timescale = int.from_bytes(data[body + 12 : body + 16], "big")
        duration = int.from_bytes(data[body + 16 : body + 20], "big")
    if timescale <= 0 or duration <= 0:
        return None
    seconds = round(duration / timescale)
    return seconds if seconds < 2**32 else None


def seconds(data: bytes) -> int | None:
    return ogg_seconds(data) if data.startswith(b"OggS") else mp4_seconds(data)
