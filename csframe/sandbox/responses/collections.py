"""Generic collections: every other documented list endpoint, from one table of specs.

Each :class:`Collection` names a path, its id field, which operations exist, and the
reference's example record(s) (keys and order of endpoints.json's ``example_response``,
JSON types of the OpenAPI schema). From the table this module builds the routes:

- ``GET <path>``: the account's records. ``style="paged"``: the Laravel pagination
  block (``page``/``limit`` as everywhere, ``q=field:value`` exact and case-insensitive
  over the record's fields, ``operator``, ``order_by=field:asc|desc``; default order is
  creation order). ``style="array"``: ``data`` is the plain array (reference data).
  ``style="cursor"``: the newer endpoints (alpha tags, own numbers): no envelope,
  ``{<key>: [...], "_metadata": {"pagination": {"self", "next", "page_size"}}}`` with
  ``offset`` = the id after which to continue and ``page_size`` (default 10, 1..100).
- ``GET <path>/{id}``, ``POST <path>``, ``PUT|PATCH <path>/{id}``, ``DELETE <path>/{id}``
  where the reference has them. POST stores what was posted (the writable fields of the
  example record, coerced to the example's JSON types; unknown keys ignored) with a new
  id and the server-side fields (``user_id``, ``date_added``, timestamps); PUT changes
  only the fields given. Missing required fields -> 400 MISSING_REQUIRED_FIELDS; a value
  that cannot take the field's type -> 400 BAD_REQUEST; an unknown id -> 404.

Records belong to the caller's account (every login of the account sees them);
``global_`` collections (master templates, voice languages) are shared reference data.

Where a collection meets the rest of the sandbox the seed makes it coherent: SMS
templates are the bodies the history was sent from, alpha tags are the alphanumeric
senders of the history, dedicated numbers include the number the support login sends
from, delivery issues cite failed messages of the history, allowed email addresses are
the senders of the email campaigns.

Example::

    GET /v3/email/templates?q=template_name:Welcome&order_by=template_id:desc
    POST /v3/post/return-addresses {"address_name": "HQ", "address_line_1": "1 Main St", ...}
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csframe.sandbox import models_account as accounts
from csframe.sandbox import models_collections as coll
from csframe.sandbox.models import Store, format_uuid
from csframe.sandbox.pricing import COUNTRIES, CURRENCY, NumberError, fmt_money, normalise_number
from csframe.sandbox.responses.common import (
    ApiError,
    authenticate,
    endpoint,
    envelope,
    json_body,
    ordering,
    pagination,
    paging,
    query_records,
    search,
    store_of,
    wants_query,
)

JSON = "application/json"


@dataclass(frozen=True)
class Collection:
    """One generic collection (see the module docstring)."""

    name: str  # storage key
    path: str  # e.g. "/email/templates" (without /v3)
    id_field: str  # the record's id key
    ops: str  # L(ist) G(et one) C(reate) U(pdate) D(elete)
    examples: tuple[dict[str, Any], ...]  # typed example records (first = create template)
    msgs: dict[str, str]  # op letter -> response_msg
    style: str = "paged"  # "paged" | "array" | "cursor"
    id_param: str | None = None  # path parameter name (default: id_field)
    id_kind: str = "int"  # "int" | "uuid" | "text"
    required: tuple[str, ...] = ()  # POST body fields that must be non-blank
    aliases: dict[str, str] = field(default_factory=dict)  # body key -> record key
    server_fields: tuple[str, ...] = ()  # set by the server, never from a body
    list_fields: tuple[str, ...] | None = None  # keys shown by GET <path> (default all)
    get_fields: tuple[str, ...] | None = None  # keys shown by GET <path>/{id}
    create_fields: tuple[str, ...] | None = None  # keys shown by POST
    list_types: dict[str, Callable[[Any], Any]] = field(default_factory=dict)  # OpenAPI quirks
    deleted: Any = None  # data of the DELETE answer ("record": the deleted record)
    update_method: str = "PUT"
    global_: bool = False
    list_key: str = "data"  # cursor style: the array's key
    vary: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # seed variations
    count: int = 0  # seeded records (0: just the examples)
    extra: dict[str, Any] = field(default_factory=dict)  # extra keys of the list's data block

    @property
    def param(self) -> str:
        return self.id_param or self.id_field

    def owner(self, user_id: int) -> int:
        return 0 if self.global_ else user_id


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def uuid_for(*parts: Any) -> str:
    """A lower-case UUID derived from ``parts`` (deterministic ids of seeded records)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    return format_uuid(int(digest[:32], 16)).lower()


RECEIPT_RULE = {
    "receipt_rule_id": 1,
    "rule_name": "Email Test Rule",
    "match_type": 0,
    "action": "URL",
    "action_address": "http://yourdomain.com",
    "enabled": 1,
}
RULE_NAMES = ("Delivery webhook", "Failures to support", "All receipts to CRM", "Escalations")
RULE_ACTIONS = ("URL", "EMAIL_FIXED", "URL", "EMAIL_USER")
RULE_ADDRESSES = (
    "https://hooks.acme.example/clicksend/receipts",
    "support@acme.example",
    "https://crm.acme.example/webhooks/clicksend",
    "ops@acme.example",
)
MASTER_THUMB = "https://s3-ap-southeast-2.amazonaws.com/clicksend-api-downloads/_email-marketing/_templates-master/{}/thumb-{}.jpg"
MASTER_NAMES = ("Basic 2", "Minty", "Newsletter", "Announcement", "Birthday Balloons", "Blank")
MASTER_CATEGORIES = (
    (2, "Alerts/Notifications"),
    (3, "Art"),
    (4, "Birthday"),
    (23, "Blank Template"),
)


