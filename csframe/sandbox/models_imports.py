"""Uploads (files the sandbox serves at a pre-signed-style URL) and asynchronous list imports.

Uploads live in the ``uploads`` table until reset; each has a random file name and
expires ``upload_ttl_seconds`` (600, as documented) after it was uploaded: after that its
URL answers 404 and an import cannot use it. Nothing is converted except ``.xlsx`` to CSV
for ``convert=csv`` (first sheet, via openpyxl); other files are kept as given.

An import (:func:`start_import`) parses the CSV at once (a bad file is the caller's 400)
and hands the rows to a daemon thread that writes them at ``import_rows_per_second``
(5,000 by default) in small batches, so the list fills up while a client polls. Each row
is validated like a POST of the contact (see :mod:`models_contacts`); its outcome is
recorded in the job (:meth:`ImportJob.truth`, served at ``/_sandbox/truth/imports/{id}``).

Example::

    up = add_upload(store, 48213, b"phone\\n0411111111\\n", "csv", "text/csv")
    job = start_import(store, 48213, 428, up["file_name"], ["phone_number"])
    job.wait(10); job.truth()["imported"]     # 1
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

from csframe.sandbox import models_contacts as mc
from csframe.sandbox.models import Store, format_uuid

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    upload_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    file_name TEXT NOT NULL UNIQUE,
    convert TEXT NOT NULL,
    media_type TEXT NOT NULL,
    content BLOB NOT NULL,
    date_added INTEGER NOT NULL,
    date_delete INTEGER NOT NULL
);
"""
CONVERTS = ("fax", "mms", "csv", "post", "postcard")
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
TICK = 0.05  # seconds between import batches

# Column names a field_order may use -> contact field (lower-case, spaces/hyphens as "_").
FIELD_ALIASES: dict[str, str] = {
    **{f: f for f in mc.WRITABLE},
    "phone": "phone_number",
    "mobile": "phone_number",
    "mobile_number": "phone_number",
    "phonenumber": "phone_number",
    "firstname": "first_name",
    "first": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    **{f"custom{i}": f"custom_{i}" for i in range(1, 5)},
    "fax": "fax_number",
    "organisation_name": "organization_name",
    "organization": "organization_name",
    "organisation": "organization_name",
    "company": "organization_name",
    "email_address": "email",
    "address1": "address_line_1",
    "address_line1": "address_line_1",
    "address2": "address_line_2",
    "address_line2": "address_line_2",
    "city": "address_city",
    "state": "address_state",
    "postcode": "address_postal_code",
    "postal_code": "address_postal_code",
    "zip": "address_postal_code",
    "country": "address_country",
}
SKIP_NAMES = frozenset(("", "skip", "ignore", "none", "-"))
_HEADER_WORDS = re.compile(
    r"phone|mobile|email|e-mail|name|fax|company|organi[sz]ation|address|city|state|"
    r"post ?code|zip|country|custom",
    re.I,
)


