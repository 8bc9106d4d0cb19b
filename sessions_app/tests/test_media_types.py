"""What media the send endpoint accepts: the declared type must agree with the bytes, with the usual exceptions."""

from __future__ import annotations

import pytest

from paas.api.errors import APIError
from sessions_app.services.messages.media import check, sniff

DOCX = b"PK\x03\x04" + bytes(60)  # Office documents are ZIP files


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\xff\xf3\x90\x00" + bytes(20), "audio/mpeg"),
        (b"\xff\xf1\x50\x80" + bytes(20), "audio/aac"),
        (b"#!AMR\n" + bytes(20), "audio/amr"),
        (b"\x00\x00\x00\x14ftyp3gp5" + bytes(20), "video/3gpp"),
    ],
)
def test_common_audio_and_video_formats_are_recognised(data: bytes, mime: str) -> None:
    assert sniff(data) == mime


def test_an_office_document_keeps_its_declared_type() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    media = check("document", DOCX, docx, "terms.docx")
    assert media.mime == docx


def test_an_upload_declared_as_octet_stream_is_judged_by_its_bytes() -> None:
    media = check("image", b"\x89PNG\r\n\x1a\n" + bytes(20), "application/octet-stream", "x")
    assert media.mime == "image/png"


def test_a_zip_is_still_no_image() -> None:
    with pytest.raises(APIError) as refused:
        check("image", DOCX, "image/png", "x.png")
    assert refused.value.error_code == "media_type_mismatch"