def master_template(i: int) -> dict[str, Any]:
    name = MASTER_NAMES[i % len(MASTER_NAMES)]
    slug = name.lower().replace(" ", "")
    return {
        "template_id_master": [57, 1, 58, 59, 60, 61][i % 6] + 100 * (i // 6),
        "category_id": MASTER_CATEGORIES[i % len(MASTER_CATEGORIES)][0],
        "template_name": name if i < 6 else f"{name} {i // 6 + 1}",
        "date_added": 1445848821 + 86400 * 17 * i,
        "body": f"<!DOCTYPE html><html><body><div class=\"{slug}\"><p>[content]</p></div></body></html>",
        "thumbnail": {"small": MASTER_THUMB.format(slug, "small"), "large": MASTER_THUMB.format(slug, "large")},
    }  # fmt: skip


ACCOUNT_EXAMPLE: dict[str, Any] = {
    "user_id": 24,
    "username": "acme_retail_nz",
    "user_email": "owner@acme-nz.example",
    "active": 1,
    "banned": 0,
    "balance": "115.000000",
    "user_phone": "+64211234567",
    "reply_to": "originalemail",
    "delivery_to": None,
    "user_first_name": "Aroha",
    "user_last_name": "Ngata",
    "account": 0,
    "account_name": "ACME Retail NZ",
    "account_billing_email": "billing@acme-nz.example",
    "account_billing_mobile": "+64211234567",
    "country": "NZ",
    "default_country_sms": "NZ",
    "auto_recharge": 0,
    "auto_recharge_amount": "20.00",
    "low_credit_amount": "1.50",
    "setting_unicode_sms": 1,
    "setting_email_sms_subject": 0,
    "setting_fix_sender_id": 0,
    "setting_sms_message_char_limit": 6,
    "old_dashboard": 0,
    "balance_commission": "0.000000",
    "timezone": "Pacific/Auckland",
    "unsubscribe_mail": 0,
    "setting_beta": 0,
    "_currency": CURRENCY,
    "_subaccount": {
        "subaccount_id": 61024,
        "api_username": "acme_retail_nz",
        "email": "owner@acme-nz.example",
        "phone_number": "+64211234567",
        "first_name": "Aroha",
        "last_name": "Ngata",
        "api_key": "",  # seed_resellers derives it from the seed
        **dict.fromkeys(("access_smpp", "access_reseller", "hide_pricing", "share_campaigns"), 0),
        **dict.fromkeys(
            ("access_users", "access_billing", "access_reporting", "access_contacts", "access_settings",
             "access_sms", "access_email", "access_voice", "access_fax", "access_post",
             "access_global_sending", "access_mms"), 1),
        "notes": None,
        "is_main": 1,
        "sign_up_type": None,
    },
}  # fmt: skip
# A second client account, so a reseller sync has several to bring (seed_resellers gives
# each client its keys and a small history of its own).
CLIENT_EXAMPLE = ACCOUNT_EXAMPLE | {
    "user_id": 25,
    "username": "acme_events_au",
    "user_email": "events@acme-events.example",
    "balance": "42.500000",
    "user_phone": "+61491570156",
    "user_first_name": "Mia",
    "user_last_name": "Tran",
    "account_name": "ACME Events",
    "account_billing_email": "events@acme-events.example",
    "account_billing_mobile": "+61491570156",
    "country": "AU",
    "default_country_sms": "AU",
    "timezone": "Australia/Sydney",
    "_subaccount": ACCOUNT_EXAMPLE["_subaccount"] | {
        "subaccount_id": 61025,
        "api_username": "acme_events_au",
        "email": "events@acme-events.example",
        "phone_number": "+61491570156",
        "first_name": "Mia",
        "last_name": "Tran",
        "api_key": "",  # seed_resellers derives it from the seed
    },
}  # fmt: skip


def number_record(
    number: str, iso: str, price: str, guid: str, kind: str = "sms"
) -> dict[str, Any]:
    return {
        "dedicated_number": number,
        "country": iso,
        "price": price,
        "_country_name": COUNTRIES[iso].name,
        "notes": None,
        "type": kind,
        "number_type": "longcode",
        "number_category": None,
        "number_guid": guid,
        "form_submission_id": None,
        "status": {
            "value": 0,
            "label": "REGISTRATION_NOT_REQUIRED",
            "description": "Your number is ready to go.",
            "name": "Ready to use",
        },
    }


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "email_templates", "/email/templates", "template_id", "LGCUD",
        ({"template_id": 281, "template_id_master": 57, "template_name": "Welcome", "body": "<div id=\"nb_wrapper\"><p>Welcome to ACME!</p></div>"},),
        {"L": "Here are your email templates.", "G": "Here is your email template.", "C": "New email template has been saved.", "U": "Your email template has been updated.", "D": "Your email template has been deleted."},
        required=("template_name", "template_id_master"), list_fields=("template_id", "template_name"), deleted=[],
        vary={"template_name": ("Welcome", "Monthly newsletter", "Order confirmation", "Password reset", "Spring sale", "Event invitation", "Feedback request", "Winback")},
        count=18,
    ),
    Collection(
        "email_addresses", "/email/addresses", "email_address_id", "LGCD",
        ({"email_address_id": 2, "email_address": "marketing@acme.example", "verified": 1, "date_added": "1447736880"},),
        {"L": "Here are your email addresses", "G": "Here is your email address.", "C": "Email address has been created.", "D": "Email address deleted."},
        required=("email_address",), server_fields=("verified", "date_added"),
        vary={"email_address": ("marketing@acme.example", "news@acme.example", "support@acme.example", "no-reply@acme.example", "events@acme.example")},
        count=5,
    ),
    Collection(
        "email_master_templates", "/email/master-templates", "template_id_master", "LG",
        tuple(master_template(i) for i in range(12)),
        {"L": "List of Email Master Templates", "G": "Here is your email template"},
        style="array", id_param="template_id", global_=True,
        list_fields=("template_id_master", "template_name", "date_added", "thumbnail"),
        get_fields=("template_id_master", "template_name", "date_added", "thumbnail"),
    ),
    Collection(
        "email_master_categories", "/email/master-templates-categories", "category_id", "LG",
        tuple({"category_id": c, "name": n, "category_name": n} for c, n in MASTER_CATEGORIES),
        {"L": "List of Email Categories", "G": "List of Email Categories"},
        style="array", global_=True,
    ),
    *(
        Collection(
            f"{channel}_receipt_rules", f"/automations/{channel}/receipts", "receipt_rule_id", "LGCUD",
            (RECEIPT_RULE,), msgs, required=("rule_name", "action", "action_address"),
            vary={"rule_name": RULE_NAMES, "action": RULE_ACTIONS, "action_address": RULE_ADDRESSES, "enabled": (1, 1, 0, 1)},
            count=4, deleted=deleted,
        )
        for channel, msgs, deleted in (
            ("email", {"L": "Here is your result.", "G": "Here is your result.", "C": "Automation email receipt rule has been created.", "U": "Automation email receipt rule has been updated.", "D": "Automation email receipt rule has been deleted."}, True),
            ("sms", {"L": "Your list of rule incoming sms receipt.", "G": "Your rule incoming sms receipt.", "C": "Your new SMS receipt has been added.", "U": "Your rule incoming sms receipt has been updated.", "D": "Your rule incoming sms receipt has been deleted."}, []),
            ("voice", {"L": "Your voice receipts.", "G": "Your rule incoming voice receipt.", "C": "Your new voice receipt has been added.", "U": "Your rule incoming voice receipt.", "D": "Your rule voice receipt has been deleted."}, []),
            ("fax", {"L": "Here is your result.", "G": "Your rule incoming fax receipt.", "C": "Your new Fax receipt has been added.", "U": "Your rule incoming fax receipt has been updated.", "D": "Your rule incoming fax receipt has been deleted."}, None),
        )
    ),
    Collection(
        "fax_inbound_rules", "/automations/fax/inbound", "inbound_rule_id", "LGCUD",
        ({"inbound_rule_id": 1, "dedicated_number": "+61390001234", "rule_name": "Faxes to accounts", "user_id": 48213, "action": "EMAIL_FIXED", "action_address": "accounts@acme.example", "enabled": 1},),
        {"L": "Your inbound fax.", "G": "Your inbound fax.", "C": "New rule has been added.", "U": "Your inbound fax.", "D": "Your fax inbound rule has been deleted."},
        required=("rule_name", "action", "action_address"), server_fields=("user_id",), deleted=[],
    ),
    Collection(
        "sms_inbound_rules", "/automations/sms/inbound", "inbound_rule_id", "LGCUD",
        (
            {"inbound_rule_id": 9, "dedicated_number": "+61480000123", "rule_name": "Opt-outs", "message_search_type": 3, "message_search_term": "STOP", "action": "CREATE_CONTACT", "action_address": "611", "body": None, "enabled": 1, "webhook_type": None},
            {"inbound_rule_id": 10, "dedicated_number": "+61480000123", "rule_name": "Replies to support", "message_search_type": 0, "message_search_term": "", "action": "EMAIL_FIXED", "action_address": "support@acme.example", "body": None, "enabled": 1, "webhook_type": None},
            {"inbound_rule_id": 11, "dedicated_number": "+61480000123", "rule_name": "Webhook", "message_search_type": 0, "message_search_term": "", "action": "URL", "action_address": "https://hooks.acme.example/clicksend/inbound", "body": None, "enabled": 1, "webhook_type": "json"},
        ),
        {"L": "Your list of inbound rules.", "G": "Your inbound rule.", "C": "Your record has been added.", "U": "Your record has been updated.", "D": "Your record has been deleted."},
        # No action_address: the spec's own example (action POLL) leaves it blank.
        required=("rule_name", "action"), deleted=[],
    ),
    Collection(
        "return_addresses", "/post/return-addresses", "return_address_id", "LGCUD",
        (
            {"return_address_id": 4, "user_id": 48213, "address_name": "ACME Pty Ltd", "address_line_1": "120 Collins Street", "address_line_2": "Level 12", "address_city": "Melbourne", "address_state": "VIC", "address_postal_code": "3000", "address_country": "AU"},
            {"return_address_id": 5, "user_id": 48213, "address_name": "ACME Returns", "address_line_1": "8 Dock Road", "address_line_2": "", "address_city": "Port Melbourne", "address_state": "VIC", "address_postal_code": "3207", "address_country": "AU"},
        ),
        {"L": "Here are your records.", "G": "Here is your data.", "C": "New return address has been added.", "U": "Your return address has been updated.", "D": "Your return address has been deleted."},
        required=("address_name", "address_line_1", "address_city", "address_postal_code", "address_country"),
        server_fields=("user_id",), deleted=[],
    ),
    Collection(
        "delivery_issues", "/delivery-issues", "issue_id", "LC",
        ({"issue_id": 1, "user_id": 48213, "message_id": "B388828B-AD46-4366-8AD3-0305FF5E3FE5", "type": "SMS", "description": "Customer says the message never arrived.", "client_comments": None, "support_comments": None, "status": None, "date_added": 1481610495, "resolved": 0, "email_address": "support@acme.example"},),
        {"L": "Here is your result.", "C": "Delivery issue has been created."},
        required=("type", "description", "email_address"), aliases={"email-address": "email_address"},
        server_fields=("user_id", "date_added", "support_comments", "status", "resolved"),
        create_fields=("issue_id", "user_id", "message_id", "type", "description", "date_added", "email_address"),
        list_types={"issue_id": str},  # the OpenAPI types the listed id as a string
    ),
    Collection(
        "referral_accounts", "/referral/accounts", "referral_rule_id", "L",
        (
            {"referral_rule_id": 1, "refered_user_id": 50511, "date_referred": 1738260940, "percentage_referral": 5},
            {"referral_rule_id": 2, "refered_user_id": 50987, "date_referred": 1751260989, "percentage_referral": 5},
        ),
        {"L": "Here are your referrals."},
    ),
    Collection(
        "reseller_accounts", "/reseller/accounts", "user_id", "LGCU",
        (ACCOUNT_EXAMPLE, CLIENT_EXAMPLE),
        {"L": "Here are you data.", "G": "Here are your data.", "C": "New reseller has been added.", "U": "Reseller account has been updated."},
        id_param="client_user_id",
        required=("username", "password", "user_email", "user_phone", "user_first_name", "user_last_name", "account_name", "country"),
        server_fields=("active", "banned", "balance", "account", "balance_commission", "_currency", "_subaccount"),
    ),
    Collection(
        "numbers", "/numbers", "dedicated_number", "L",
        (
            number_record("+61480000123", "AU", "18.59", uuid_for("number", 1)),
            number_record("+61480000456", "AU", "18.59", uuid_for("number", 2)),
            number_record("+6421555012", "NZ", "24.00", uuid_for("number", 3)),
            number_record("+61390001234", "AU", "18.59", uuid_for("number", 4), "fax"),
        ),
        {"L": "Here are you dedicated numbers."}, id_kind="text", extra={"_currency": CURRENCY},
    ),
    Collection(
        "sms_templates", "/sms/templates", "template_id", "LGCUD",
        ({"template_id": 1, "body": "This is a sample template.", "template_name": "My Awesome Template"},),
        {"L": "Here are your data.", "G": "Here is your template.", "C": "New template has been saved.", "U": "Your template has been updated.", "D": "Your template has been deleted."},
        required=("template_name", "body"), deleted=[],
    ),
    Collection(
        "email_sms", "/sms/email-sms", "email_address_id", "LC",
        ({"email_address_id": 84, "email_address": "alerts@acme.example", "from": "ACMEAlerts"},),
        {"L": "Here are some data.", "C": "New data has been saved."}, required=("email_address",),
    ),
    Collection(
        "stripped_strings", "/sms/email-sms-stripped-strings", "rule_id", "LGCUD",
        (
            {"rule_id": 18, "strip_string": "Sent from my iPhone"},
            {"rule_id": 19, "strip_string": "-- Please consider the environment before printing."},
        ),
        {"L": "Here is your result.", "G": "Here is your result.", "C": "Strip string has been created.", "U": "Strip string has been updated.", "D": "Strip string has been deleted."},
        required=("strip_string",), deleted=True,
    ),
    Collection(
        "voice_lang", "/voice/lang", "code", "L",
        tuple(
            {"code": c, "country": n, "gender": g}
            for c, n, g in (
                ("en-us", "English, US", ["female", "male"]), ("en-au", "English, Australia", ["female", "male"]),
                ("en-gb", "English, UK", ["female", "male"]), ("en-in", "English, India", ["female", "male"]),
                ("de-de", "German", ["female", "male"]), ("es-es", "Spanish, Spain", ["female", "male"]),
                ("es-us", "Spanish, US", ["female", "male"]), ("fr-fr", "French, France", ["female", "male"]),
                ("fr-ca", "French, Canada", ["female", "male"]), ("it-it", "Italian", ["female", "male"]),
                ("ja-jp", "Japanese", ["female", "male"]), ("ko-kr", "Korean", ["female"]),
                ("pt-br", "Portuguese, Brazil", ["female", "male"]), ("zh-cn", "Chinese, Mandarin", ["female"]),
            )
        ),
        {"L": "Here are the possible languages."}, style="array", id_kind="text", global_=True,
    ),
    Collection(
        "alpha_tags", "/alpha-tags", "id", "LGCD",
        tuple(
            {"id": uuid_for("alpha-tag", tag), "account_id": uuid_for("account", 48213), "workspace_id": uuid_for("account", 48213), "user_id": uuid_for("user", 48213), "alpha_tag": tag, "status": "APPROVED", "reason": "Business Name", "countries": None, "created_timestamp": _iso(1735700000 + i * 86400), "updated_timestamp": _iso(1735800000 + i * 86400)}
            for i, tag in enumerate(("ACME", "ACMEDeals", "ACMEAlerts"))
        ),
        {"L": "", "G": "", "C": ""}, style="cursor", id_param="alpha_tag_id", id_kind="uuid",
        list_key="alpha_tags", required=("alpha_tag",), deleted="no-content",
        server_fields=("account_id", "workspace_id", "user_id", "status", "countries", "created_timestamp", "updated_timestamp"),
    ),
    Collection(
        "own_numbers", "/own-numbers", "id", "LGUD",
        ({"id": uuid_for("own-number", 1), "account_id": uuid_for("account", 48213), "workspace_id": uuid_for("account", 48213), "user_id": uuid_for("user", 48213), "phone_number": "+61411048213", "country": "AU", "label": "Alex's mobile", "status": "APPROVED", "verified_timestamp": "2025-08-31T12:00:00Z", "notified_timestamp": None, "is_nearing_expiration": False, "created_timestamp": "2025-08-25T08:00:00Z", "updated_timestamp": "2025-08-31T12:00:00Z"},),
        {"L": "", "G": "", "U": "", "D": ""}, style="cursor", id_param="own_number_id", id_kind="uuid",
        list_key="own_numbers", update_method="PATCH", deleted="record",
        server_fields=("account_id", "workspace_id", "user_id", "phone_number", "country", "status", "verified_timestamp", "notified_timestamp", "is_nearing_expiration", "created_timestamp", "updated_timestamp"),
    ),
)  # fmt: skip
BY_NAME = {c.name: c for c in COLLECTIONS}


