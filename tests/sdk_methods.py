"""Drive every method of the official ClickSend SDK against a sandbox.

For each SDK method: the HTTP method and path come from the SDK's own request builder;
path ids are taken from earlier list calls (the first record of the collection above the
id, or :func:`special` for the ids a list does not give); the body is the OpenAPI
operation's example (its Postman placeholders like ``{{listId}}`` filled with real ids),
parsed with the SDK's own request model. ``call(sb, api, name)`` returns ``("OK", "")``,
``("SKIP", why)`` (no usable input) or ``("FAIL", the error)``.

Example::

    for api, name in all_methods():
        print(api, name, call(sb, api, name))
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import re
from typing import Any

import requests
import yaml
from sandbox_openapi import OPENAPI

clicksend: Any = None  # imported by the test (pytest.importorskip)


@functools.cache
def _spec() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text())


def _deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        kind, name = node["$ref"].split("/")[2:]
        node = _spec()["components"][kind][name]
    return node


def _example_of(schema: Any) -> Any:
    schema = _deref(schema)
    if not isinstance(schema, dict):
        return None
    if "example" in schema:
        return schema["example"]
    if "properties" in schema:
        out = {}
        for key, sub in schema["properties"].items():
            value = _example_of(sub)
            if value is not None:
                out[key] = value
        return out
    if schema.get("type") == "array":
        item = _example_of(schema.get("items", {}))
        return None if item is None else [item]
    return None


def body_example(path: str, method: str) -> Any:
    """The request body example of an operation (None when it has no body)."""
    op = _spec()["paths"].get(path, {}).get(method.lower()) or {}
    body = _deref(op.get("requestBody"))
    for content in (body or {}).get("content", {}).values():
        if "example" in content:
            return content["example"]
        if "examples" in content:
            return _deref(next(iter(content["examples"].values()))).get("value")
        if "schema" in content:
            return _example_of(content["schema"])
    return None


@functools.cache
def all_methods() -> list[tuple[str, str, str, str]]:
    """``(api class, method, HTTP method, resource path)`` of every public SDK method."""
    out = []
    for api in sorted(a for a in dir(clicksend) if a.endswith("Api")):
        cls = getattr(clicksend, api)
        for name, _ in inspect.getmembers(cls, predicate=inspect.isfunction):
            if name.startswith("_") or name.endswith(("with_http_info", "without_preload_content")):
                continue
            src = inspect.getsource(getattr(cls, f"_{name}_serialize"))
            verb = re.search(r"method='(\w+)'", src).group(1)  # type: ignore[union-attr]
            path = re.search(r"resource_path='([^']+)'", src).group(1)  # type: ignore[union-attr]
            out.append((api, name, verb, path))
    return out


class Ctx:
    """Reads the sandbox for ids (through /v3, as any client)."""

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        self.auth = tuple(sb.credentials.values())

    def get(self, path: str, **params: Any) -> Any:
        r = requests.get(self.sb.base_url + path, auth=self.auth, params=params, timeout=30)
        return r.json().get("data") if r.status_code == 200 else None

    def post(self, path: str, body: Any) -> Any:
        r = requests.post(self.sb.base_url + path, auth=self.auth, json=body, timeout=30)
        return r.json()

    def lists(self) -> list[dict[str, Any]]:
        return self.get("/lists", limit=100)["data"]

    def list_with_contacts(self) -> int:
        return next(
            x["list_id"]
            for x in self.lists()
            if x["_contacts_count"] and x["list_name"] != "Opt-outs"
        )

    def scheduled_campaign(self, kind: str) -> Any:
        """A campaign that can still be changed: a seeded scheduled one, or a new one."""
        rows = self.get(f"/{kind}-campaigns", limit=100)
        rows = rows["data"] if isinstance(rows, dict) else rows
        key = f"{kind}_campaign_id"
        found = next((r[key] for r in rows if r["status"] == "Scheduled"), None)
        if found is not None or kind == "email":
            return found
        body = {
            "list_id": self.list_with_contacts(),
            "name": "later",
            "body": "Hi",
            "from": "ACME",
            "schedule": 4102444800,
        }
        if kind == "mms":
            body.update(subject="Hi", media_file="https://example.com/a.jpg")
        return self.post(f"/{kind}-campaigns/send", body)["data"][key]


def first_value(ctx: Ctx, prefix: str, param: str) -> Any:
    """The first record's id under ``prefix`` (the collection above a path id)."""
    r = requests.get(ctx.sb.base_url + prefix[3:], auth=ctx.auth, params={"limit": 100}, timeout=30)
    data = r.json() if r.status_code == 200 else None
    while isinstance(data, dict):  # the envelope, a page block, or a cursor page
        lists = [v for v in data.values() if isinstance(v, list)]
        data = data["data"] if "data" in data else (lists[0] if lists else None)
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None
    rec = data[0]
    for key in (param, "id"):
        if rec.get(key) not in (None, ""):
            return rec[key]
    return None


