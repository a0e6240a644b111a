"""SMS encoding and part counting (GSM 03.38 vs UCS-2), as the reference describes.

A body made only of GSM-7 characters is sent as GSM: 160 septets fit one part, longer
bodies are split into 153-septet parts (7 septets go to the concatenation header).
Characters of the GSM extension table (``^{}\\[~]|€`` and form feed) take two septets.
Any other character makes the whole message UCS-2: 70 UTF-16 code units in one part,
67 per part beyond that. Emoji outside the BMP are surrogate pairs, so they count 2.
As handsets and networks do, a two-unit character (an escape sequence or a surrogate
pair) is never split across parts: when it does not fit, it starts the next part.

Example::

    >>> sms_parts("hello")
    ('gsm', 5, 1)
    >>> sms_parts("x" * 161)
    ('gsm', 161, 2)
    >>> sms_parts("Hi 👋")
    ('ucs2', 5, 1)
"""

from __future__ import annotations

from functools import lru_cache

# The GSM 03.38 basic character set (the escape 0x1B is not a character of its own).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs an escape septet plus itself.
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM_SINGLE, GSM_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@lru_cache(maxsize=65536)
def sms_parts(body: str) -> tuple[str, int, int]:
    """Return ``(encoding, units, parts)`` for an SMS body.

    ``units`` is septets for GSM and UTF-16 code units for UCS-2. An empty body is one
    (empty) part; callers reject empty bodies before pricing them.

    Example::

        >>> sms_parts("price: 5€")      # € is an extension char: 2 septets
        ('gsm', 10, 1)
    """
    widths = []
    for ch in body:
        if ch in GSM_BASIC:
            widths.append(1)
        elif ch in GSM_EXTENDED:
            widths.append(2)
        else:
            widths = [2 if ord(c) > 0xFFFF else 1 for c in body]
            return "ucs2", sum(widths), _count(widths, UCS2_SINGLE, UCS2_MULTI)
    return "gsm", sum(widths), _count(widths, GSM_SINGLE, GSM_MULTI)


def _count(widths: list[int], single: int, multi: int) -> int:
    """Parts needed, packing characters greedily without splitting any of them."""
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for w in widths:
        if used + w > multi:
            parts, used = parts + 1, 0
        used += w
    return parts


# Longer SMS are cut after this many parts (the reference: "If a message is longer than 6
# message parts, it will be truncated"; GET /account's setting_sms_message_char_limit: 6).
MAX_SMS_PARTS = 6


def truncate_parts(body: str, max_parts: int = MAX_SMS_PARTS) -> str:
    """``body`` cut to the longest prefix that fits ``max_parts`` parts (whole characters).

    Example::

        >>> len(truncate_parts("x" * 2000))      # 6 GSM parts of 153 septets
        918
        >>> sms_parts(truncate_parts("é" * 300 + "👋" * 300))[2]
        6
    """
    if sms_parts(body)[2] <= max_parts:
        return body
    lo, hi = 0, len(body)  # the longest fitting prefix: parts grow with length
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sms_parts(body[:mid])[2] <= max_parts:
            lo = mid
        else:
            hi = mid - 1
    return body[:lo]