# ---------------------------------------------------------------------- seed


def seed(store: Store, seed_value: int, now_ts: int, rng: np.random.Generator) -> None:
    """The example records (and variations) of every collection, for the main account."""
    from csframe.sandbox.seed import MAIN_USER_ID, TEMPLATES

    for spec in COLLECTIONS:
        records = [dict(r) for r in spec.examples]
        n, last_id = len(records), records[-1][spec.id_field]
        for i in range(n, max(spec.count, n)):
            rec = dict(records[i % n])
            rec[spec.id_field] = last_id + i - n + 1
            for key, values in spec.vary.items():
                rec[key] = values[i % len(values)]
            records.append(rec)
        for i, rec in enumerate(records):
            for key, values in spec.vary.items():
                rec[key] = values[i % len(values)]
        if spec.name == "sms_templates":  # the bodies the seeded history was sent from
            bodies = [(g, b) for g in TEMPLATES for b in TEMPLATES[g]]
            records = [
                {"template_id": i, "body": b, "template_name": f"{g.title()} {n}"}
                for i, (g, b) in enumerate(bodies, 1)
                for n in [sum(1 for gg, _ in bodies[:i] if gg == g)]
            ]
        if spec.name == "delivery_issues":
            records = _delivery_issues(store, MAIN_USER_ID, now_ts, rng, records[0])
        if spec.name == "email_addresses":
            for i, rec in enumerate(records):
                rec["verified"] = int(i != len(records) - 1)  # the newest is still unverified
                rec["date_added"] = str(now_ts - (400 - 20 * i) * 86400)
        owner = 0 if spec.global_ else MAIN_USER_ID
        coll.add_items(store, spec.name, owner, spec.id_field, records)