def special(ctx: Ctx, path: str, name: str) -> Any:
    """Ids and arguments a list call does not give directly."""
    if name in ("list_id", "from_list_id") and "contacts" in path:
        return ctx.list_with_contacts()
    if name == "to_list_id":
        return ctx.lists()[-1]["list_id"]
    if name == "opt_out_list_id":
        return next(x["list_id"] for x in ctx.lists() if x["list_name"] == "Opt-outs")
    if name == "contact_id":
        return ctx.get(f"/lists/{ctx.list_with_contacts()}/contacts")["data"][0]["contact_id"]
    if name in ("sms_campaign_id", "mms_campaign_id", "email_campaign_id") and (
        "cancel" in path or path.endswith("}")
    ):  # changes need a campaign that has not gone yet
        kind = name.split("_")[0]
        got = ctx.scheduled_campaign(kind)
        if got is not None:
            return got
    if name == "subaccount_id":
        subs = ctx.get("/subaccounts", limit=100)["data"]
        return next(s["subaccount_id"] for s in subs if s["api_username"] != ctx.auth[0])
    if name == "client_user_id":  # a reseller client account (the listing calls it user_id)
        return ctx.get("/reseller/accounts")["data"][0]["user_id"]
    if name == "default_sender_id":
        made = ctx.post(
            "/senders/default-senders",
            {"country_code": "NZ", "product_type": "SMS", "default_sender_strategies": [{"sender_id": "ACME", "sender_type": "alpha_tag"}]},
        )  # fmt: skip
        return made["data"]["id"]
    if name == "email_address_id":
        return ctx.get("/email/addresses")["data"][0]["email_address_id"]
    if name == "template_id" and "master" in path:
        return ctx.get("/email/master-templates")[0]["template_id_master"]
    if name == "dedicated_number":
        return ctx.get("/numbers/search/AU")["data"][0]["dedicated_number"]
    if name == "message_id" and "cancel" in path:
        chan = path.split("/")[2]
        rows = ctx.get(f"/{chan}/history", q="status:Scheduled", limit=100)
        return rows["data"][0]["message_id"] if rows and rows["data"] else None
    if name == "message_id" and "inbound-read" in path:
        return ctx.get("/sms/inbound")["data"][0]["message_id"]
    if name == "message_id" and "receipts" in path:
        return ctx.get(f"/{path.split('/')[2]}/receipts")["data"][0]["message_id"]
    if name == "original_message_id":
        return ctx.get("/sms/inbound")["data"][0]["original_message_id"]
    if name == "transaction_id":
        return ctx.get("/recharge/transactions")["data"][0]["invoice_number"]
    if name == "verification_id":
        made = ctx.post(
            "/own-numbers/verifications", {"phone_number": "+61411000000", "country": "AU"}
        )
        return made.get("id") or (made.get("data") or {}).get("id")
    fixed = {
        "country": "AU", "country_code": "US", "number_type": "tollfree", "year": 2026,
        "month": 10, "package_id": 1, "source": "sms_campaign", "source_id": "1",
        "long_url_id": "quick_sms-1", "filter_product_type": "SMS", "q": "a",
    }  # fmt: skip
    return fixed.get(name)


def fill(ctx: Ctx, example: Any) -> Any:
    """The example with its Postman placeholders (``{{listId}}``...) made real."""
    values = {
        "listId": lambda: ctx.list_with_contacts(),
        "addressId": lambda: ctx.get("/email/addresses")["data"][0]["email_address_id"],
        "emailId": lambda: ctx.get("/email/addresses")["data"][0]["email_address_id"],
        "templateId": lambda: ctx.get("/email/templates")["data"][0]["template_id"],
        "email": lambda: "someone@example.com",
        "base64EncodedFile": lambda: base64.b64encode(b"phone_number\n+61411111111\n").decode(),
        "base64EncodedImageFile": lambda: base64.b64encode(b"\x89PNG\r\n").decode(),
        "fileURL": lambda: "https://example.com/contacts.csv",
    }
    text = json.dumps(example)
    for key, make in values.items():
        token = "{{" + key + "}}"
        if token in text:
            value = make()
            text = text.replace(token, str(value))  # the SDK's models type these as strings
    return json.loads(text)


def call(sb: Any, api: str, name: str) -> tuple[str, str]:
    ctx = Ctx(sb)
    _, _, verb, path = next(m for m in all_methods() if m[:2] == (api, name))
    conf = clicksend.Configuration(host=sb.root_url, username=ctx.auth[0], password=ctx.auth[1])
    fn = getattr(getattr(clicksend, api)(clicksend.ApiClient(conf)), name)
    kwargs: dict[str, Any] = {}
    for pname, p in inspect.signature(fn).parameters.items():
        if pname.startswith("_") or pname == "content_type":
            continue
        ann = str(p.annotation)
        models = re.findall(r"clicksend\.models\.[\w.]+\.(\w+)", ann)
        if "{" + pname + "}" in path:
            value = special(ctx, path, pname)
            if value is None:
                value = first_value(ctx, path.split("{" + pname + "}")[0].rstrip("/"), pname)
            if value is None:
                return "SKIP", f"no {pname} to use"
            kwargs[pname] = (
                int(value) if "int" in ann.lower() and "str" not in ann.lower() else str(value)
            )
        elif pname == "body" and "Dict[str, " in ann:  # an untyped body (uploads, MMS price)
            example = body_example(path, verb)
            if isinstance(example, dict):  # some examples are "" (no body at all)
                kwargs[pname] = fill(ctx, example)
        elif models:
            example = body_example(path, verb)
            if example is None:
                if p.default is inspect.Parameter.empty:
                    return "SKIP", f"the spec has no example for {pname}"
                continue
            try:
                kwargs[pname] = getattr(clicksend, models[0]).from_dict(fill(ctx, example))
            except Exception as exc:  # the spec's example does not fit the SDK's model
                return "SKIP", f"spec example does not fit {models[0]}: {str(exc)[:200]}"
        elif p.default is inspect.Parameter.empty:
            value = special(ctx, path, pname)
            if value is None:
                return "SKIP", f"no value for {pname}"
            kwargs[pname] = [value] if "List" in ann else value
    try:
        fn(**kwargs)
    except Exception as exc:
        body = getattr(exc, "body", None)
        return "FAIL", f"{type(exc).__name__} {getattr(exc, 'status', '')} {str(body or exc)[:300]}"
    return "OK", ""
