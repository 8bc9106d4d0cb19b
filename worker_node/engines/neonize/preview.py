"""Link previews for text messages, fetched without server-side request forgery.

neonize can build previews itself (``send_message(text, link_preview=True)``), but it fetches whatever URL a
customer's text contains, private addresses and the cloud metadata service included, follows redirects, and reads the
preview image with no time limit. Here the page and its image go through ``worker_node.contract.netguard`` (public
addresses only, no redirects, size and time limits), ``linkpreview`` (a neonize dependency) only parses the page, and
the small JPEG travels inline in the message. Previews are best effort: any failure sends the text without one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from worker_node.contract import netguard
from worker_node.engines.neonize import mediameta

logger = logging.getLogger(__name__)

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
PAGE_MAX_BYTES = 512 * 1024
IMAGE_MAX_BYTES = 2 * 1024 * 1024
TIMEOUT = 5.0
_HEADERS = {"User-Agent": "Mozilla/5.0 (compatible; WhatsApp link preview)", "Accept": "text/html,*/*;q=0.5"}

Fetch = Callable[..., netguard.Fetched]


def first_url(text: str) -> str | None:
    match = _URL.search(text)
    return match.group(0).rstrip(".,;:!?)]}'\"") if match else None


def _get(fetch: Fetch, url: str, max_bytes: int, allow_private: bool, truncate: bool) -> netguard.Fetched | None:
    try:
        fetched = fetch(
            "GET", url, headers=_HEADERS, timeout=TIMEOUT, max_bytes=max_bytes, allow_private=allow_private,
            truncate=truncate,
        )  # fmt: skip
    except (netguard.ForbiddenTarget, netguard.FetchError) as refused:
        logger.debug("no link preview for %s: %s", url, refused.message)
        return None
    return fetched if fetched.status == 200 else None


def link_preview(text: str, *, allow_private: bool = False, fetch: Fetch = netguard.request) -> Any | None:
    """An ``ExtendedTextMessage`` with the preview fields for the text's first link (merge it into the message)."""
    from linkpreview import Link, LinkPreview  # type: ignore[import-untyped]
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ExtendedTextMessage

    url = first_url(text)
    if url is None:
        return None
    page = _get(fetch, url, PAGE_MAX_BYTES, allow_private, truncate=True)  # the head is what matters
    if page is None or "html" not in page.headers.get("content-type", "html"):
        return None
    try:
        parsed = LinkPreview(Link(url, page.body.decode("utf-8", "replace")))
        title, description, image_url = parsed.title or "", parsed.description or "", parsed.absolute_image
    except Exception as error:  # linkpreview on hostile HTML
        logger.debug("no link preview for %s: %s", url, error)
        return None
    if not title:
        return None
    preview = ExtendedTextMessage(
        matchedText=url,
        title=title[:300],
        description=description[:1000],
        previewType=ExtendedTextMessage.PreviewType.NONE,
    )
    image = _get(fetch, str(image_url), IMAGE_MAX_BYTES, allow_private, truncate=False) if image_url else None
    thumbnail = mediameta.jpeg_thumbnail(image.body, size=300) if image is not None else None
    if thumbnail is not None:
        preview.JPEGThumbnail, preview.thumbnailWidth, preview.thumbnailHeight = thumbnail
    return preview
