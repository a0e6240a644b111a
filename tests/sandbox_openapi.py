"""Helpers for sandbox tests: the OpenAPI 200-response schema of an endpoint, as JSON Schema.

``schema_for("GET", "/sms-campaigns")`` finds the operation in
../shared/clicksend-api/openapi.yaml (path parameters may be named differently and a
trailing slash is ignored), inlines ``$ref``s and turns OpenAPI ``nullable`` into JSON
Schema null types. The spec is parsed once per test session. Tests skip (with the
reason) when ../shared is absent, as in a fresh clone.

Example::

    validate("GET", "/subaccounts", response.json())
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import pytest

OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "clicksend-api" / "openapi.yaml"
ENDPOINTS = OPENAPI.with_name("endpoints.json")

# Fields the sandbox returns as null although the OpenAPI types them without nullable:
# an empty page has no first/last row number (Laravel, as the real API).
NULLABLE_TOO = {"pagination": {"from", "to"}}


def template(path: str) -> str:
    """A path with parameter names erased, for matching: ``/a/{x}/`` -> ``/a/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/")) or "/"


@functools.cache
def _spec() -> dict[str, Any] | None:
    if not OPENAPI.is_file():
        return None
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with OPENAPI.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)


def spec() -> dict[str, Any]:
    """The parsed OpenAPI document, or skip the test."""
    doc = _spec()
    if doc is None:
        pytest.skip(f"{OPENAPI} not present (a fresh clone has no ../shared)")
    return doc


@functools.cache
def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    doc = spec()
    out = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "responses" in op:
                out[(method.upper(), template(path.removeprefix("/v3")))] = op
    return out


def raw_schema(method: str, path: str) -> dict[str, Any] | None:
    """The OpenAPI 200 JSON schema of ``METHOD /path`` (reference path, no /v3), or None."""
    op = _operations().get((method.upper(), template(path)))
    if op is None:
        return None
    ok = op["responses"].get("200") or op["responses"].get(200) or {}
    schema = (ok.get("content") or {}).get("application/json", {}).get("schema")
    return schema or None


def to_json_schema(node: Any) -> Any:
    """Inline ``$ref``s and turn ``nullable: true`` into ``type: [T, "null"]``."""
    schemas = spec()["components"]["schemas"]

    def convert(node: Any, owner: str | None, depth: int = 0) -> Any:
        if depth > 60 or not isinstance(node, dict):
            return node if depth <= 60 else {}
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            return convert(copy.deepcopy(schemas[ref]), ref, depth + 1)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("example", "examples", "nullable", "description", "required"):
                continue
            if key == "properties":
                out[key] = {name: convert(v, owner, depth + 1) for name, v in value.items()}
            elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
                out[key] = convert(value, owner, depth + 1)
            elif key in ("allOf", "anyOf", "oneOf"):
                out[key] = [convert(v, owner, depth + 1) for v in value]
                if key == "allOf":
                    out[key] = _repair_all_of(out[key])
            else:
                out[key] = value
        if "properties" in out:
            for prop in NULLABLE_TOO.get(owner or "", ()):
                if prop in out["properties"]:
                    out["properties"][prop] = _or_null(out["properties"][prop])
        if node.get("nullable"):
            out = _or_null(out)
        return out

    return convert(copy.deepcopy(node), None)


def _repair_all_of(parts: list[Any]) -> list[Any]:
    """A known defect of the spec: ``allOf: [pagination, {type: array, items: X}]`` (an
    object and an array at once). The example beside it shows what is meant: the
    pagination block whose ``data`` is that array."""
    has_object = any(isinstance(p, dict) and p.get("type") == "object" for p in parts)
    if not has_object:
        return parts
    return [
        {"type": "object", "properties": {"data": p}}
        if isinstance(p, dict) and p.get("type") == "array"
        else p
        for p in parts
    ]


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    t = schema.get("type")
    if isinstance(t, str):
        return {**schema, "type": [t, "null"]}
    if isinstance(t, list):
        return {**schema, "type": sorted(set(t) | {"null"})}
    return {"anyOf": [schema, {"type": "null"}]}


def validate(method: str, path: str, body: Any) -> None:
    """Validate a response body against the endpoint's OpenAPI schema (skip without one)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = raw_schema(method, path)
    if schema is None:
        pytest.skip(f"no OpenAPI 200 schema for {method} {path}")
    jsonschema.validate(body, to_json_schema(schema))


def null_fields(node: Any, found: set[str] | None = None, depth: int = 0) -> set[str]:
    """Field names that the spec's own examples (and ``node`` if it is an example) show as null."""
    found = set() if found is None else found
    schemas = spec()["components"]["schemas"]
    if depth > 60:
        return found
    if isinstance(node, dict):
        if "$ref" in node and isinstance(node["$ref"], str):
            ref = node["$ref"].rsplit("/", 1)[-1]
            if ref not in found:  # each component once
                found.add(ref)
                null_fields(schemas.get(ref, {}), found, depth + 1)
        for key, value in node.items():
            if value is None:
                found.add(key)
            else:
                null_fields(value, found, depth + 1)
    elif isinstance(node, list):
        for value in node:
            null_fields(value, found, depth + 1)
    return found


def errors(method: str, path: str, body: Any, example: Any = None) -> list[str]:
    """Type errors of a response body (empty when valid or when there is no schema).

    A null where the schema says "string" (or another type) is accepted for a field that
    the spec's own examples, or the reference ``example``, show as null: the documented
    answers do it, so the real API does (e.g. ``contact_id`` of history rows).
    """
    jsonschema = pytest.importorskip("jsonschema")
    schema = raw_schema(method, path)
    if schema is None:
        return []
    nullable = null_fields(schema) | null_fields(example)
    validator = jsonschema.Draft202012Validator(to_json_schema(schema))
    out = []
    for e in validator.iter_errors(body):
        where = list(e.absolute_path)
        if e.instance is None and where and where[-1] in nullable and e.validator == "type":
            continue
        out.append(f"{'.'.join(map(str, where)) or '<root>'}: {e.message[:200]}")
    return out
