"""Sandbox uploads and list imports over real loopback HTTP: base64 and multipart uploads,
the served ``_url`` and its expiry, XLSX conversion, and asynchronous imports whose list
read-back must equal the import's truth (``/_sandbox/truth/imports/{id}``).
"""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import pytest
import requests
from sandbox_openapi import errors

from csframe.sandbox import running

NOW = "2026-11-01T00:00:00Z"
UPLOAD_KEYS = ["upload_id", "file_name", "date_added", "date_delete", "user_id", "_url"]


@pytest.fixture(scope="module")
def sb():
    with running(scale="tiny", seed=42, now=NOW) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(sb):
    with requests.Session() as s:
        s.auth = (sb.credentials["username"], sb.credentials["api_key"])
        yield s


@pytest.fixture(autouse=True)
def _restore(sb):
    yield
    sb.contacts_settings(upload_ttl_seconds=600, import_rows_per_second=5000)
    sb.reset()


def ok(r: requests.Response) -> Any:
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert list(body) == ["http_code", "response_code", "response_msg", "data"]
    return body["data"]


def err(r: requests.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text[:300]
    assert (r.json()["response_code"], r.json()["data"]) == (code, None)


def upload_b64(sb, http, content: bytes, convert: str = "csv") -> dict[str, Any]:
    r = http.post(
        sb.base_url + "/uploads",
        params={"convert": convert},
        json={"content": base64.b64encode(content).decode()},
    )
    return ok(r)


def new_list(sb, http, name: str = "import target") -> int:
    return ok(http.post(sb.base_url + "/lists", json={"list_name": name}))["list_id"]


def start(sb, http, list_id: int, url: str, fields: Any) -> str:
    r = http.post(
        f"{sb.base_url}/lists/{list_id}/import", json={"file_url": url, "field_order": fields}
    )
    data = ok(r)
    assert r.json()["response_msg"] == "Your file is now queued."
    assert data["msg"] == "Messages put on queue." and data["ids"] == [data["id"]]
    assert data["id"].isdigit() and len(data["id"]) == 19
    assert not errors("POST", "/lists/{list_id}/import", r.json())
    return data["id"]


def read_list(sb, http, list_id: int) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        data = ok(
            http.get(f"{sb.base_url}/lists/{list_id}/contacts", params={"page": page, "limit": 100})
        )
        rows += data["data"]
        if data["next_page_url"] is None:
            return rows
        page += 1


# ---------------------------------------------------------------- uploads


def test_upload_base64_serves_the_bytes(sb, http):
    content = "phone,name\r\n0411 000 001,Zoë\r\n".encode()
    r = http.post(
        sb.base_url + "/uploads",
        params={"convert": "csv"},
        json={"content": base64.b64encode(content).decode()},
    )
    data = ok(r)
    assert r.json()["response_msg"] == "Your file has been uploaded."
    assert list(data) == UPLOAD_KEYS
    assert all(
        isinstance(data[k], int) for k in ("upload_id", "date_added", "date_delete", "user_id")
    )
    assert data["user_id"] == 48213 and data["date_delete"] - data["date_added"] == 600
    assert data["file_name"].endswith(".csv") and data["_url"].endswith("/" + data["file_name"])
    assert data["_url"].startswith(sb.root_url + "/_files/uploads/")
    got = requests.get(data["_url"], timeout=30)  # no credentials: a pre-signed style URL
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-type"].startswith("text/csv")
    # convert may also be given in the JSON body
    body = {"content": base64.b64encode(b"email\nx@y.example\n").decode(), "convert": "csv"}
    assert ok(http.post(sb.base_url + "/uploads", json=body))["upload_id"] == data["upload_id"] + 1
    before = sb.stats()["requests"]
    requests.get(data["_url"], timeout=30)
    assert sb.stats()["requests"] == before  # file downloads are not /v3 calls


def test_upload_multipart(sb, http):
    content = b"phone;first_name\n0411000002;Ann\n"
    r = http.post(
        sb.base_url + "/uploads",
        params={"convert": "csv"},
        files={"file": ("contacts.csv", content, "text/csv")},
    )
    data = ok(r)
    assert list(data) == UPLOAD_KEYS
    assert requests.get(data["_url"], timeout=30).content == content
    # A form whose "content" field carries base64 (no file part) works too.
    r = http.post(
        sb.base_url + "/uploads",
        params={"convert": "csv"},
        files={"content": (None, base64.b64encode(content).decode())},
    )
    assert requests.get(ok(r)["_url"], timeout=30).content == content
    r = http.post(sb.base_url + "/uploads", params={"convert": "csv"}, files={"other": (None, "x")})
    err(r, 400, "MISSING_REQUIRED_FIELDS")


def test_upload_errors(sb, http):
    good = base64.b64encode(b"phone\n0411000003\n").decode()
    err(http.post(sb.base_url + "/uploads", json={"content": good}), 400, "MISSING_REQUIRED_FIELDS")
    err(
        http.post(sb.base_url + "/uploads", params={"convert": "pdf"}, json={"content": good}),
        400,
        "BAD_REQUEST",
    )
    err(
        http.post(sb.base_url + "/uploads", params={"convert": "csv"}, json={"content": "%%%"}),
        400,
        "BAD_REQUEST",
    )
    err(
        http.post(sb.base_url + "/uploads", params={"convert": "csv"}, json={}),
        400,
        "MISSING_REQUIRED_FIELDS",
    )
    gif = base64.b64decode("R0lGODlhAQABAAAAACw=")
    for binary in (gif, b"\xd0\xcf\x11\xe0legacy xls", b"PK\x03\x04not really a workbook"):
        r = http.post(
            sb.base_url + "/uploads",
            params={"convert": "csv"},
            json={"content": base64.b64encode(binary).decode()},
        )
        err(r, 400, "BAD_REQUEST")
    r = requests.post(
        sb.base_url + "/uploads", params={"convert": "csv"}, json={"content": good}, timeout=30
    )
    err(r, 401, "MISSING_CREDENTIALS")


def test_other_conversions_keep_the_file(sb, http):
    gif = base64.b64decode("R0lGODlhAQABAAAAACw=")
    data = upload_b64(sb, http, gif, convert="mms")
    assert data["file_name"].endswith(".gif")
    got = requests.get(data["_url"], timeout=30)
    assert got.content == gif and got.headers["content-type"] == "image/gif"


def test_xlsx_is_converted_to_csv_and_imports(sb, http):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Mobile", "First", "Last", "Email"])
    ws.append([412000111, "Jürgen", "Müller", None])  # a number cell: Excel dropped the 0
    ws.append(["+61 412 000 222", "Ana", None, "ana@example.com"])
    ws.append([None, "Nobody", None, None])
    buf = io.BytesIO()
    wb.save(buf)
    data = upload_b64(sb, http, buf.getvalue())
    assert data["file_name"].endswith(".csv")
    text = requests.get(data["_url"], timeout=30).text
    assert text.splitlines() == [
        "Mobile,First,Last,Email",
        "412000111,Jürgen,Müller,",
        "+61 412 000 222,Ana,,ana@example.com",
        ",Nobody,,",
    ]
    list_id = new_list(sb, http)
    truth = sb.truth_import(start(sb, http, list_id, data["_url"], ["phone", "first_name", "last_name", "email"]), wait=10)  # fmt: skip
    assert (truth["status"], truth["imported"], truth["rejected"], truth["header_skipped"]) == (
        "done",
        2,
        1,
        True,
    )
    rows = read_list(sb, http, list_id)
    assert [(r["phone_number"], r["first_name"]) for r in rows] == [
        ("+61412000111", "Jürgen"),
        ("+61412000222", "Ana"),
    ]


def test_upload_expires(sb, http):
    sb.contacts_settings(upload_ttl_seconds=1)
    data = upload_b64(sb, http, b"phone\n0411000004\n")
    assert data["date_delete"] == data["date_added"] + 1
    deadline = time.monotonic() + 5
    while requests.get(data["_url"], timeout=30).status_code == 200:
        assert time.monotonic() < deadline, "the upload never expired"
        time.sleep(0.1)
    assert requests.get(data["_url"], timeout=30).status_code == 404
    r = http.post(
        f"{sb.base_url}/lists/645/import",
        json={"file_url": data["_url"], "field_order": ["phone_number"]},
    )
    err(r, 400, "BAD_REQUEST")
    assert sb.contacts_settings()["upload_ttl_seconds"] == 1
    with pytest.raises(ValueError):
        sb.contacts_settings(upload_ttl_seconds=0)


# ---------------------------------------------------------------- imports


def messy_csv(n: int) -> tuple[bytes, list[dict[str, Any]]]:
    """A CSV of ``n`` data rows (plus header) and what the API should store for each."""
    lines = ["Phone,First name,Last name,Email,Company,Ignored"]
    want = []
    for i in range(n):
        kind = i % 10
        mobile = f"04{(i % 4) + 10}{i:06d}"[:10]  # 0410.., 0411.., ...: 10 digits
        e164 = "+61" + mobile[1:]
        if kind == 0:
            row, exp = (
                [f"{mobile[:4]} {mobile[4:7]} {mobile[7:]}", f"P{i}", "Lee", "", "", "x"],
                e164,
            )
        elif kind == 1:
            row, exp = (
                [f"+61 {mobile[1:4]} {mobile[4:7]} {mobile[7:]}", f"P{i}", "", "", "", ""],
                e164,
            )
        elif kind == 2:
            row, exp = [f"0061{mobile[1:]}", "", "", f"p{i}@example.com", "", ""], e164
        elif kind == 3:
            row, exp = [mobile[1:], f"P{i}", "", "", "ACME", ""], e164  # leading 0 lost
        elif kind == 4:
            row, exp = ["n/a", f"P{i}", "", "", "", ""], "n/a"  # kept as written
        elif kind == 5:
            row, exp = ["", f"P{i}", "", "", "", ""], None  # no channel: rejected
        elif kind == 6:
            row, exp = ["", "", "", f" P{i}@Example.com ", "", ""], ""  # email only
        elif kind == 7:
            row, exp = [f"({mobile[:2]}) {mobile[2:6]} {mobile[6:]}", f"P{i}", "", "", "", ""], e164
        elif kind == 8:
            row, exp = [f"{mobile[:4]}-{mobile[4:7]}-{mobile[7:]}", f"P{i}"], e164  # short row
        else:
            row, exp = [mobile, f"P{i}", "", "", "", "", "extra"], e164  # long row
        lines.append(",".join(row))
        want.append({"line": i + 2, "phone": exp, "row": row})
    return ("\r\n".join(lines) + "\r\n").encode(), want


def test_import_is_asynchronous_and_read_back_equals_truth(sb, http):
    sb.contacts_settings(import_rows_per_second=2000)
    content, want = messy_csv(3000)
    url = upload_b64(sb, http, content)["_url"]
    list_id = new_list(sb, http)
    fields = ["phone", "first_name", "last_name", "email", "organisation", ""]
    import_id = start(sb, http, list_id, url, fields)
    # Queued: the call returned before the rows were written; the list shows it.
    early = sb.truth_import(import_id)
    assert early["status"] in ("queued", "processing") and early["rows_processed"] < 3000
    lst = ok(http.get(f"{sb.base_url}/lists/{list_id}"))
    assert lst["_import_in_progress"] == 1 and lst["_contacts_count"] < 2700
    truth = sb.truth_import(import_id, wait=30)
    assert truth["status"] == "done" and truth["rows_total"] == truth["rows_processed"] == 3000
    assert truth["header_skipped"] and truth["duplicates_skipped"] == 0
    assert (truth["imported"], truth["rejected"], truth["skipped"]) == (2700, 300, 0)
    assert truth["field_order"] == [
        "phone_number", "first_name", "last_name", "email", "organization_name", None,
    ]  # fmt: skip
    lst = ok(http.get(f"{sb.base_url}/lists/{list_id}"))
    assert lst["_import_in_progress"] == 0 and lst["_contacts_count"] == 2700
    rows = read_list(sb, http, list_id)
    assert [r["contact_id"] for r in rows] == truth["contact_ids"]
    by_line = {r["row"]: r for r in truth["rows"]}
    assert by_line[1]["outcome"] == "header"
    contacts = iter(rows)
    for w in want:
        out = by_line[w["line"]]
        if w["phone"] is None:
            assert (out["outcome"], out["reason"], out["contact_id"]) == (
                "rejected",
                "MISSING_REQUIRED_FIELDS",
                None,
            )
            continue
        c = next(contacts)
        assert out["outcome"] == "imported" and out["contact_id"] == c["contact_id"]
        assert c["phone_number"] == w["phone"] == out["phone_number"]
        assert out["phone_normalised"] == w["phone"].startswith("+")
        assert ("PHONE_STORED_AS_GIVEN" in out["notes"]) == (w["phone"] == "n/a")
        row = w["row"]
        assert c["first_name"] == (row[1] if len(row) > 1 else "")
        assert c["email"] == ((row[3].strip() or None) if len(row) > 3 else None)
        assert c["organization_name"] == ((row[4] or None) if len(row) > 4 else None)
        assert c["_list_name"] == "import target" and c["date_added"] >= truth["started"]
        if len(row) < 6:
            assert "MISSING_COLUMNS" in out["notes"]
        if len(row) > 6:
            assert "EXTRA_COLUMNS_IGNORED" in out["notes"]
    # Duplicates are imported as they come: the same file again adds every row again.
    again = sb.truth_import(start(sb, http, list_id, url, fields), wait=30)
    assert (
        again["imported"] == 2700
        and ok(http.get(f"{sb.base_url}/lists/{list_id}"))["_contacts_count"] == 5400
    )


def test_import_rows_details(sb, http):
    text = "\n".join(
        [
            "0412 345 678;José;Smith;EXTRA",  # no header: first row is data
            "021 123 4567;Aroha;Ngata",  # a national NZ number is read as AU
            ";;;",
            "+64 21 123 4567;Aroha;Ngata",
            "+61 (0) 412 345 678;Bad;Format",
        ]
    )
    url = upload_b64(sb, http, text.encode("cp1252"))["_url"]  # Windows-1252, semicolons
    import_id = start(sb, http, 645, url, ["mobile", "first", "surname"])
    truth = sb.truth_import(import_id, wait=10)
    assert not truth["header_skipped"]
    outcomes = [(r["row"], r["outcome"], r["phone_number"]) for r in truth["rows"]]
    assert outcomes == [
        (1, "imported", "+61412345678"),
        (2, "imported", "+61211234567"),
        (3, "skipped", None),
        (4, "imported", "+64211234567"),
        (5, "imported", "+61 (0) 412 345 678"),
    ]
    assert truth["rows"][0]["notes"] == ["EXTRA_COLUMNS_IGNORED"]
    assert truth["rows"][2]["reason"] == "BLANK_ROW"
    assert truth["rows"][4]["notes"] == ["PHONE_STORED_AS_GIVEN"]
    first = ok(http.get(f"{sb.base_url}/lists/645/contacts/{truth['contact_ids'][0]}"))
    assert (first["first_name"], first["last_name"]) == ("José", "Smith")


def test_import_errors(sb, http):
    url = upload_b64(sb, http, b"phone\n0411000005\n")["_url"]
    post = lambda list_id, body: http.post(f"{sb.base_url}/lists/{list_id}/import", json=body)  # noqa: E731
    err(post(645, {"file_url": url, "field_order": ["phone", "shoe_size"]}), 400, "BAD_REQUEST")
    err(post(645, {"file_url": url, "field_order": ["first_name"]}), 400, "MISSING_REQUIRED_FIELDS")
    err(post(645, {"file_url": url, "field_order": ["phone", "mobile"]}), 400, "BAD_REQUEST")
    err(post(645, {"file_url": url}), 400, "MISSING_REQUIRED_FIELDS")
    err(post(645, {"field_order": ["phone"]}), 400, "MISSING_REQUIRED_FIELDS")
    err(
        post(645, {"file_url": "http://example.com/x.csv", "field_order": ["phone"]}),
        400,
        "BAD_REQUEST",
    )
    err(post(99999, {"file_url": url, "field_order": ["phone"]}), 404, "NOT_FOUND")
    gif = upload_b64(sb, http, base64.b64decode("R0lGODlhAQABAAAAACw="), convert="mms")["_url"]
    err(post(645, {"file_url": gif, "field_order": ["phone"]}), 400, "BAD_REQUEST")
    other = tuple(sb.accounts["nocredit"].values())
    r = requests.post(f"{sb.base_url}/lists/645/import", json={"file_url": url, "field_order": ["phone"]}, auth=other, timeout=30)  # fmt: skip
    err(r, 403, "NOT_ENOUGH_PERMISSION_TO_LIST_ID")
    # A comma-separated field_order string (the OpenAPI types it string) is accepted.
    import_id = start(sb, http, 645, url, "phone_number")
    assert sb.truth_import(import_id, wait=10)["imported"] == 1
    assert (
        requests.get(
            sb.root_url + "/_sandbox/truth/imports/123", headers=sb.admin_headers, timeout=30
        ).status_code
        == 404
    )


def test_deleting_the_list_stops_the_import(sb, http):
    sb.contacts_settings(import_rows_per_second=500)
    content, _ = messy_csv(2000)
    url = upload_b64(sb, http, content)["_url"]
    list_id = new_list(sb, http)
    import_id = start(sb, http, list_id, url, ["phone", "first_name"])
    ok(http.delete(f"{sb.base_url}/lists/{list_id}"))
    truth = sb.truth_import(import_id, wait=10)
    assert truth["status"] == "failed" and "deleted" in truth["error"]
    assert truth["rows_processed"] < 2000


def test_reset_cancels_imports_and_drops_uploads(sb, http):
    seeded = ok(http.get(f"{sb.base_url}/lists/428"))["_contacts_count"]
    sb.contacts_settings(import_rows_per_second=300)
    content, _ = messy_csv(3000)
    url = upload_b64(sb, http, content)["_url"]
    import_id = start(sb, http, 428, url, ["phone", "first_name"])
    time.sleep(0.2)
    assert ok(http.get(f"{sb.base_url}/lists/428"))["_import_in_progress"] == 1
    sb.reset()
    assert requests.get(url, timeout=30).status_code == 404
    assert (
        requests.get(
            f"{sb.root_url}/_sandbox/truth/imports/{import_id}",
            headers=sb.admin_headers,
            timeout=30,
        ).status_code
        == 404
    )
    time.sleep(0.3)  # a cancelled worker writes nothing more
    lst = ok(http.get(f"{sb.base_url}/lists/428"))
    assert (lst["_contacts_count"], lst["_import_in_progress"]) == (seeded, 0)
    assert requests.get(
        sb.root_url + "/_sandbox/truth/imports", headers=sb.admin_headers, timeout=30
    ).json() == {"imports": []}
