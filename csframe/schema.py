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
        ("carrier", "category", "Destination carrier."),
        ("first_name", "str", "Contact first name, if sent to a contact."),
        ("last_name", "str", "Contact last name, if sent to a contact."),
        ("_api_username", "category", "API username that sent the message."),
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

# --- History of the other channels ---------------------------------------------------------
# Shared by SMS and MMS: the MMS history record is the SMS one plus subject and media.
MMS_HISTORY = Resource(
    name="mms_history",
    path="/mms/history",
    doc="MMS history, one row per message.",
    primary_key="message_id",
    time_field="date",
    order_by="date:asc",
    columns=SMS_HISTORY.columns
    + _cols(
        ("subject", "str", "MMS subject."),
        ("_media_file_url", "str", "URL of the media file sent."),
        ("date_added", "datetime", "When the message was submitted (UTC)."),
    ),
)

VOICE_HISTORY = Resource(
    name="voice_history",
    path="/voice/history",
    doc="Voice (text-to-speech) call history, one row per call.",
    primary_key="message_id",
    time_field="date_added",
    order_by="date_added:asc",
    columns=_cols(
        ("date_added", "datetime", "When the call was submitted (UTC)."),
        ("date", "datetime", "When the call was made (UTC), if it was."),
        ("to", "str", "Number called (E.164)."),
        ("to_type", "category", "mobile or landline."),
        ("from", "str", "Caller id."),
        ("body", "str", "Text read out."),
        ("lang", "category", "Voice language, e.g. en-au."),
        ("voice", "category", "female or male."),
        ("status", "category", "Call status."),
        ("status_code", "category", "Delivery status code."),
        ("status_text", "str", "Delivery status text."),
        ("schedule", "datetime", "Scheduled time (UTC), if any."),
        ("message_id", "str", "Unique message id."),
        ("message_parts", "int", "Billed units."),
        ("message_price", "money", "Price charged, in the account currency."),
        ("list_id", "int", "Contact list called, if any."),
        ("custom_string", "str", "Caller's reference."),
        ("user_id", "int", "Account user id."),
        ("subaccount_id", "int", "Subaccount that placed the call."),
        ("country", "category", "Destination country."),
        ("carrier", "str", "Destination carrier."),
        ("require_input", "int", "Whether a keypress was requested."),
        ("machine_detection", "int", "Whether answering machines were detected."),
        ("machine_detected", "int", "Whether an answering machine answered."),
        ("digits", "str", "Digits pressed by the callee."),
        ("_api_username", "str", "API username that placed the call."),
    ),
)

EMAIL_HISTORY = Resource(
    name="email_history",
    path="/email/history",
    doc="Transactional email history, one row per email (recipients flattened to text).",
    primary_key="message_id",
    time_field="date_added",
    order_by="date_added:asc",
    columns=_cols(
        ("date_added", "datetime", "When the email was submitted (UTC)."),
        ("message_id", "str", "Unique message id."),
        ("user_id", "int", "Account user id."),
        ("subaccount_id", "int", "Subaccount that sent it."),
        ("from_email_address_id", "int", "Allowed sender address id."),
        ("from_name", "str", "Sender name."),
        ("to", "str", "Recipients, comma-separated addresses."),
        ("cc", "str", "Cc recipients, comma-separated."),
        ("bcc", "str", "Bcc recipients, comma-separated."),
        ("subject", "str", "Subject."),
        ("body", "str", "HTML body."),
        ("body_plain_text", "str", "Plain-text body."),
        ("schedule", "datetime", "Scheduled time (UTC), if any."),
        ("status", "category", "Delivery status."),
        ("status_text", "str", "Status text."),
        ("soft_bounce_count", "int", "Soft bounces."),
        ("hard_bounce_count", "int", "Hard bounces."),
        ("price", "money", "Price charged, in the account currency."),
        ("custom_string", "str", "Caller's reference."),
    ),
)

FAX_HISTORY = Resource(
    name="fax_history",
    path="/fax/history",
    doc="Fax history, one row per fax.",
    primary_key="message_id",
    time_field="date_added",
    order_by="date_added:asc",
    columns=_cols(
        ("date_added", "datetime", "When the fax was submitted (UTC)."),
        ("date", "datetime", "When the fax was delivered (UTC), if it was."),
        ("message_id", "str", "Unique message id."),
        ("to", "str", "Fax number (E.164)."),
        ("from", "str", "Sender number."),
        ("status", "category", "Delivery status."),
        ("status_code", "category", "Delivery status code."),
        ("status_text", "str", "Status text."),
        ("message_pages", "int", "Pages billed."),
        ("message_price", "money", "Price charged, in the account currency."),
        ("schedule", "datetime", "Scheduled time (UTC), if any."),
        ("list_id", "int", "Contact list, if any."),
        ("custom_string", "str", "Caller's reference."),
        ("user_id", "int", "Account user id."),
        ("subaccount_id", "int", "Subaccount that sent it."),
        ("country", "category", "Destination country."),
        ("carrier", "str", "Destination carrier."),
        ("from_email", "str", "Reply email, if any."),
        ("_file_url", "str", "URL of the document sent."),
        ("_api_username", "str", "API username that sent it."),
    ),
)