class UploadError(ValueError):
    """A file the endpoint refuses (400): ``code`` is the response_code."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def ensure_schema(store: Store) -> None:
    """Create the uploads table; uploads and imports are dropped on reset."""
    mc.ensure_schema(store)
    with store._lock:
        store.db.executescript(SCHEMA)
    if _drop_uploads not in mc.RESET_EXTRAS:
        mc.RESET_EXTRAS.append(_drop_uploads)


def _drop_uploads(store: Store) -> None:
    exists = store.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='uploads'"
    ).fetchone()
    if exists:
        store.db.execute("DELETE FROM uploads")


def settings(store: Store) -> dict[str, Any]:
    return mc.state(store).settings


def configure(store: Store, changes: dict[str, Any]) -> dict[str, Any]:
    """Change ``upload_ttl_seconds`` / ``import_rows_per_second`` (positive numbers)."""
    current = settings(store)
    for k, v in changes.items():
        if k not in current:
            raise ValueError(f"unknown setting {k!r} (known: {', '.join(sorted(current))})")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ValueError(f"{k} must be a positive number")
    current.update({k: (int(v) if float(v).is_integer() else float(v)) for k, v in changes.items()})
    return dict(current)


# ---------------------------------------------------------------------- uploads


def _sniff(content: bytes) -> tuple[str, str]:
    """(extension, media type) of a file from its first bytes."""
    if content.startswith(b"%PDF"):
        return "pdf", "application/pdf"
    if content.startswith(b"\x89PNG"):
        return "png", "image/png"
    if content.startswith(b"\xff\xd8"):
        return "jpg", "image/jpeg"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "gif", "image/gif"
    if content.startswith(b"PK\x03\x04"):
        return "zip", "application/zip"
    return "bin", "application/octet-stream"


def xlsx_to_csv(content: bytes) -> bytes:
    """The first sheet of an .xlsx workbook as UTF-8 CSV (whole-number floats as integers,
    empty cells as ""), or UploadError."""
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency of csframe
        raise UploadError("BAD_REQUEST", "XLSX conversion needs openpyxl.") from None
    try:
        wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise UploadError(
            "BAD_REQUEST", "The file is neither CSV nor a readable XLSX workbook."
        ) from None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    try:
        for row in wb.worksheets[0].iter_rows(values_only=True):
            cells = []
            for v in row:
                if v is None:
                    cells.append("")
                elif isinstance(v, float) and v.is_integer():
                    cells.append(str(int(v)))
                elif hasattr(v, "isoformat"):
                    cells.append(v.isoformat())
                else:
                    cells.append(str(v))
            writer.writerow(cells)
    finally:
        wb.close()
    return out.getvalue().encode("utf-8")


def decode_text(content: bytes) -> str | None:
    """CSV text: UTF-8 (with or without BOM), else Windows-1252; None for binary data."""
    if b"\x00" in content[:4096]:
        return None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def prepare_upload(content: bytes, convert: str) -> tuple[bytes, str, str]:
    """``(bytes to store, extension, media type)`` for an upload, or UploadError."""
    if convert not in CONVERTS:
        raise UploadError("BAD_REQUEST", f"convert must be one of {', '.join(CONVERTS)}.")
    if not content:
        raise UploadError("BAD_REQUEST", "The file is empty.")
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError("BAD_REQUEST", "The file is larger than 50 MB.")
    ext, media = _sniff(content)
    if convert != "csv":
        return content, ext, media  # stored as given: the sandbox converts nothing else
    if ext == "zip":
        return xlsx_to_csv(content), "csv", "text/csv"
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise UploadError("BAD_REQUEST", "Legacy .xls files are not supported: use CSV or XLSX.")
    if ext != "bin" or decode_text(content) is None:
        raise UploadError("BAD_REQUEST", "The file cannot be converted to CSV.")
    return content, "csv", "text/csv"


def add_upload(
    store: Store, user_id: int, content: bytes, convert: str, media_type: str | None = None
) -> dict[str, Any]:
    """Store a file; the upload record (without ``_url``, which depends on the host)."""
    ensure_schema(store)
    data, ext, media = prepare_upload(content, convert)
    st = mc.state(store)
    with store._lock:
        name = f"{format_uuid(st.ids.getrandbits(128))}.{ext}"
        now = store.clock.now()
        ttl = int(st.settings["upload_ttl_seconds"])
        cur = store.db.execute(
            "INSERT INTO uploads (user_id, file_name, convert, media_type, content, date_added, "
            "date_delete) VALUES (?,?,?,?,?,?,?)",
            (user_id, name, convert, media_type or media, data, now, now + ttl),
        )
        upload_id = cur.lastrowid
    return {
        "upload_id": upload_id,
        "file_name": name,
        "date_added": now,
        "date_delete": now + ttl,
        "user_id": user_id,
    }


def get_file(store: Store, file_name: str) -> tuple[bytes, str] | None:
    """``(content, media type)`` of an unexpired upload, or None (unknown or expired)."""
    ensure_schema(store)
    with store._lock:
        row = store.db.execute(
            "SELECT content, media_type, date_delete FROM uploads WHERE file_name=?", (file_name,)
        ).fetchone()
    if row is None or store.clock.now() >= row[2]:
        return None
    return row[0], row[1]


def file_name_of(url: str) -> str | None:
    """The upload file name in one of the sandbox's file URLs (any host), or None."""
    m = re.search(r"/_files/uploads/([A-Za-z0-9\-]+\.[a-z]+)(?:\?.*)?$", url.strip())
    return m.group(1) if m else None


# ---------------------------------------------------------------------- imports