def _delivery_issues(
    store: Store, user_id: int, now_ts: int, rng: np.random.Generator, example: dict[str, Any]
) -> list[dict[str, Any]]:
    """Issues raised about a few failed messages of the seeded history."""
    with store._lock:
        failed = store.db.execute(
            "SELECT message_id, date, to_ FROM sms WHERE user_id=? AND status='Failed' "
            "ORDER BY id DESC LIMIT 200",
            (user_id,),
        ).fetchall()
    if not failed:
        return [example]
    picks = sorted(rng.choice(len(failed), size=min(6, len(failed)), replace=False).tolist())
    out = []
    for i, p in enumerate(picks, 1):
        message_id, date, to = failed[p]
        resolved = int(date < now_ts - 14 * 86400)
        out.append(
            example
            | {
                "issue_id": i,
                "message_id": message_id,
                "description": f"Customer {to} says this message never arrived.",
                "date_added": date + int(rng.integers(3600, 3 * 86400)),
                "resolved": resolved,
                "status": "Resolved" if resolved else None,
                "support_comments": "Carrier confirmed the failure; not charged again."
                if resolved
                else None,
            }
        )
    return out


# ---------------------------------------------------------------------- records


def _coerce(spec: Collection, key: str, value: Any, like: Any) -> Any:
    """``value`` in the JSON type of ``like`` (the example's value), or 400."""
    if value is None or like is None:
        return value
    try:
        if isinstance(like, bool):
            if isinstance(value, bool) or value in (0, 1, "0", "1", "true", "false"):
                return value in (True, 1, "1", "true")
            raise ValueError
        if isinstance(like, int):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and value != int(value):
                raise ValueError
            return int(value)
        if isinstance(like, float):
            return float(value)
        if isinstance(like, str):
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
        if isinstance(like, (dict, list)) and not isinstance(value, type(like)):
            raise ValueError
    except (TypeError, ValueError):
        raise ApiError(400, "BAD_REQUEST", f"{key} has the wrong type.") from None
    return value