_POST_COLUMNS = _cols(
    ("date_added", "datetime", "When the item was submitted (UTC)."),
    ("message_id", "str", "Unique message id."),
    ("user_id", "int", "Account user id."),
    ("subaccount_id", "int", "Subaccount that sent it."),
    ("list_id", "int", "Contact list, if any."),
    ("address_name", "str", "Recipient name."),
    ("address_line_1", "str", "Address line 1."),
    ("address_line_2", "str", "Address line 2."),
    ("address_city", "str", "City."),
    ("address_state", "str", "State."),
    ("address_postal_code", "str", "Postal code."),
    ("address_country", "category", "Country (ISO alpha-2)."),
    ("return_address_id", "int", "Return address id."),
    ("custom_string", "str", "Caller's reference."),
    ("schedule", "datetime", "Scheduled time (UTC), if any."),
    ("post_pages", "int", "Pages printed."),
    ("post_price", "money", "Price charged, in the account currency."),
    ("status", "category", "Delivery status."),
    ("status_code", "category", "Status code."),
    ("status_text", "str", "Status text."),
    ("_api_username", "str", "API username that sent it."),
)

LETTER_HISTORY = Resource(
    name="letter_history",
    path="/post/letters/history",
    doc="Letters sent by post, one row per letter.",
    primary_key="message_id",
    time_field="date_added",
    order_by="date_added:asc",
    columns=_POST_COLUMNS
    + _cols(("colour", "int", "1 for colour."), ("duplex", "int", "1 for duplex.")),
)

POSTCARD_HISTORY = Resource(
    name="postcard_history",
    path="/post/postcards/history",
    doc="Postcards sent, one row per postcard.",
    primary_key="message_id",
    time_field="date_added",
    order_by="date_added:asc",
    columns=_POST_COLUMNS,
)

# --- Receipts and inbound -------------------------------------------------------------------
_RECEIPT_COLUMNS = _cols(
    ("timestamp", "datetime", "When the receipt arrived (UTC)."),
    ("timestamp_send", "datetime", "When the message was sent (UTC)."),
    ("message_id", "str", "The message this receipt is for."),
    ("status_code", "category", "Delivery status code, e.g. '201'."),
    ("status_text", "str", "Delivery status text."),
    ("error_code", "category", "Error code, if failed."),
    ("error_text", "str", "Error text, if failed."),
    ("custom_string", "str", "Caller's reference of the message."),
    ("subaccount_id", "int", "Subaccount that sent the message."),
)
SMS_RECEIPTS = Resource(
    name="sms_receipts",
    path="/sms/receipts",
    doc="SMS delivery receipts.",
    primary_key="message_id",
    time_field="timestamp",
    columns=_RECEIPT_COLUMNS + _cols(("_message_type", "category", "sms.")),
)
VOICE_RECEIPTS = Resource(
    name="voice_receipts",
    path="/voice/receipts",
    doc="Voice delivery receipts.",
    primary_key="message_id",
    time_field="timestamp",
    columns=_RECEIPT_COLUMNS
    + _cols(("message_type", "category", "voice."), ("digits", "str", "Digits pressed.")),
)
FAX_RECEIPTS = Resource(
    name="fax_receipts",
    path="/fax/receipts",
    doc="Fax delivery receipts.",
    primary_key="message_id",
    time_field="timestamp",
    columns=_RECEIPT_COLUMNS + _cols(("message_type", "category", "fax.")),
)

SMS_INBOUND = Resource(
    name="sms_inbound",
    path="/sms/inbound",
    doc="Inbound SMS (replies and messages to your numbers).",
    primary_key="message_id",
    time_field="timestamp",
    columns=_cols(
        ("timestamp", "datetime", "When the message was received (UTC)."),
        ("from", "str", "Sender number (E.164)."),
        ("to", "str", "Your number it was sent to."),
        ("body", "str", "Message text."),
        ("original_body", "str", "Body of the message replied to, if a reply."),
        ("original_message_id", "str", "Id of the message replied to, if a reply."),
        ("custom_string", "str", "custom_string of the message replied to."),
        ("message_id", "str", "Unique inbound message id."),
        ("_keyword", "str", "First word, lower-cased (e.g. 'stop')."),
    ),
)