def parse_field_order(value: Any) -> list[str | None]:
    """Contact fields in column order (None: skip the column), or UploadError.

    Example::

        >>> parse_field_order(["phone", "First Name", "", "custom1"])
        ['phone_number', 'first_name', None, 'custom_1']
    """
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not value:
        raise UploadError("MISSING_REQUIRED_FIELDS", "field_order is required: a list of fields.")
    out: list[str | None] = []
    unknown = []
    for item in value:
        name = re.sub(r"[\s\-]+", "_", str(item if item is not None else "").strip().lower())
        if name in SKIP_NAMES:
            out.append(None)
        elif name in FIELD_ALIASES:
            out.append(FIELD_ALIASES[name])
        else:
            unknown.append(str(item))
    if unknown:
        raise UploadError("BAD_REQUEST", f"Unknown fields in field_order: {', '.join(unknown)}.")
    named = [f for f in out if f]
    if len(set(named)) != len(named):
        raise UploadError("BAD_REQUEST", "field_order names a field twice.")
    if not set(named) & set(mc.CHANNELS):
        raise UploadError(
            "MISSING_REQUIRED_FIELDS",
            "field_order must include phone_number, email or fax_number.",
        )
    return out


def read_csv(text: str) -> list[list[str]]:
    """Rows of a CSV text; the delimiter (comma, semicolon or tab) is the most frequent of
    the three on the first line."""
    first = text.split("\n", 1)[0]
    delim = max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))


def looks_like_header(cells: list[str]) -> bool:
    """A first row of column titles: no email or number in it, and a title-like word."""
    values = [c.strip() for c in cells if c.strip()]
    if not values:
        return False
    for v in values:
        if "@" in v or sum(ch.isdigit() for ch in v) >= 6:
            return False
    return any(
        re.sub(r"[\s\-]+", "_", v.lower()) in FIELD_ALIASES or _HEADER_WORDS.search(v)
        for v in values
    )


@dataclass
class ImportJob:
    """One queued import: its rows, its progress and every row's outcome."""

    id: str
    user_id: int
    list_id: int
    file_url: str
    file_name: str
    field_order: list[str | None]
    lines: list[tuple[int, list[str]]]  # (1-based line of the file, cells)
    header_line: int | None
    created: int
    status: str = "queued"  # queued, processing, done, cancelled, failed
    started: int | None = None
    finished: int | None = None
    error: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    done_event: threading.Event = field(default_factory=threading.Event)
    _cancelled: bool = False

    def cancel(self) -> None:
        self._cancelled = True
        if self.status in ("queued", "processing"):
            self.status = "cancelled"
            self.done_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done_event.wait(timeout)

    def summary(self) -> dict[str, Any]:
        counts = {"imported": 0, "rejected": 0, "skipped": 0}
        for r in self.rows:
            if r["outcome"] in counts:
                counts[r["outcome"]] += 1
        return {
            "id": self.id,
            "list_id": self.list_id,
            "status": self.status,
            "file_url": self.file_url,
            "field_order": self.field_order,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "rows_total": len(self.lines),
            "rows_processed": sum(1 for r in self.rows if r["outcome"] != "header"),
            "header_skipped": self.header_line is not None,
            **counts,
            "duplicates_skipped": 0,  # the API imports duplicates as they come
        }

    def truth(self) -> dict[str, Any]:
        rows = list(self.rows)
        return {
            **self.summary(),
            "contact_ids": [r["contact_id"] for r in rows if r["outcome"] == "imported"],
            "rows": rows,
        }


def start_import(
    store: Store,
    user_id: int,
    list_id: int,
    file_url: str,
    field_order: Any,
) -> ImportJob:
    """Validate and queue an import (raises mc.NotFound/Forbidden or UploadError)."""
    ensure_schema(store)
    mc.list_name(store, user_id, list_id)  # the list exists and is the caller's
    if not isinstance(file_url, str) or not file_url.strip():
        raise UploadError("MISSING_REQUIRED_FIELDS", "file_url is required.")
    fields = parse_field_order(field_order)
    name = file_name_of(file_url)
    got = get_file(store, name) if name else None
    if got is None:
        raise UploadError(
            "BAD_REQUEST",
            "file_url must be an unexpired URL returned by /uploads "
            "(the sandbox fetches no other hosts; uploads expire after 10 minutes).",
        )
    text = decode_text(got[0])
    if text is None:
        raise UploadError("BAD_REQUEST", "The file is not CSV: upload it with convert=csv.")
    table = read_csv(text)
    lines = [(i + 1, cells) for i, cells in enumerate(table)]
    first = next(((n, c) for n, c in lines if any(x.strip() for x in c)), None)
    header = first[0] if first and looks_like_header(first[1]) else None
    st = mc.state(store)
    with store._lock:
        job_id = str(st.ids.randrange(10**18, 10**19))
        job = ImportJob(
            id=job_id,
            user_id=user_id,
            list_id=list_id,
            file_url=file_url,
            file_name=name or "",
            field_order=fields,
            lines=[(n, c) for n, c in lines if n != header],
            header_line=header,
            created=store.clock.now(),
        )
        if header is not None:
            job.rows.append(_row(header, "header"))
        st.imports[job_id] = job
        thread = threading.Thread(
            target=_run, args=(store, job), name=f"csframe-sandbox-import-{job_id}", daemon=True
        )
        st.threads.append(thread)
    thread.start()
    return job


