"""The resource registry: one declaration per resource, read by loaders, docs and tests.

Each :class:`Resource` names its endpoint, primary key, the time field used for windows,
and every column with its kind and a one-line meaning. Kinds map to pandas dtypes in
:data:`DTYPES`, so the DataFrame contract lives in exactly one place:

=========  ========================  ============================================
kind       pandas dtype              used for
=========  ========================  ============================================
datetime   ``datetime64[s, UTC]``    Unix timestamps (the API sends ints or strings)
money      ``float64``               prices and balances (the API sends "0.070000")
int        ``Int64``                 ids and counts (nullable)
float      ``float64``               other numbers
category   ``category``              low-cardinality codes: status, direction, country
str        ``str``                   text (pyarrow-backed in pandas 3)
bool       ``boolean``               flags sent as 0/1
=========  ========================  ============================================

Example::

    >>> from csframe import schema
    >>> schema.get("sms_history").dtypes()["message_price"]
    'float64'
"""

from __future__ import annotations

from dataclasses import dataclass, field

DTYPES: dict[str, str] = {
    "datetime": "datetime64[s, UTC]",
    "money": "float64",
    "int": "Int64",
    "float": "float64",
    "category": "category",
    "str": "str",
    "bool": "boolean",
}


@dataclass(frozen=True)
class Column:
    """One column of a resource frame: its name, kind (a key of :data:`DTYPES`) and meaning."""

    name: str
    kind: str
    doc: str

    def __post_init__(self) -> None:
        if self.kind not in DTYPES:
            raise ValueError(f"column {self.name!r}: unknown kind {self.kind!r}")

    @property
    def dtype(self) -> str:
        return DTYPES[self.kind]


@dataclass(frozen=True)
class Resource:
    """A readable ClickSend resource and the typed frame it loads into."""

    name: str
    path: str
    doc: str
    columns: tuple[Column, ...]
    primary_key: str | None = None
    time_field: str | None = None
    paginated: bool = True
    # Default sort the API applies; the loader keeps it.
    order_by: str | None = None
    extra: dict = field(default_factory=dict)

    def dtypes(self) -> dict[str, str]:
        """``{column: pandas dtype}`` in declared order."""
        return {c.name: c.dtype for c in self.columns}

    def kinds(self) -> dict[str, str]:
        """``{column: kind}`` in declared order."""
        return {c.name: c.kind for c in self.columns}

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _cols(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in specs)


# --- History -----------------------------------------------------------------------------
# Field list and JSON types from GET /v3/sms/history (the OpenAPI schema wins where the
# reference disagrees: date is an int, schedule a string, message_price a string, ...).
SMS_HISTORY = Resource(
    name="sms_history",
    path="/sms/history",
    doc="Outbound (and inbound) SMS history, one row per message.",
    primary_key="message_id",
    time_field="date",
    order_by="date:asc",
    columns=_cols(
        ("date", "datetime", "When the message was sent or received (UTC)."),
        ("direction", "category", "'out' for sent, 'in' for received."),
        ("to", "str", "Recipient number (E.164)."),
        ("from", "str", "Sender id or number."),
        ("body", "str", "Message text."),
        ("status", "category", "Queued, Completed, Scheduled, Failed, Cancelled, Sent, ..."),
        ("schedule", "datetime", "Scheduled send time (UTC), if any."),
        ("status_code", "category", "Carrier delivery status code, e.g. '201'."),
        ("status_text", "str", "Delivery status text."),
        ("error_code", "category", "Delivery error code, if failed."),
        ("error_text", "str", "Delivery error text, if failed."),
        ("message_id", "str", "Unique message id (UUID)."),
        ("message_parts", "int", "Number of SMS parts billed."),
        ("message_price", "money", "Price charged, in the account currency."),
        ("from_email", "str", "Reply-to email given at send time."),
        ("list_id", "int", "Contact list the message was sent to, if any."),
        ("custom_string", "str", "Caller's reference passed at send time."),
        ("contact_id", "int", "Contact the message was sent to, if any."),
        ("user_id", "int", "Account user id."),
        ("subaccount_id", "int", "Subaccount that sent the message."),
        ("country", "category", "Destination country (ISO alpha-2)."),
        ("carrier", "str", "Destination carrier."),
        ("first_name", "str", "Contact first name, if sent to a contact."),
        ("last_name", "str", "Contact last name, if sent to a contact."),
        ("_api_username", "str", "API username that sent the message."),
    ),
)

# --- Usage -------------------------------------------------------------------------------
# GET /v3/account/usage/{year}/{month}/subaccount, reshaped long: one row per
# month x channel x subaccount.
USAGE = Resource(
    name="usage",
    path="/account/usage/{year}/{month}/subaccount",
    doc="Monthly usage per channel and subaccount (one long frame).",
    paginated=False,
    time_field="month",
    columns=_cols(
        ("month", "datetime", "First instant of the month (UTC)."),
        ("channel", "category", "sms, mms, voice, fax, post, email, email_transactional, ..."),
        ("subaccount_id", "int", "Subaccount id."),
        ("username", "str", "Subaccount API username."),
        ("count", "int", "Units billed (SMS parts, pages, emails); the API sends '29.00'."),
        ("price", "money", "Amount charged, in the account currency."),
    ),
)

ACCOUNT = Resource(
    name="account",
    path="/account",
    doc="The authenticated account (one row).",
    paginated=False,
    primary_key="user_id",
    columns=_cols(
        ("user_id", "int", "Account user id."),
        ("username", "str", "API username."),
        ("user_email", "str", "Account email."),
        ("active", "bool", "Whether the account is activated."),
        ("banned", "bool", "Whether the account is banned."),
        ("balance", "money", "Current balance, in the account currency."),
        ("account_name", "str", "Business name."),
        ("country", "category", "Account country."),
        ("default_country_sms", "category", "Default country for national numbers."),
        ("timezone", "str", "Account time zone."),
        ("currency", "category", "Currency code, e.g. AUD."),
    ),
)

REGISTRY: dict[str, Resource] = {r.name: r for r in (SMS_HISTORY, USAGE, ACCOUNT)}


def get(name: str) -> Resource:
    """The registered resource called ``name``; a clear error lists the known names.

    Example::

        >>> get("usage").column_names[:2]
        ['month', 'channel']
    """
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown resource {name!r}; known resources: {known}") from None


def register(resource: Resource) -> Resource:
    """Add a resource to the registry (used by later loaders); returns it."""
    REGISTRY[resource.name] = resource
    return resource