def _fields(spec: Collection, payload: Any, *, create: bool) -> dict[str, Any]:
    """The writable fields of a body, coerced (and the required ones checked on create)."""
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    payload = {spec.aliases.get(k, k): v for k, v in payload.items()}
    template = spec.examples[0]
    if create:
        missing = [k for k in spec.required if str(payload.get(k) or "").strip() == ""]
        if missing:
            raise ApiError(
                400, "MISSING_REQUIRED_FIELDS", f"Missing required fields: {', '.join(missing)}."
            )
    skip = {spec.id_field, *spec.server_fields}
    return {
        k: _coerce(spec, k, payload[k], template.get(k))
        for k in template
        if k in payload and k not in skip
    }


def _view(record: dict[str, Any], keys: tuple[str, ...] | None) -> dict[str, Any]:
    return record if keys is None else {k: record.get(k) for k in keys}


def _new_id(store: Store, spec: Collection, user_id: int) -> Any:
    if spec.id_kind == "uuid":
        return uuid_for(spec.name, store.seed_value, coll.next_counter(store, f"ids:{spec.name}"))
    return coll.next_int_id(store, spec.name)


def _item_id(spec: Collection, request: Request) -> Any:
    raw = request.path_params[spec.param]
    if spec.id_kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ApiError(404, "NOT_FOUND", f"{spec.param} must be an integer.") from None
    return raw


def _server_fields(spec: Collection, record: dict[str, Any], user_id: int, now: int) -> None:
    """Fill what the server decides on create (by the example's types)."""
    template = spec.examples[0]
    for key in spec.server_fields:
        like = template.get(key)
        if key == "user_id":
            record[key] = uuid_for("user", user_id) if isinstance(like, str) else user_id
        elif key in ("account_id", "workspace_id"):
            record[key] = uuid_for("account", user_id)
        elif key == "date_added":
            record[key] = str(now) if isinstance(like, str) else now
        elif key.endswith("_timestamp"):
            record[key] = None if like is None else _iso(now)
        elif key == "status":
            record[key] = "PENDING" if spec.style == "cursor" else None
        elif key == "balance":
            record[key] = fmt_money(0)
        else:
            record[key] = like if not isinstance(like, (dict, list)) else like
    if spec.name == "email_addresses":
        record["verified"] = 0
    if spec.name == "reseller_accounts":
        record["active"], record["banned"] = 0, 0


# ---------------------------------------------------------------------- handlers


def _not_found(spec: Collection) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{spec.id_field} not found.")


def _plain(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def _list_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        store = store_of(request)
        if spec.style == "cursor":
            return _cursor_page(spec, request, who.user_id)
        records = [
            _live(store, spec, r) for r in coll.all_items(store, spec.name, spec.owner(who.user_id))
        ]
        if spec.style == "array":
            return envelope([_view(r, spec.list_fields) for r in records], spec.msgs["L"])
        fields = {k: k for k in spec.examples[0]}
        page, limit = paging(request)
        filters, operator = search(request, fields)
        if request.query_params.get("order_by"):
            order_field, order_dir = ordering(request, fields, default="")
        else:
            order_field, order_dir = None, "asc"
        q = coll.ItemQuery(
            page, limit, filters, operator, order_field, order_dir, store.search_match
        )
        matching = coll.filter_sort(records, q)
        rows = [_view(r, spec.list_fields) for r in coll.page_of(matching, q)]
        for key, fn in spec.list_types.items():
            for r in rows:
                r[key] = fn(r[key])
        data = pagination(request, len(matching), page, limit, len(rows))
        data["data"] = rows
        data.update(spec.extra)
        return envelope(data, spec.msgs["L"])

    return handler


def _cursor_page(spec: Collection, request: Request, user_id: int) -> Response:
    """The newer endpoints' paging: ``offset`` = last id seen, ``page_size``."""
    params = request.query_params
    try:
        size = int(params.get("page_size") or 10)
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "page_size must be an integer.") from None
    if not 1 <= size <= 100:
        raise ApiError(400, "BAD_REQUEST", "page_size must be between 1 and 100.")
    records = coll.all_items(store_of(request), spec.name, user_id)
    statuses = {
        v.upper() for k, v in parse_qsl(request.url.query) if k.startswith("filter[status]")
    }
    if statuses:
        records = [r for r in records if str(r.get("status")).upper() in statuses]
    for key in ("alpha_tag", "phone_number"):
        wanted = params.get(f"filter[{key}]")
        if wanted:
            records = [r for r in records if str(r.get(key, "")).lower() == wanted.lower()]
    sort_by = params.get("sort_by") or "created_timestamp"
    if sort_by not in spec.examples[0]:
        raise ApiError(400, "BAD_REQUEST", f"Invalid sort_by: {sort_by!r}.")
    direction = (params.get("sort_direction") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, "BAD_REQUEST", "sort_direction must be asc or desc.")
    records = sorted(
        records, key=lambda r: (str(r.get(sort_by)), r["id"]), reverse=direction == "desc"
    )
    offset = params.get("offset")
    if offset:
        ids = [r["id"] for r in records]
        if offset not in ids:
            raise ApiError(400, "BAD_REQUEST", "offset is not an id of this list.")
        records = records[ids.index(offset) + 1 :]
    page, more = records[:size], len(records) > size
    base = str(request.url.replace(query=""))
    query = [(k, v) for k, v in parse_qsl(request.url.query) if k != "offset"]
    nxt = f"{base}?{urlencode([*query, ('offset', page[-1]['id'])])}" if more and page else ""
    return _plain(
        {
            spec.list_key: page,
            "_metadata": {"pagination": {"self": str(request.url), "next": nxt, "page_size": size}},
        }
    )