# --- Statistics ------------------------------------------------------------------------------
STATISTICS = Resource(
    name="statistics",
    path="/statistics/{channel}",
    doc="Daily outbound / inbound / bounced counts and prices (one row per day).",
    paginated=False,
    time_field="date",
    columns=_cols(
        ("date", "datetime", "Day (UTC midnight)."),
        ("outbound_count", "int", "Messages sent."),
        ("outbound_price", "money", "Price of messages sent."),
        ("inbound_count", "int", "Messages received."),
        ("inbound_price", "money", "Price of messages received."),
        ("bounced_count", "int", "Messages bounced."),
        ("bounced_price", "money", "Price of bounced messages."),
    ),
)

# --- Campaigns -------------------------------------------------------------------------------
SMS_CAMPAIGNS = Resource(
    name="sms_campaigns",
    path="/sms-campaigns",
    doc="SMS campaigns (one row per campaign).",
    primary_key="sms_campaign_id",
    time_field="date_added",
    columns=_cols(
        ("sms_campaign_id", "int", "Campaign id."),
        ("name", "str", "Campaign name."),
        ("user_id", "int", "Account user id."),
        ("subaccount_id", "int", "Subaccount that sent it."),
        ("list_id", "int", "Contact list sent to."),
        ("from", "str", "Sender id."),
        ("body", "str", "Message template."),
        ("schedule", "datetime", "Scheduled time (UTC)."),
        ("status", "category", "Campaign status."),
        ("date_added", "datetime", "When the campaign was created (UTC)."),
        ("custom_string", "str", "Caller's reference."),
        ("source", "str", "Sending method."),
        ("_total_count", "int", "Recipients."),
    ),
)
MMS_CAMPAIGNS = Resource(
    name="mms_campaigns",
    path="/mms-campaigns",
    doc="MMS campaigns (one row per campaign).",
    primary_key="mms_campaign_id",
    time_field="date_added",
    columns=_cols(
        ("mms_campaign_id", "int", "Campaign id."),
        ("name", "str", "Campaign name."),
        ("user_id", "int", "Account user id."),
        ("subaccount_id", "int", "Subaccount that sent it."),
        ("list_id", "int", "Contact list sent to."),
        ("from", "str", "Sender id."),
        ("subject", "str", "MMS subject."),
        ("body", "str", "Message template."),
        ("schedule", "datetime", "Scheduled time (UTC)."),
        ("status", "category", "Campaign status."),
        ("date_added", "datetime", "When the campaign was created (UTC)."),
        ("custom_string", "str", "Caller's reference."),
        ("_total_count", "int", "Recipients."),
        ("_list_name", "str", "Name of the list."),
        ("_media_file_url", "str", "Media URL."),
    ),
)
EMAIL_CAMPAIGNS = Resource(
    name="email_campaigns",
    path="/email-campaigns",
    doc="Email campaigns with their engagement counts (one row per campaign).",
    primary_key="email_campaign_id",
    time_field="date_added",
    columns=_cols(
        ("email_campaign_id", "int", "Campaign id."),
        ("name", "str", "Campaign name."),
        ("user_id", "int", "Account user id."),
        ("subaccount_id", "int", "Subaccount that sent it."),
        ("subject", "str", "Subject."),
        ("list_id", "int", "Contact list sent to."),
        ("from_email_address_id", "int", "Sender address id."),
        ("from_name", "str", "Sender name."),
        ("template_id", "int", "Template used."),
        ("schedule", "datetime", "Scheduled time (UTC)."),
        ("status", "category", "Campaign status."),
        ("date_added", "datetime", "When the campaign was created (UTC)."),
        ("custom_string", "str", "Caller's reference."),
        ("send_count", "int", "Emails sent."),
        ("open_count", "int", "Opens."),
        ("click_count", "int", "Clicks."),
        ("hard_bounce_count", "int", "Hard bounces."),
        ("soft_bounce_count", "int", "Soft bounces."),
        ("abuse_count", "int", "Abuse reports."),
        ("unsubscribe_count", "int", "Unsubscribes."),
    ),
)
EMAIL_CAMPAIGN_HISTORY = Resource(
    name="email_campaign_history",
    path="/email-campaigns/{email_campaign_id}/history",
    doc="Per-recipient history of one email campaign.",
    primary_key="message_id",
    columns=_cols(
        ("email_campaign_id", "int", "Campaign id."),
        ("message_id", "str", "Email id."),
        ("contact_id", "int", "Recipient contact id."),
        ("to_name", "str", "Recipient name."),
        ("to_address", "str", "Recipient address."),
        ("from_name", "str", "Sender name."),
        ("from_address", "str", "Sender address (id)."),
        ("subject", "str", "Subject."),
        ("processed_at", "datetime", "When it was processed (UTC)."),
        ("status", "category", "Delivery status."),
        ("open_count", "int", "Opens."),
        ("click_count", "int", "Clicks."),
        ("hard_bounce_count", "int", "Hard bounces."),
        ("soft_bounce_count", "int", "Soft bounces."),
    ),
)

