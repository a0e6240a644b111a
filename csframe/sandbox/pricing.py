"""Destinations the sandbox knows: calling codes, number lengths, carriers and SMS prices.

Prices are per message part in the account currency (AUD), with four decimals like the
real price list. Prices and amounts are handled internally as integer *micros*
(millionths of a dollar) so sums are exact; they are formatted only at the edge.

Example::

    >>> normalise_number("0411 111 111", "AU")
    ('+61411111111', 'AU')
    >>> normalise_number("+14055555555", None)
    ('+14055555555', 'US')
    >>> PRICE_MICROS["AU"]
    77000
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The account currency block (``_currency``) of every response that carries one.
CURRENCY = {
    "currency_name_short": "AUD",
    "currency_prefix_d": "$",
    "currency_prefix_c": "c",
    "currency_name_long": "Australian Dollars",
    "min_recharge_amount": "20.00",
    "max_recharge_amount": "10000.00",
}


@dataclass(frozen=True)
class Country:
    """One destination: ISO code, calling code, national number lengths, carriers, price."""

    iso: str
    name: str
    calling_code: str
    national_lengths: tuple[int, int]  # inclusive min/max digits after the calling code
    carriers: tuple[str, ...]
    price_micros: int  # per SMS part, AUD


COUNTRIES: dict[str, Country] = {
    c.iso: c
    for c in (
        Country("AU", "Australia", "61", (9, 9), ("Telstra", "Optus", "Vodafone"), 77_000),
        Country("NZ", "New Zealand", "64", (8, 10), ("Spark", "One NZ", "2degrees"), 105_000),
        Country("US", "United States", "1", (10, 10), ("AT&T", "Verizon", "T-Mobile"), 42_000),
        Country("CA", "Canada", "1", (10, 10), ("Rogers", "Bell", "Telus"), 42_000),
        Country(
            "GB", "United Kingdom", "44", (10, 10), ("EE", "O2", "Vodafone UK", "Three"), 66_000
        ),
        Country("SG", "Singapore", "65", (8, 8), ("Singtel", "StarHub", "M1"), 55_000),
        Country("IN", "India", "91", (10, 10), ("Jio", "Airtel", "Vi"), 31_000),
        Country("DE", "Germany", "49", (10, 11), ("Telekom", "Vodafone DE", "O2 DE"), 118_000),
        Country("FR", "France", "33", (9, 9), ("Orange", "SFR", "Bouygues"), 95_000),
        Country("CN", "China", "86", (11, 11), ("China Mobile", "China Unicom"), 48_000),
        Country("JP", "Japan", "81", (10, 10), ("NTT Docomo", "SoftBank", "au"), 110_000),
        Country("PH", "Philippines", "63", (10, 10), ("Globe", "Smart"), 38_000),
        Country("IE", "Ireland", "353", (9, 9), ("Vodafone IE", "Three IE", "Eir"), 89_000),
        Country("ZA", "South Africa", "27", (9, 9), ("Vodacom", "MTN"), 52_000),
        Country("HK", "Hong Kong", "852", (8, 8), ("CSL", "SmarTone"), 60_000),
    )
}
PRICE_MICROS: dict[str, int] = {iso: c.price_micros for iso, c in COUNTRIES.items()}

# NANP: the calling code 1 is shared; Canada is told apart by area code.
CANADA_AREA_CODES = frozenset(
    [
        "204",
        "226",
        "236",
        "249",
        "250",
        "289",
        "306",
        "343",
        "365",
        "403",
        "416",
        "418",
        "431",
        "437",
        "438",
        "450",
        "506",
        "514",
        "519",
        "548",
        "579",
        "581",
        "587",
        "604",
        "613",
        "639",
        "647",
        "705",
        "709",
        "778",
        "780",
        "782",
        "807",
        "819",
        "825",
        "867",
        "873",
        "902",
        "905",
    ]
)

# Calling code -> ISO (NANP resolved separately); longest prefix wins.
_BY_CODE: dict[str, str] = {c.calling_code: c.iso for c in COUNTRIES.values() if c.iso != "CA"}

# From the reference's Testing section: a success response, nothing sent, nothing charged.
TEST_NUMBERS = frozenset(
    {
        "+61411111111",
        "+61422222222",
        "+61433333333",
        "+61444444444",
        "+14055555555",
        "+14055555666",
        "+447777777777",
        "+8615555555555",
    }
)

_SEPARATORS = re.compile(r"[\s\-().]")


class NumberError(ValueError):
    """A recipient that cannot be used; ``code`` is the per-message status to report."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def country_of(e164: str) -> str | None:
    """ISO country of an E.164 number, or None when the calling code is not served.

    Example::

        >>> country_of("+16045551234")
        'CA'
    """
    digits = e164[1:]
    if digits.startswith("1"):
        return "CA" if digits[1:4] in CANADA_AREA_CODES else "US"
    for n in (3, 2, 1):
        iso = _BY_CODE.get(digits[:n])
        if iso:
            return iso
    return None


def normalise_number(raw: object, country: str | None) -> tuple[str, str]:
    """Turn a recipient as given into ``(e164, iso_country)`` or raise NumberError.

    International input (``+`` or ``00`` prefix) is taken as is. National input needs
    ``country`` (the message's ``country`` field): a leading trunk ``0`` is dropped and the
    calling code prepended. Unknown calling codes give ``COUNTRY_NOT_ENABLED``; anything
    else unusable gives ``INVALID_RECIPIENT``.

    Example::

        >>> normalise_number("(405) 555-5555", "US")
        ('+14055555555', 'US')
    """
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise NumberError("INVALID_RECIPIENT")
    text = _SEPARATORS.sub("", str(raw))
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        digits = text[1:]
    else:
        # A national number can only be read with a country to resolve it against.
        cc = COUNTRIES.get(str(country or "").upper())
        if cc is None:
            raise NumberError("INVALID_RECIPIENT")
        digits = text
        lo, hi = cc.national_lengths
        if not (
            digits.startswith(cc.calling_code) and lo <= len(digits) - len(cc.calling_code) <= hi
        ):
            digits = cc.calling_code + (digits[1:] if digits.startswith("0") else digits)
    if not digits.isdigit() or not 8 <= len(digits) <= 15 or digits[0] == "0":
        raise NumberError("INVALID_RECIPIENT")
    e164 = "+" + digits
    iso = country_of(e164)
    if iso is None:
        raise NumberError("COUNTRY_NOT_ENABLED")
    c = COUNTRIES[iso]
    lo, hi = c.national_lengths
    if not lo <= len(digits) - len(c.calling_code) <= hi:
        raise NumberError("INVALID_RECIPIENT")
    return e164, iso


def carrier_for(e164: str, iso: str) -> str:
    """A stable carrier name for a number (same number, same carrier).

    Example::

        >>> carrier_for("+61411111111", "AU") in COUNTRIES["AU"].carriers
        True
    """
    carriers = COUNTRIES[iso].carriers
    return carriers[int(e164[-4:]) % len(carriers)]


def fmt_money(micros: int, decimals: int = 6) -> str:
    """Format integer micros as the API's money strings.

    Example::

        >>> fmt_money(77_000), fmt_money(77_000, 4)
        ('0.077000', '0.0770')
    """
    if decimals == 6:
        sign = "-" if micros < 0 else ""
        q, r = divmod(abs(micros), 1_000_000)
        return f"{sign}{q}.{r:06d}"
    return f"{micros / 1_000_000:.{decimals}f}"
