"""The generic collections' table (see ``responses/collections.py`` for the endpoints it
makes): each :class:`Collection`'s path, id, operations, typed example records and seed
variations, and :func:`seed`, which stores the examples (and variations) for the main
account. Data and seed only -- no HTTP -- so the seeders can use it without importing a
response module.

Example::

    BY_NAME["sms_templates"].path          # '/sms/templates'
    seed(store, 42, now_ts, np.random.default_rng(1))
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from csframe.sandbox import models_collections as coll
from csframe.sandbox.models import Store, format_uuid
from csframe.sandbox.pricing import COUNTRIES, CURRENCY


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


def iso_time(ts: int) -> str:
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
            {"id": uuid_for("alpha-tag", tag), "account_id": uuid_for("account", 48213), "workspace_id": uuid_for("account", 48213), "user_id": uuid_for("user", 48213), "alpha_tag": tag, "status": "APPROVED", "reason": "Business Name", "countries": None, "created_timestamp": iso_time(1735700000 + i * 86400), "updated_timestamp": iso_time(1735800000 + i * 86400)}
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