def _get_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        rec = coll.get_item(
            store_of(request), spec.name, spec.owner(who.user_id), _item_id(spec, request)
        )
        if rec is None:
            raise _not_found(spec)
        rec = _view(_live(store_of(request), spec, rec), spec.get_fields)
        if spec.style == "cursor":
            return _plain(rec)
        return envelope(rec, spec.msgs["G"])

    return handler


def _create_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        fields = _fields(spec, await json_body(request), create=True)
        store = store_of(request)
        now = store.clock.now()
        with store._lock:
            record = _blank(spec)
            record |= fields
            record[spec.id_field] = _new_id(store, spec, who.user_id)
            _server_fields(spec, record, who.user_id, now)
            _derive(store, spec, record, who.user_id)
            coll.add_items(store, spec.name, spec.owner(who.user_id), spec.id_field, [record])
        shown = _view(record, spec.create_fields)
        if spec.style == "cursor":
            return _plain(shown)
        return envelope(shown, spec.msgs["C"])

    return handler


def _blank(spec: Collection) -> dict[str, Any]:
    """A new record before the body is applied: the example's keys, text fields blank,
    numbers and flags at the example's value (e.g. ``enabled: 1``), nested values kept."""
    out: dict[str, Any] = {}
    for key, value in spec.examples[0].items():
        out[key] = "" if isinstance(value, str) and key not in spec.server_fields else value
    return orjson.loads(orjson.dumps(out))  # a deep copy


def _derive(store: Store, spec: Collection, record: dict[str, Any], user_id: int) -> None:
    """Fields that come from elsewhere in the account (a template's master body...)."""
    if spec.name == "email_templates":
        master = coll.get_item(store, "email_master_templates", 0, record["template_id_master"])
        if master is None:
            raise ApiError(400, "BAD_REQUEST", "template_id_master is not a master template.")
        record["body"] = master["body"]
    if spec.name == "alpha_tags":  # "Abc123+" is stored as "Abc123", as the reference shows
        tag = record["alpha_tag"] = "".join(
            c for c in record["alpha_tag"] if c.isalnum() or c == " "
        )
        if not (1 <= len(tag) <= 11 and tag.replace(" ", "").isalnum()):
            raise ApiError(400, "BAD_REQUEST", "alpha_tag must be 1-11 letters or digits.")
    if spec.name == "reseller_accounts":
        if accounts.username_taken(store, record["username"]):
            raise ApiError(400, "ALREADY_EXISTS", "This username is already taken.")
        sub = dict(ACCOUNT_EXAMPLE["_subaccount"])
        sub.update(
            subaccount_id=61000 + record["user_id"],
            api_username=record["username"],
            email=record["user_email"],
            phone_number=record["user_phone"],
            first_name=record["user_first_name"],
            last_name=record["user_last_name"],
            api_key=accounts.new_api_key(store, record["username"]),
        )
        record["_subaccount"] = sub
        record["account_billing_email"] = record["user_email"]
        record["account_billing_mobile"] = record["user_phone"]
        record["default_country_sms"] = record["country"]
        # A real account that logs in at once with the key above. (The reference's create
        # example says active 0; a client its reseller made is taken as activated.)
        record["active"] = 1
        accounts.add_client_account(store, record)


def _client_changed(store: Store, old: dict[str, Any], record: dict[str, Any]) -> None:
    """PUT /reseller/accounts/{id}: the client's login follows its record."""
    sub = record["_subaccount"]
    if record["username"] != old["username"]:
        if accounts.username_taken(store, record["username"], except_id=sub["subaccount_id"]):
            raise ApiError(400, "ALREADY_EXISTS", "This username is already taken.")
        sub["api_username"] = record["username"]
    accounts.update_client_login(store, record)


def _live(store: Store, spec: Collection, record: dict[str, Any]) -> dict[str, Any]:
    """A reseller client's balance is its account's (sends and transfers move it)."""
    if spec.name == "reseller_accounts":
        return record | {"balance": fmt_money(store.balance(record["user_id"]))}
    return record


def _update_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        item_id = _item_id(spec, request)
        fields = _fields(spec, await json_body(request), create=False)
        store = store_of(request)
        owner = spec.owner(who.user_id)
        with store._lock:
            rec = coll.get_item(store, spec.name, owner, item_id)
            if rec is None:
                raise _not_found(spec)
            old, rec = rec, rec | fields
            if spec.name == "reseller_accounts":
                _client_changed(store, old, rec)
            if "updated_timestamp" in rec:
                rec["updated_timestamp"] = _iso(store.clock.now())
            coll.put_item(store, spec.name, owner, item_id, rec)
        if spec.style == "cursor":
            return _plain(rec)
        return envelope(_view(_live(store, spec, rec), spec.get_fields), spec.msgs["U"])

    return handler


def _delete_handler(spec: Collection) -> Callable[[Request], Any]:
    @endpoint
    async def handler(request: Request) -> Response:
        who = authenticate(request)
        store = store_of(request)
        item_id = _item_id(spec, request)
        owner = spec.owner(who.user_id)
        with store._lock:
            rec = coll.get_item(store, spec.name, owner, item_id)
            if rec is None:
                raise _not_found(spec)
            coll.delete_item(store, spec.name, owner, item_id)
        if spec.deleted == "no-content":
            return Response(status_code=204)
        if spec.deleted == "record":
            return _plain(rec)
        return envelope(spec.deleted, spec.msgs["D"])

    return handler


def _routes(spec: Collection) -> list[Route]:
    base, item = f"/v3{spec.path}", f"/v3{spec.path}/{{{spec.param}}}"
    out = []
    if "L" in spec.ops:
        out.append(Route(base, _list_handler(spec), methods=["GET"]))
    if "C" in spec.ops:
        out.append(Route(base, _create_handler(spec), methods=["POST"]))
    if "G" in spec.ops:
        out.append(Route(item, _get_handler(spec), methods=["GET"]))
    if "U" in spec.ops:
        out.append(Route(item, _update_handler(spec), methods=[spec.update_method]))
    if "D" in spec.ops:
        out.append(Route(item, _delete_handler(spec), methods=["DELETE"]))
    return out


