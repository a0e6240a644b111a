"""Region codes for phone parsing: ISO 3166 alpha-2 codes from codes, ISO alpha-3 codes and
country names ("Australia", "United Kingdom", "UK", "USA", "Deutschland", ...).

Example::

    >>> from csframe.clean.regions import to_region
    >>> to_region("New Zealand"), to_region("gbr"), to_region("au"), to_region("Narnia")
    ('NZ', 'GB', 'AU', None)
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd
import phonenumbers

SUPPORTED = frozenset(phonenumbers.SUPPORTED_REGIONS)

# Common alternative spellings and alpha-3 codes; names in phonenumbers' geodata cover the rest.
_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "united kingdom of great britain and northern ireland": "GB",
    "usa": "US",
    "us": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "united states of america": "US",
    "aus": "AU",
    "oz": "AU",
    "nz": "NZ",
    "aotearoa": "NZ",
    "deutschland": "DE",
    "holland": "NL",
    "the netherlands": "NL",
    "south korea": "KR",
    "korea": "KR",
    "republic of korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "vietnam": "VN",
    "uae": "AE",
    "hong kong sar": "HK",
    "macau": "MO",
    "ivory coast": "CI",
    "czech republic": "CZ",
    "czechia": "CZ",
    "espana": "ES",
    "italia": "IT",
    "bharat": "IN",
    "eire": "IE",
    "schweiz": "CH",
    "suisse": "CH",
    "osterreich": "AT",
    "nippon": "JP",
}
_ALPHA3 = {
    "AUS": "AU", "USA": "US", "GBR": "GB", "NZL": "NZ", "DEU": "DE", "IND": "IN", "SGP": "SG",
    "FRA": "FR", "CAN": "CA", "IRL": "IE", "ITA": "IT", "ESP": "ES", "NLD": "NL", "BEL": "BE",
    "CHE": "CH", "AUT": "AT", "SWE": "SE", "NOR": "NO", "DNK": "DK", "FIN": "FI", "POL": "PL",
    "PRT": "PT", "GRC": "GR", "JPN": "JP", "CHN": "CN", "HKG": "HK", "KOR": "KR", "MYS": "MY",
    "IDN": "ID", "PHL": "PH", "THA": "TH", "VNM": "VN", "ZAF": "ZA", "BRA": "BR", "MEX": "MX",
    "ARG": "AR", "ARE": "AE", "SAU": "SA", "ISR": "IL", "TUR": "TR", "RUS": "RU", "UKR": "UA",
    "PAK": "PK", "BGD": "BD", "LKA": "LK", "NGA": "NG", "KEN": "KE", "EGY": "EG", "FJI": "FJ",
    "PNG": "PG", "CZE": "CZ", "HUN": "HU", "ROU": "RO",
}  # fmt: skip


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    from phonenumbers.geodata.locale import LOCALE_DATA

    out: dict[str, str] = {}
    for code, names in LOCALE_DATA.items():
        name = names.get("en")
        while isinstance(name, str) and name.startswith("*"):
            name = names.get(name[1:])
        if name and code in SUPPORTED:
            out[_key(name)] = code
            out.setdefault(_key(re.sub(r"\(.*?\)", "", name)), code)
    out.update(_ALIASES)
    return out


@lru_cache(maxsize=4096)
def to_region(value: object) -> str | None:
    """Map a region code, alpha-3 code or country name to a supported alpha-2 region, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    up = text.upper()
    if len(up) == 2 and up in SUPPORTED:
        return up
    if len(up) == 3 and up in _ALPHA3:
        return _ALPHA3[up]
    return _names().get(_key(text))


def check_region(value: object, *, argument: str = "default_region") -> str | None:
    """Validate a region argument: None, or anything :func:`to_region` understands."""
    if value is None:
        return None
    region = to_region(value)
    if region is None:
        raise ValueError(
            f"{argument}={value!r} is not a known region: pass an ISO 3166 alpha-2 code such as "
            "'AU', 'US', 'GB' or 'NZ' (a country name such as 'Australia' also works)"
        )
    return region


def regions_for(values: pd.Series, default: str | None) -> np.ndarray:
    """Per-row region codes (object array, None where unknown) from codes or names."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([to_region(u) for u in uniques] + [None], dtype=object)
    out = mapped[codes]  # code -1 picks the trailing None
    if default is not None:
        out[np.equal(out, None)] = default
    return out