def _row(
    line: int, outcome: str, reason: str | None = None, notes: list[str] | None = None
) -> dict[str, Any]:
    """One row's truth: ``row`` (1-based CSV record, the header counted), ``outcome``
    (header, imported, rejected, skipped), ``reason``/``detail`` of a rejection or skip,
    ``contact_id`` once written, the stored ``phone_number`` and whether it was
    ``phone_normalised``, ``notes`` (PHONE_STORED_AS_GIVEN, FAX_STORED_AS_GIVEN,
    MISSING_COLUMNS, EXTRA_COLUMNS_IGNORED)."""
    return {
        "row": line,
        "outcome": outcome,
        "reason": reason,
        "detail": None,
        "contact_id": None,
        "phone_number": None,
        "phone_normalised": None,
        "notes": notes if notes is not None else [],
    }


def _outcome(
    job: ImportJob, line: int, cells: list[str], country: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(row outcome, record to insert or None) for one CSV line."""
    if not any(c.strip() for c in cells):
        return _row(line, "skipped", "BLANK_ROW"), None
    notes: list[str] = []
    fields = job.field_order
    if len(cells) < len(fields):
        notes.append("MISSING_COLUMNS")
    if len(cells) > len(fields):
        notes.append("EXTRA_COLUMNS_IGNORED")
    given = {f: (cells[i] if i < len(cells) else "") for i, f in enumerate(fields) if f}
    rec = mc.prepare_fields(given, country)
    out = _row(line, "imported", notes=notes)
    if not mc.has_channel(rec):
        out.update(outcome="rejected", reason="MISSING_REQUIRED_FIELDS")
        out["detail"] = "no phone_number, email or fax_number"
        return out, None
    for f, note in (
        ("phone_number", "PHONE_STORED_AS_GIVEN"),
        ("fax_number", "FAX_STORED_AS_GIVEN"),
    ):
        raw = (given.get(f) or "").strip()
        if raw and mc.normalise_phone(raw, country) is None:
            notes.append(note)  # the API could not read the number: kept as written
    out["phone_number"] = rec.get("phone_number") or ""
    out["phone_normalised"] = bool(out["phone_number"]) and "PHONE_STORED_AS_GIVEN" not in notes
    return out, rec


def _run(store: Store, job: ImportJob) -> None:
    """The worker: batches of rows at the configured pace until done or cancelled."""
    try:
        country = mc.default_country(store, job.user_id)
        with store._lock:
            if job._cancelled:
                return
            job.status, job.started = "processing", store.clock.now()
        pending = list(job.lines)
        next_tick = time.monotonic()
        while pending:
            rate = float(mc.state(store).settings["import_rows_per_second"])
            n = max(1, int(rate * TICK))
            batch, pending = pending[:n], pending[n:]
            outcomes = [_outcome(job, line, cells, country) for line, cells in batch]
            with store._lock:
                if job._cancelled:
                    return
                if mc._list_row(store, job.list_id) is None:
                    job.status, job.error = "failed", "the list was deleted during the import"
                    job.finished = store.clock.now()
                    job.done_event.set()
                    return
                records = [rec for _, rec in outcomes if rec is not None]
                ids = iter(mc.insert_contacts(store, job.list_id, records, store.clock.now()))
                for out, rec in outcomes:
                    if rec is not None:
                        out["contact_id"] = next(ids)
                    job.rows.append(out)
            next_tick += n / rate if rate else TICK
            delay = next_tick - time.monotonic()
            if pending and delay > 0:
                time.sleep(delay)
        with store._lock:
            if not job._cancelled:
                job.status, job.finished = "done", store.clock.now()
    except sqlite3.ProgrammingError:  # the store was closed under us (shutdown)
        job.status = "cancelled"
    except Exception as exc:  # a sandbox bug: record it rather than die silently
        job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        job.done_event.set()


def get_import(store: Store, import_id: str) -> ImportJob | None:
    return mc.state(store).imports.get(import_id)


def all_imports(store: Store) -> list[ImportJob]:
    return list(mc.state(store).imports.values())