# ---------------------------------------------------------------------- extra actions


@endpoint
async def master_templates_in_category(request: Request) -> Response:
    authenticate(request)
    try:
        category = int(request.path_params["category_id"])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "category_id must be an integer.") from None
    store = store_of(request)
    if coll.get_item(store, "email_master_categories", 0, category) is None:
        raise ApiError(404, "NOT_FOUND", "category_id not found.")
    rows = [
        {
            k: r[k]
            for k in (
                "template_id_master",
                "category_id",
                "template_name",
                "body",
                "date_added",
                "thumbnail",
            )
        }  # fmt: skip
        for r in coll.all_items(store, "email_master_templates", 0)
        if r["category_id"] == category
    ]
    return envelope(rows, "List of Email Templates By Category")


async def _email_address(request: Request) -> tuple[Store, int, dict[str, Any]]:
    who = authenticate(request)
    store = store_of(request)
    try:
        item_id = int(request.path_params["email_address_id"])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "email_address_id must be an integer.") from None
    rec = coll.get_item(store, "email_addresses", who.user_id, item_id)
    if rec is None:
        raise ApiError(404, "NOT_FOUND", "email_address_id not found.")
    return store, who.user_id, rec


def verification_token(seed_value: int, email_address_id: int) -> str:
    """The token a verification email would carry (exposed for tests: not guessable by API)."""
    return hashlib.sha256(f"verify:{seed_value}:{email_address_id}".encode()).hexdigest()[:12]


@endpoint
async def email_address_send(request: Request) -> Response:
    await _email_address(request)
    return envelope(None, "Verification email has been sent.")


@endpoint
async def email_address_verify(request: Request) -> Response:
    store, user_id, rec = await _email_address(request)
    token = request.path_params["activation_token"]
    if token != verification_token(store.seed_value, rec["email_address_id"]):
        raise ApiError(400, "BAD_REQUEST", "The activation token is invalid.")
    rec["verified"] = 1
    coll.put_item(store, "email_addresses", user_id, rec["email_address_id"], rec)
    return envelope(rec, "Email address verified.")


# What q= and order_by= accept on GET /numbers/search/{country} (an offer's keys).
NUMBER_FIELDS = (
    "country",
    "country_name",
    "dedicated_number",
    "price_setup",
    "price_monthly",
    "price_total",
)


def available_numbers(iso: str) -> list[dict[str, Any]]:
    """The numbers ``/numbers/search/{country}`` offers (deterministic per country)."""
    country = COUNTRIES[iso]
    setup, monthly = (0, 18.59) if iso == "AU" else (2.5, 20.71)
    digits = sum(country.national_lengths) // 2
    out = []
    for i in range(40):
        h = int(hashlib.sha256(f"available:{iso}:{i}".encode()).hexdigest()[:12], 16)
        national = str(h % 10 ** (digits - 1)).zfill(digits - 1)
        lead = {"AU": "4", "GB": "7", "NZ": "2"}.get(iso, "5" if iso != "US" else "2")
        out.append(
            {
                "country": iso,
                "country_name": country.name,
                "dedicated_number": f"+{country.calling_code}{lead}{national}",
                "price_setup": f"{setup:.4f}",
                "price_monthly": f"{monthly:.4f}",
                "price_total": f"{setup + monthly:.4f}",
                "address_requirement": None,
            }
        )
    return out


@endpoint
async def numbers_search(request: Request) -> Response:
    who = authenticate(request)
    iso = request.path_params["country"].upper()
    if iso not in COUNTRIES:
        raise ApiError(400, "COUNTRY_NOT_ENABLED", "This country is not enabled on your account.")
    owned = {
        r["dedicated_number"] for r in coll.all_items(store_of(request), "numbers", who.user_id)
    }
    rows = [r for r in available_numbers(iso) if r["dedicated_number"] not in owned]
    needle = (request.query_params.get("search") or "").strip()
    if needle:
        rows = [r for r in rows if needle in r["dedicated_number"]]
    if wants_query(request):
        rows = query_records(request, rows, NUMBER_FIELDS)
    page, limit = paging(request)
    shown = rows[(page - 1) * limit : page * limit]
    data = pagination(request, len(rows), page, limit, len(shown))
    data["data"] = shown
    data["_currency"] = CURRENCY
    return envelope(data, "Here are some numbers.")


@endpoint
async def numbers_buy(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    raw = request.path_params["dedicated_number"]
    try:
        number, iso = normalise_number(raw if raw.startswith("+") else "+" + raw, None)
    except NumberError:
        raise ApiError(400, "INVALID_RECIPIENT", "This is not a valid number.") from None
    offer = next((r for r in available_numbers(iso) if r["dedicated_number"] == number), None)
    if offer is None:
        raise ApiError(404, "NOT_FOUND", "This number is not available.")
    cost = round(float(offer["price_total"]) * 1_000_000)
    with store._lock:
        if coll.get_item(store, "numbers", who.user_id, number) is not None:
            raise ApiError(400, "ALREADY_EXISTS", "You already own this number.")
        if store.balance(who.user_id) < cost:
            raise ApiError(400, "INSUFFICIENT_CREDIT", "You have reached the end of your credits.")
        guid = uuid_for("number", number)
        coll.add_items(store, "numbers", who.user_id, "dedicated_number",
                       [number_record(number, iso, f"{float(offer['price_monthly']):.2f}", guid)])  # fmt: skip
        store.set_balance(who.user_id, store.balance(who.user_id) - cost)
    data = {
        "dedicated_number": number,
        "country": iso,
        "price_total": f"{float(offer['price_total']):.2f}",
        "_price_setup": f"{float(offer['price_setup']):.2f}",
        "_price_monthly": f"{float(offer['price_monthly']):.2f}",
        "_currency": CURRENCY,
    }
    return envelope(data, "Here is your new number.")


@endpoint
async def reseller_transfer(request: Request) -> Response:
    """Move credit from the caller's account to one of its client accounts."""
    who = authenticate(request)
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    try:
        client_id = int(payload.get("client_user_id"))
        amount = round(float(payload.get("balance")) * 1_000_000)
    except (TypeError, ValueError):
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "client_user_id and balance are required.") from None  # fmt: skip
    if amount <= 0:
        raise ApiError(400, "BAD_REQUEST", "balance must be positive.")
    store = store_of(request)
    with store._lock:
        client = coll.get_item(store, "reseller_accounts", who.user_id, client_id)
        if client is None:  # a body naming someone else: the request is wrong, not the URL
            raise ApiError(400, "BAD_REQUEST", "client_user_id is not one of your client accounts.")
        if store.balance(who.user_id) < amount:
            raise ApiError(400, "INSUFFICIENT_CREDIT", "You have reached the end of your credits.")
        with store.transaction():  # the client's account is credited what ours is debited
            store.set_balance(client_id, store.balance(client_id) + amount)
            store.set_balance(who.user_id, store.balance(who.user_id) - amount)
        client["balance"] = fmt_money(store.balance(client_id))
        coll.put_item(store, "reseller_accounts", who.user_id, client_id, client)
    return envelope(client, "Your balance has been successfully transferred.")