# --- Contacts --------------------------------------------------------------------------------
LISTS = Resource(
    name="lists",
    path="/lists",
    doc="Contact lists.",
    primary_key="list_id",
    columns=_cols(
        ("list_id", "int", "List id."),
        ("list_name", "str", "List name."),
        ("list_email_id", "str", "Address that adds contacts to the list by email."),
        ("_contacts_count", "int", "Contacts in the list."),
    ),
)
CONTACTS = Resource(
    name="contacts",
    path="/lists/{list_id}/contacts",
    doc="Contacts of one or all lists.",
    primary_key="contact_id",
    time_field="date_updated",
    columns=_cols(
        ("contact_id", "int", "Contact id."),
        ("list_id", "int", "List id."),
        ("_list_name", "str", "List name."),
        ("phone_number", "str", "Phone number as stored."),
        ("email", "str", "Email address."),
        ("fax_number", "str", "Fax number."),
        ("first_name", "str", "First name."),
        ("last_name", "str", "Last name."),
        ("organization_name", "str", "Organisation."),
        ("custom_1", "str", "Custom field 1."),
        ("custom_2", "str", "Custom field 2."),
        ("custom_3", "str", "Custom field 3."),
        ("custom_4", "str", "Custom field 4."),
        ("address_line_1", "str", "Address line 1."),
        ("address_line_2", "str", "Address line 2."),
        ("address_city", "str", "City."),
        ("address_state", "str", "State."),
        ("address_postal_code", "str", "Postal code."),
        ("address_country", "str", "Country."),
        ("date_added", "datetime", "When the contact was added (UTC)."),
        ("date_updated", "datetime", "When the contact last changed (UTC)."),
    ),
)

# --- Account ---------------------------------------------------------------------------------
SUBACCOUNTS = Resource(
    name="subaccounts",
    path="/subaccounts",
    doc="Subaccounts (API keys are never loaded).",
    primary_key="subaccount_id",
    columns=_cols(
        ("subaccount_id", "int", "Subaccount id."),
        ("api_username", "str", "API username."),
        ("email", "str", "Email."),
        ("phone_number", "str", "Phone number."),
        ("first_name", "str", "First name."),
        ("last_name", "str", "Last name."),
        ("access_users", "bool", "May manage users."),
        ("access_billing", "bool", "May see billing."),
        ("access_reporting", "bool", "May see reports."),
        ("access_contacts", "bool", "May manage contacts."),
        ("access_settings", "bool", "May change settings."),
        ("access_sms", "bool", "May send SMS."),
        ("access_email", "bool", "May send email."),
        ("access_voice", "bool", "May send voice."),
        ("access_fax", "bool", "May send fax."),
        ("access_post", "bool", "May send post."),
        ("access_reseller", "bool", "Reseller access."),
        ("access_mms", "bool", "May send MMS."),
        ("share_campaigns", "bool", "Shares campaigns."),
        ("notes", "str", "Notes."),
    ),
)
RECHARGE_TRANSACTIONS = Resource(
    name="recharge_transactions",
    path="/recharge/transactions",
    doc="Account recharges (credit purchases).",
    primary_key="invoice_number",
    time_field="date",
    columns=_cols(
        ("date", "datetime", "When the recharge was made (UTC)."),
        ("invoice_number", "str", "Invoice number."),
        ("amount", "money", "Amount recharged."),
        ("currency", "category", "Currency of the amount."),
    ),
)

REGISTRY: dict[str, Resource] = {
    r.name: r
    for r in (
        SMS_HISTORY,
        MMS_HISTORY,
        VOICE_HISTORY,
        EMAIL_HISTORY,
        FAX_HISTORY,
        LETTER_HISTORY,
        POSTCARD_HISTORY,
        SMS_RECEIPTS,
        VOICE_RECEIPTS,
        FAX_RECEIPTS,
        SMS_INBOUND,
        STATISTICS,
        SMS_CAMPAIGNS,
        MMS_CAMPAIGNS,
        EMAIL_CAMPAIGNS,
        EMAIL_CAMPAIGN_HISTORY,
        LISTS,
        CONTACTS,
        SUBACCOUNTS,
        RECHARGE_TRANSACTIONS,
        USAGE,
        ACCOUNT,
    )
}


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
