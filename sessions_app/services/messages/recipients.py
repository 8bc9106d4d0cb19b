"""Recipients: phone numbers (normalised to E.164 with phonenumbers) or WhatsApp JIDs of users and groups."""

from __future__ import annotations

import re

import phonenumbers
from rest_framework import serializers

from paas.api.errors import APIError

_USER_JID = re.compile(r"^(\d{5,20})(?::\d+)?@(s\.whatsapp\.net|lid)$")
_GROUP_JID = re.compile(r"^\d{5,20}(-\d{5,20})?@g\.us$")


def invalid(message: str) -> APIError:
    return APIError("invalid_recipient", message, details={"to": [message]})


class NotAPhone(ValueError):
    def __init__(self, *, parsed: bool) -> None:
        super().__init__("not a valid phone number for its country code" if parsed else "not a phone number")
        self.parsed = parsed  # it reads as a number, but none of its country's


def e164_digits(raw: str, *, strict: bool = True) -> str:
    """E.164 digits without the plus (what WhatsApp expects). Sandbox numbers (+1 555 01xx xxxx, reserved for
    fiction) are possible but not valid numbers: the sandbox is not ``strict``."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text if text.startswith("+") else f"+{text}", None)
    except phonenumbers.NumberParseException:
        raise NotAPhone(parsed=False) from None
    if not (phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(number)):
        raise NotAPhone(parsed=True)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def phone_to_digits(raw: str, *, strict: bool = True) -> str:
    """``e164_digits``, or the API's invalid_recipient error."""
    try:
        return e164_digits(raw, strict=strict)
    except NotAPhone as refused:
        if refused.parsed:
            raise invalid(f"'{raw}' is not a valid phone number for its country code.") from None
        raise invalid(f"'{raw}' is not a phone number. Give it with its country code, e.g. +4915112345678.") from None


def normalize_phone(raw: str, *, strict: bool = True) -> str:
    """``e164_digits``, or a validation error saying why not (for the number of a form or a request's field)."""
    try:
        return e164_digits(raw, strict=strict)
    except NotAPhone as refused:
        if refused.parsed:
            raise serializers.ValidationError("Not a valid phone number for its country code.") from None
        raise serializers.ValidationError(
            "Not a phone number. Give it with its country code, e.g. +4915112345678."
        ) from None


def to_jid(raw: str, *, sandbox: bool = False) -> str:
    """The chat JID for ``raw``: a user JID, a group JID, a LID, or a phone number turned into a user JID.
    Sandbox numbers (+1 555 01xx xxxx) are possible but not valid numbers, so sandbox sessions are not strict."""
    text = raw.strip()
    if "@" in text:
        if _USER_JID.match(text):
            return re.sub(r":\d+@", "@", text)  # a device suffix addresses one device; chats are per user
        if _GROUP_JID.match(text):
            return text
        raise invalid(f"'{raw}' is not a WhatsApp JID of a user (…@s.whatsapp.net, …@lid) or a group (…@g.us).")
    if not re.fullmatch(r"[+\d\s().-]{5,30}", text):
        raise invalid(f"'{raw}' is neither a phone number nor a WhatsApp JID.")
    return f"{phone_to_digits(text, strict=not sandbox)}@s.whatsapp.net"


def jid_phone(jid: str) -> str:
    """+E.164 of a user JID, or "" for groups and LIDs (whose number is not in the JID)."""
    match = _USER_JID.match(jid)
    if match and match.group(2) == "s.whatsapp.net":
        return "+" + match.group(1)
    return ""


def user_jid(jid: str) -> str:
    """The user JID without a device part (``15550100001:35@s.whatsapp.net`` → ``15550100001@s.whatsapp.net``):
    chats and reactions are keyed per user, not per device."""
    return re.sub(r":\d+@", "@", jid)