@endpoint
async def detect_address(request: Request) -> Response:
    """Address detection of an uploaded letter: the first return address of the account."""
    who = authenticate(request)
    if not request.query_params.get("convert"):
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "convert is required.")
    rows = coll.all_items(store_of(request), "return_addresses", who.user_id)
    if not rows:
        raise ApiError(400, "BAD_REQUEST", "No address could be detected.")
    keys = ("address_name", "address_line_1", "address_line_2", "address_city", "address_state", "address_postal_code", "address_country")  # fmt: skip
    return envelope({k: rows[0][k] for k in keys}, "Here is your result.")


@endpoint
async def own_number_verification(request: Request) -> Response:
    """Start verifying a number you own: a verification the OTP is checked against."""
    who = authenticate(request)
    payload = await json_body(request)
    if not isinstance(payload, dict) or not str(payload.get("phone_number") or "").strip():
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "phone_number is required.")
    try:
        number, iso = normalise_number(payload["phone_number"], payload.get("country") or "AU")
    except NumberError as exc:
        raise ApiError(400, exc.code, "The phone number is invalid.") from None
    store = store_of(request)
    now = store.clock.now()
    vid = uuid_for("verification", store.seed_value, coll.next_counter(store, "ids:verifications"))
    record = {
        "id": vid,
        "own_number_id": uuid_for("own-number", number),
        "status": "PENDING",
        "expires_timestamp": _iso(now + 600),
        "remaining_attempts": 3,
        "created_timestamp": _iso(now),
        "updated_timestamp": _iso(now),
        "_number": {
            "phone_number": number,
            "country": iso,
            "label": str(payload.get("label") or ""),
        },
    }
    coll.add_items(store, "own_number_verifications", who.user_id, "id", [record])
    return _plain({k: v for k, v in record.items() if not k.startswith("_")})


def otp_for(verification_id: str) -> str:
    """The code the verification SMS would carry (the sandbox sends none; tests use this)."""
    return str(int(hashlib.sha256(f"otp:{verification_id}".encode()).hexdigest()[:8], 16) % 1_000_000).zfill(6)  # fmt: skip


@endpoint
async def own_number_verify(request: Request) -> Response:
    who = authenticate(request)
    store = store_of(request)
    vid = request.path_params["verification_id"]
    payload = await json_body(request)
    code = str(payload.get("code") or "") if isinstance(payload, dict) else ""
    with store._lock:
        rec = coll.get_item(store, "own_number_verifications", who.user_id, vid)
        if rec is None:
            raise ApiError(404, "NOT_FOUND", "verification_id not found.")
        now = store.clock.now()
        if rec["status"] == "PENDING" and rec["remaining_attempts"] > 0:
            if code == otp_for(vid):
                rec["status"] = "APPROVED"
                number = rec["_number"]
                own = (
                    BY_NAME["own_numbers"].examples[0]
                    | number
                    | {
                        "id": rec["own_number_id"],
                        "user_id": uuid_for("user", who.user_id),
                        "account_id": uuid_for("account", who.user_id),
                        "workspace_id": uuid_for("account", who.user_id),
                        "status": "APPROVED",
                        "verified_timestamp": _iso(now),
                        "created_timestamp": _iso(now),
                        "updated_timestamp": _iso(now),
                    }
                )
                coll.delete_item(store, "own_numbers", who.user_id, own["id"])
                coll.add_items(store, "own_numbers", who.user_id, "id", [own])
            else:
                rec["remaining_attempts"] -= 1
                if rec["remaining_attempts"] == 0:
                    rec["status"] = "FAILED"
            rec["updated_timestamp"] = _iso(now)
            coll.put_item(store, "own_number_verifications", who.user_id, vid, rec)
    out = {k: v for k, v in rec.items() if not k.startswith("_")}
    out["error_code"] = None if rec["status"] == "APPROVED" else "INVALID_CODE"
    return _plain(out)


routes: list[Route] = [route for spec in COLLECTIONS for route in _routes(spec)] + [
    Route(
        "/v3/email/master-templates-categories/{category_id}/master-templates",
        master_templates_in_category,
        methods=["GET"],
    ),  # fmt: skip
    Route("/v3/email/address-verify/{email_address_id}/send", email_address_send, methods=["PUT"]),
    Route(
        "/v3/email/address-verify/{email_address_id}/verify/{activation_token}",
        email_address_verify,
        methods=["PUT"],
    ),  # fmt: skip
    Route("/v3/numbers/search/{country}", numbers_search, methods=["GET"]),
    Route("/v3/numbers/buy/{dedicated_number}", numbers_buy, methods=["POST"]),
    Route("/v3/reseller/transfer-credit", reseller_transfer, methods=["PUT"]),
    Route("/v3/detect-address", detect_address, methods=["POST"]),
    Route("/v3/own-numbers/verifications", own_number_verification, methods=["POST"]),
    Route(
        "/v3/own-numbers/verifications/{verification_id}/verify",
        own_number_verify,
        methods=["POST"],
    ),  # fmt: skip
]


def unshadowed(all_routes: list[Any]) -> list[Any]:
    """Drop the generic routes of any path another area already serves (any method).

    The generic table also covers a few paths of other areas' prefixes (SMS templates,
    email-to-SMS, voice languages) as a fallback; when that area implements the path
    itself, its handlers win for every method of the path, so one resource is never
    split between two implementations.
    """
    mine = {id(r) for r in routes}
    taken = {r.path for r in all_routes if id(r) not in mine and hasattr(r, "path")}
    return [r for r in all_routes if id(r) not in mine or r.path not in taken]
