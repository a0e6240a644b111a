"""The SMS composer: write a personalised message for every row of a frame and see, as you
type, what it will cost.

:class:`Composer` is the logic (no ipywidgets); :class:`ComposerView` the thin ipywidgets
view; :func:`csframe.widgets.composer` builds one. Everything is computed by the writers --
:func:`csframe.writers.sms_plan` renders and validates every row, the writers' segment
counter gives encoding and parts, their quote and send talk to the API -- so what the
composer shows is exactly what a send would do.

Sending is two steps, always: :meth:`Composer.arm_send` freezes the plan and states what
will go out (recipients, parts, estimated or quoted cost); :meth:`Composer.confirm_send`
sends only that plan, only when the number of recipients is typed back, and only when
nothing changed since. The journal makes a repeated confirmation resume, never send twice.

Example::

    cp = Composer(keep, client=cs, sender="ACME")
    cp.body = "Hi {first_name}, 20% off this week. Reply STOP to opt out"
    s = cp.state()
    s["preview"], s["encoding"], s["parts"], s["chars_left"], s["estimated_total"]
    cp.quote()                    # exact price from the API, in chunks of 1000
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from csframe.widgets._common import client_secrets, error_text, esc

if TYPE_CHECKING:  # for annotations only
    from csframe.client import Client

#: How many rows of problems the state lists.
MAX_PROBLEMS = 8
#: Frames larger than this update the whole-frame figures when typing pauses, not per key.
LIVE_ROWS = 50_000


def _writers() -> ModuleType:
    return importlib.import_module("csframe.writers")


def _plan_module() -> ModuleType:
    return importlib.import_module("csframe.writers.plan")


def _render_module() -> ModuleType:
    return importlib.import_module("csframe.writers.render")


def _segments_module() -> ModuleType:
    # by module path: the package's ``segments`` is the vectorised function
    return importlib.import_module("csframe.writers.segments")


class Composer:
    """Compose an SMS for every row of ``contacts``.

    Parameters
    ----------
    contacts : the recipients, one row each (e.g. ``clean.dedupe(...)`` output).
    client : a :class:`csframe.Client`; enables the cost estimate from the account's
        prices (one ``/sms/price`` request for a few sample numbers, made once), the quote
        and the send. Without it the composer previews only (or estimates with ``prices``).
    to : the column with E.164 numbers; default ``phone_e164`` when present (the output of
        :func:`csframe.clean.contacts`), else ``phone_number``.
    sender : sender id or number; None = ClickSend's shared number.
    body : the starting template (``{column}`` placeholders).
    sample : position of the row the preview renders.
    marketing : as in :func:`csframe.writers.sms_plan` -- None warns when there is no
        opt-out text, True refuses, False skips the check.
    prices : ``{country: price per part}`` for the estimate instead of asking the API.
    key : where row keys come from (see ``sms_plan``); default ``contact_id`` when present.
    journal : the send journal (SQLite); default ``composer-<plan fingerprint>.sqlite`` in
        the writers' journal directory (under the cache directory), so confirming the same
        plan twice resumes it instead of sending again.

    Example::

        cp = Composer(df, prices={"AU": 0.077}, body="Hi {first_name}")
        cp.state()["parts"], cp.state()["estimated_total"]
    """

    def __init__(
        self,
        contacts: pd.DataFrame,
        client: Client | None = None,
        *,
        to: str | None = None,
        sender: str | None = None,
        body: str = "",
        sample: int = 0,
        marketing: bool | None = None,
        prices: dict[str, float] | None = None,
        key: str | None = None,
        journal: str | Path | None = None,
    ) -> None:
        if not isinstance(contacts, pd.DataFrame):
            raise TypeError(
                f"composer() takes a DataFrame of recipients, got {type(contacts).__name__}"
            )
        self.contacts = contacts
        self.client = client
        if to is None:
            to = "phone_e164" if "phone_e164" in contacts.columns else "phone_number"
        self.to = to
        self.sender = sender
        self.body = body
        self.sample = sample
        self.marketing = marketing
        self.key = (
            key if key is not None else ("contact_id" if "contact_id" in contacts.columns else None)
        )
        self.journal = journal
        self._prices = dict(prices) if prices is not None else None
        self._prices_error: str | None = None
        self._plans: dict[tuple, tuple[pd.DataFrame | None, list[str], list[str]]] = {}
        self.quoted: dict[str, Any] | None = None
        self.armed: dict[str, Any] | None = None
        self.result: pd.DataFrame | None = None
        self.error: str | None = None
        self.listeners: list[Callable[[Composer], None]] = []

    # -- fields ------------------------------------------------------------------------------
    @property
    def body(self) -> str:
        return self._body

    @body.setter
    def body(self, value: str) -> None:
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise TypeError(f"body must be a str, got {type(value).__name__}")
        self._body = value
        self._changed()

    @property
    def sender(self) -> str | None:
        return self._sender

    @sender.setter
    def sender(self, value: str | None) -> None:
        self._sender = value or None
        self._changed()

    @property
    def sample(self) -> int:
        return self._sample

    @sample.setter
    def sample(self, value: int) -> None:
        n = len(self.contacts)
        if not isinstance(value, int) or (n and not 0 <= value < n):
            raise ValueError(
                f"sample must be a row position from 0 to {max(n - 1, 0)}, got {value!r}"
            )
        self._sample = value

    def _changed(self) -> None:
        # Anything that changes the plan invalidates a quote and disarms a pending send.
        if getattr(self, "armed", None) is not None:
            self.armed = None
        if getattr(self, "quoted", None) is not None:
            self.quoted = None

    # -- what the body renders to ----------------------------------------------------------
    def placeholders(self) -> list[str]:
        """The columns the body uses, in order; ``[]`` when the template is invalid."""
        try:
            return _render_module().columns(self.body)
        except Exception:
            return []

    def unknown_placeholders(self) -> list[str]:
        """Placeholders that are not columns of the frame."""
        return [c for c in self.placeholders() if c not in self.contacts.columns]

    def preview(self) -> str:
        """The body rendered for the sample row (raises PlanError when it cannot be)."""
        row = self.contacts.iloc[[self.sample]]
        return str(_render_module().render(row, self.body).iloc[0])

    def chars_left(self, text: str) -> int:
        """Characters of the body's encoding that still fit in its last part (by the
        writers' counter: a 2-unit character moved to the next part counts)."""
        segment = _segments_module().segment
        _, _, parts = segment(text)
        lo, hi = 0, 200
        while lo < hi:  # the largest k such that k more plain characters keep the parts
            mid = (lo + hi + 1) // 2
            if segment(text + "a" * mid)[2] == parts:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def non_gsm(self, text: str) -> list[str]:
        """The characters (in order of first use) outside the GSM-7 alphabet and its
        extension table: the ones that forced UCS-2."""
        seg = _segments_module()
        allowed = set(seg.GSM7_BASIC) | set(seg.GSM7_EXTENSION)
        return list(dict.fromkeys(ch for ch in text if ch not in allowed))

    def prices(self) -> dict[str, float] | None:
        """Price per part by country for the estimate: given, or asked of the API once
        (a few sample numbers per country), or None without a client."""
        if self._prices is None and self.client is not None and self._prices_error is None:
            plan = _plan_module()
            try:
                numbers = self.contacts[self.to].astype("str").str.strip()
                numbers = numbers[numbers.str.match(plan.E164).fillna(False).astype(bool)]
                self._prices = plan.account_prices(
                    self.client, numbers, plan.calling_country(numbers)
                )
            except Exception as exc:
                self._prices_error = error_text(exc, client_secrets(self.client))
        return self._prices

    def plan(self) -> pd.DataFrame | None:
        """The whole frame's plan (``csframe.writers.sms_plan``), or None when the body
        cannot be sent as is (see ``state()["problems"]``). Cached per body and sender."""
        key = (self.body, self.sender, self.to, self.marketing, self.key)
        if key not in self._plans:
            self._plans.clear()
            writers_plan = _plan_module()
            problems: list[str] = []
            notes: list[str] = []
            plan = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    plan = writers_plan.sms_plan(
                        self.contacts,
                        self.body,
                        to=self.to,
                        sender=self.sender,
                        key=self.key,
                        prices=self.prices(),
                        marketing=self.marketing,
                    )
                except Exception as exc:
                    problems = _problem_lines(exc)
            if plan is not None and plan["body"].isna().any():
                # A row that rendered to nothing must never go out. Rendering on its own
                # names the unknown columns and the rows without a value.
                rows = list(plan.index[plan["body"].isna().to_numpy(bool)])
                try:
                    _render_module().render(self.contacts, self.body)
                    problems = [f"no message could be rendered for row(s) {rows[:10]}"]
                except Exception as exc:
                    problems = _problem_lines(exc)
                plan = None
            notes = list(dict.fromkeys(str(w.message) for w in caught))
            self._plans[key] = (plan, problems, notes)
        return self._plans[key][0]

    def state(self) -> dict[str, Any]:
        """Everything the view shows, as plain values:

        ``preview`` (str or None), ``preview_error``, ``placeholders``, ``unknown``,
        ``encoding`` (gsm7/ucs2), ``units``, ``parts``, ``chars_left`` (in the last part),
        ``non_gsm`` (characters that forced UCS-2), ``recipients``, ``total_parts``,
        ``estimated_total`` (None when no prices are known), ``currency``, ``ucs2_rows``,
        ``max_parts``, ``problems`` (lines; the body cannot be sent while there are any),
        ``notes`` (warnings, e.g. no opt-out text), ``quote`` and ``armed``.
        """
        s: dict[str, Any] = {
            "body": self.body,
            "placeholders": self.placeholders(),
            "unknown": self.unknown_placeholders(),
            "preview": None,
            "preview_error": None,
            "encoding": None,
            "units": 0,
            "parts": 0,
            "chars_left": 0,
            "non_gsm": [],
            "recipients": len(self.contacts),
            "total_parts": None,
            "estimated_total": None,
            "currency": None,
            "ucs2_rows": None,
            "max_parts": None,
            "problems": [],
            "notes": [],
            "quote": self.quoted,
            "armed": self.armed,
        }
        if len(self.contacts):
            try:
                text = self.preview()
            except Exception as exc:
                s["preview_error"] = _problem_lines(exc)[0]
            else:
                encoding, units, parts = _segments_module().segment(text)
                s.update(
                    preview=text,
                    encoding=encoding,
                    units=units,
                    parts=parts,
                    chars_left=self.chars_left(text),
                    non_gsm=self.non_gsm(text) if encoding == "ucs2" else [],
                )
        if not self.body.strip():
            s["problems"] = ["Write a message."]
            return s
        plan = self.plan()
        _, problems, notes = self._plans[
            (self.body, self.sender, self.to, self.marketing, self.key)
        ]
        s["problems"], s["notes"] = problems[: MAX_PROBLEMS + 1], notes
        if self._prices_error:
            s["notes"] = [*s["notes"], f"No cost estimate: {self._prices_error}"]
        if plan is not None:
            total = plan.attrs.get("estimated_total")
            s.update(
                total_parts=int(plan["parts"].sum()),
                estimated_total=total,
                currency=plan.attrs.get("currency") or self._currency(),
                ucs2_rows=int((plan["encoding"] == "ucs2").sum()),
                max_parts=int(plan["parts"].max()) if len(plan) else 0,
            )
        return s

    def _currency(self) -> str | None:
        if self.client is None:
            return None
        try:
            return self.client.currency()
        except Exception:
            return None

    # -- API actions -------------------------------------------------------------------------
    def _need_client(self, what: str) -> None:
        if self.client is None:
            raise RuntimeError(f"{what} needs a client: composer(contacts, client=cs)")

    def _ready_plan(self) -> pd.DataFrame:
        plan = self.plan()
        if plan is None:
            problems = self._plans[(self.body, self.sender, self.to, self.marketing, self.key)][1]
            raise ValueError("the message cannot be sent as is: " + "; ".join(problems[:3]))
        return plan

    def quote(self) -> dict[str, Any]:
        """The exact price of the whole plan from the API (:func:`csframe.writers.quote`:
        ``/sms/price`` in chunks of at most 1000; nothing is sent). Returns and keeps
        ``{"total", "estimate", "difference", "currency", "messages", "parts", "refused",
        "by_status", "requests", "notes"}``."""
        self._need_client("A quote")
        plan = self._ready_plan()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            quoted = _writers().quote(self.client, plan)
        self.quoted = _quote_summary(quoted)
        self.quoted["notes"] = list(dict.fromkeys(str(w.message) for w in caught))
        return self.quoted

    def fingerprint(self) -> str:
        """The plan's identity as the send journal sees it (recipient, body, sender,
        schedule and key of every row): the same text means the same messages."""
        from csframe.writers.channels import channel_of, fingerprint, row_hashes

        plan = self._ready_plan()
        return fingerprint(row_hashes(plan, channel_of(plan)))[:16]

    def arm_send(self) -> dict[str, Any]:
        """Step 1 of 2: freeze the current plan and say what a send would do. Nothing is
        sent. Returns (and keeps as ``armed``) ``{"recipients", "parts", "estimated_total",
        "quoted_total", "currency", "sender", "fingerprint", "journal", "confirm_with"}``;
        :meth:`confirm_send` needs ``confirm_with`` (the number of recipients, as text)."""
        self._need_client("Sending")
        plan = self._ready_plan()
        fp = self.fingerprint()
        if self.journal:
            journal = Path(self.journal)
        else:
            from csframe.writers.send import default_journal_dir

            journal = default_journal_dir() / f"composer-{fp}.sqlite"
        self.armed = {
            "recipients": len(plan),
            "parts": int(plan["parts"].sum()),
            "estimated_total": plan.attrs.get("estimated_total"),
            "quoted_total": (self.quoted or {}).get("total"),
            "currency": plan.attrs.get("currency") or self._currency(),
            "sender": self.sender,
            "fingerprint": fp,
            "journal": str(journal),
            "confirm_with": str(len(plan)),
        }
        return self.armed

    def cancel_send(self) -> None:
        """Forget an armed send."""
        self.armed = None

    def confirm_send(self, confirmation: str) -> pd.DataFrame:
        """Step 2 of 2: send the armed plan, if ``confirmation`` is the number of
        recipients and the plan is still the one armed. Returns the writers' per-row
        outcome frame (also kept as ``result``); the send is journaled, so confirming the
        same plan again resumes it and never sends a message twice."""
        if self.armed is None:
            raise RuntimeError("nothing to send: call arm_send() first and check what it says")
        if str(confirmation).strip() != self.armed["confirm_with"]:
            raise ValueError(
                f"type the number of recipients ({self.armed['confirm_with']}) to confirm the send"
            )
        if self.fingerprint() != self.armed["fingerprint"]:
            self.armed = None
            raise RuntimeError("the message changed after it was armed: check it and arm again")
        plan = self._ready_plan()
        journal = Path(self.armed["journal"])
        journal.parent.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.result = _writers().send(self.client, plan, journal=journal, progress=False)
        finally:
            self.armed = None
        self.result.attrs["notes"] = list(dict.fromkeys(str(w.message) for w in caught))
        return self.result


def _problem_lines(exc: BaseException) -> list[str]:
    """A PlanError's problems as short lines (its message's lines), other errors as one."""
    text = str(exc).strip()
    lines = [ln.strip(" -•\t") for ln in text.splitlines() if ln.strip(" -•\t")]
    if len(lines) > 1:
        return lines[1:]  # the first line says "cannot plan this SMS send:"
    return lines or [type(exc).__name__]


def _quote_summary(quoted: pd.DataFrame) -> dict[str, Any]:
    """The few numbers of a quoted plan (``csframe.writers.quote``) the composer shows."""
    info = dict(quoted.attrs.get("quote") or {})
    ok = quoted["quote_status"] == "SUCCESS"
    return {
        "total": info.get("total"),
        "estimate": info.get("estimate"),
        "difference": info.get("difference"),
        "currency": info.get("currency") or quoted.attrs.get("currency"),
        "messages": len(quoted),
        "parts": int(quoted["quote_parts"].where(ok, 0).sum()),
        "refused": int(info.get("refused") or 0),
        "by_status": quoted["quote_status"].astype("str").value_counts().to_dict(),
        "requests": info.get("requests"),
    }


def highlight(text: str, chars: list[str]) -> str:
    """HTML of ``text`` with every character in ``chars`` marked (the rest escaped).

    Example::

        >>> highlight("Hi Zoë 👋", ["ë", "👋"])
        'Hi Zo<mark title="not GSM-7: forces unicode">ë</mark> <mark title="not GSM-7: forces unicode">👋</mark>'
    """
    marked = set(chars)
    out = []
    for ch in text:
        if ch in marked:
            out.append(f'<mark title="not GSM-7: forces unicode">{esc(ch)}</mark>')
        else:
            out.append(esc(ch))
    return "".join(out).replace("\n", "<br>")


class ComposerView:
    """The ipywidgets view of a :class:`Composer` (build it with
    :func:`csframe.widgets.composer`).

    Controls: ``body`` (Textarea), ``sender`` (Text), ``sample`` (row slider), buttons
    ``quote_button`` (with a client), ``send_button`` (with a client; it only arms the
    send), then ``confirm_text`` + ``confirm_button`` / ``cancel_button`` in the
    confirmation box that appears. ``preview``, ``stats``, ``problems`` and ``status`` are
    HTML. Displays itself as ``widget``.
    """

    def __init__(self, model: Composer) -> None:
        from csframe.widgets._deps import ipywidgets

        w = ipywidgets()

        self.model = model
        large = len(model.contacts) > LIVE_ROWS
        self.body = w.Textarea(
            value=model.body,
            placeholder="Hi {first_name}, ... Reply STOP to opt out",
            description="Message",
            continuous_update=not large,
            layout=w.Layout(width="100%", height="6em"),
        )
        self.sender = w.Text(
            value=model.sender or "", description="Sender", placeholder="shared number"
        )
        self.sample = w.IntSlider(
            value=model.sample,
            min=0,
            max=max(len(model.contacts) - 1, 0),
            description="Preview row",
            continuous_update=False,
        )
        columns = ", ".join("{" + str(c) + "}" for c in model.contacts.columns[:30])
        self.columns = w.HTML(f"<small>Placeholders: {esc(columns)}</small>")
        self.preview = w.HTML()
        self.stats = w.HTML()
        self.problems = w.HTML()
        self.status = w.HTML()
        self.confirmation = w.HTML()
        self.quote_button = w.Button(
            description="Quote", icon="calculator", disabled=model.client is None
        )
        self.send_button = w.Button(
            description="Send…",
            icon="paper-plane",
            button_style="danger",
            disabled=model.client is None,
        )
        self.confirm_text = w.Text(description="Type", placeholder="number of recipients")
        self.confirm_button = w.Button(
            description="Confirm send", button_style="danger", disabled=True
        )
        self.cancel_button = w.Button(description="Cancel")
        self.confirm_box = w.VBox(
            [
                self.confirmation,
                w.HBox([self.confirm_text, self.confirm_button, self.cancel_button]),
            ],
            layout=w.Layout(display="none"),
        )
        buttons = [self.quote_button, self.send_button] if model.client is not None else []
        self.widget = w.VBox(
            [
                self.columns,
                self.body,
                w.HBox([self.sender, self.sample]),
                self.preview,
                self.stats,
                self.problems,
                w.HBox(buttons),
                self.confirm_box,
                self.status,
            ]
        )
        self.body.observe(self._on_body, names="value")
        self.sender.observe(self._on_sender, names="value")
        self.sample.observe(self._on_sample, names="value")
        self.confirm_text.observe(lambda _c: self._sync_confirm(), names="value")
        self.quote_button.on_click(lambda _b: self.do_quote())
        self.send_button.on_click(lambda _b: self.do_arm())
        self.confirm_button.on_click(lambda _b: self.do_confirm())
        self.cancel_button.on_click(lambda _b: self.do_cancel())
        self.render()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- events ------------------------------------------------------------------------------
    def _on_body(self, change: dict[str, Any]) -> None:
        self.model.body = change["new"]
        self.render()

    def _on_sender(self, change: dict[str, Any]) -> None:
        self.model.sender = change["new"].strip() or None
        self.render()

    def _on_sample(self, change: dict[str, Any]) -> None:
        self.model.sample = int(change["new"])
        self.render()

    def _secrets(self) -> tuple[str, ...]:
        return client_secrets(self.model.client)

    def do_quote(self) -> None:
        """The Quote button."""
        self.model.error = None
        try:
            self.model.quote()
        except Exception as exc:
            self.model.error = error_text(exc, self._secrets())
        self.render()

    def do_arm(self) -> None:
        """The Send… button: arms the send and opens the confirmation step."""
        self.model.error = None
        try:
            self.model.arm_send()
        except Exception as exc:
            self.model.error = error_text(exc, self._secrets())
        self.confirm_text.value = ""
        self.render()

    def do_confirm(self) -> None:
        """The Confirm send button."""
        self.model.error = None
        try:
            self.model.confirm_send(self.confirm_text.value)
        except Exception as exc:
            self.model.error = error_text(exc, self._secrets())
        self.render()

    def do_cancel(self) -> None:
        """The Cancel button."""
        self.model.cancel_send()
        self.render()

    def _sync_confirm(self) -> None:
        armed = self.model.armed
        self.confirm_button.disabled = not (
            armed is not None and self.confirm_text.value.strip() == armed["confirm_with"]
        )

    # -- rendering ---------------------------------------------------------------------------
    def render(self) -> None:
        m = self.model
        s = m.state()
        if s["preview"] is not None:
            self.preview.value = (
                '<div style="border:1px solid #ccc;border-radius:8px;padding:6px 10px;'
                f'max-width:40em;background:#f6f8fa">{highlight(s["preview"], s["non_gsm"])}</div>'
            )
        else:
            self.preview.value = f"<i>{esc(s['preview_error'] or 'No preview')}</i>"
        parts = []
        if s["encoding"]:
            enc = "GSM-7" if s["encoding"] == "gsm7" else "Unicode (UCS-2)"
            parts.append(
                f"{enc} · {s['units']} {'characters' if s['encoding'] == 'gsm7' else 'units'} · "
                f"{s['parts']} part{'s' if s['parts'] != 1 else ''} · {s['chars_left']} left in this part"
            )
            if s["non_gsm"]:
                parts.append("Unicode because of: " + " ".join(s["non_gsm"]))
        if s["total_parts"] is not None:
            cur = f"{s['currency']} " if s["currency"] else ""
            est = (
                "no estimate (no prices)"
                if s["estimated_total"] is None
                else f"≈ {cur}{s['estimated_total']:,.2f}"
            )
            parts.append(
                f"{s['recipients']:,} recipients · {s['total_parts']:,} parts · {est}"
                + (f" · {s['ucs2_rows']:,} in unicode" if s["ucs2_rows"] else "")
            )
        if s["quote"]:
            q = s["quote"]
            cur = f"{q['currency']} " if q.get("currency") else ""
            total = "?" if q.get("total") is None else f"{q['total']:,.2f}"
            line = f"Quoted by the API: {cur}{total} for {q['messages']:,} messages"
            if q.get("refused"):
                line += f" ({q['refused']:,} would be refused)"
            parts.append(line)
        self.stats.value = "<br>".join(esc(p) for p in parts)
        lines = [*s["problems"], *s["notes"], *((s["quote"] or {}).get("notes") or [])]
        if s["unknown"]:
            lines.insert(0, f"Unknown placeholder(s): {', '.join(s['unknown'])}")
        if m.error:
            lines.insert(0, m.error)
        self.problems.value = "".join(f'<div style="color:#b00020">{esc(x)}</div>' for x in lines)
        sendable = not s["problems"] and m.client is not None
        self.quote_button.disabled = not sendable
        self.send_button.disabled = not sendable or m.armed is not None
        self.body.disabled = m.armed is not None
        self.sender.disabled = m.armed is not None
        if m.armed is not None:
            a = m.armed
            cur = f"{a['currency']} " if a["currency"] else ""
            cost = a["quoted_total"] if a["quoted_total"] is not None else a["estimated_total"]
            how = "quoted" if a["quoted_total"] is not None else "estimated"
            cost_text = "unknown cost" if cost is None else f"{how} {cur}{cost:,.2f}"
            self.confirmation.value = (
                f"<b>Send {a['recipients']:,} messages ({a['parts']:,} parts, {esc(cost_text)}) "
                f"from {esc(a['sender'] or 'a shared number')}?</b> This cannot be undone. "
                f"Type {a['recipients']} to confirm. Journal: <code>{esc(a['journal'])}</code>"
            )
            self.confirm_box.layout.display = "flex"
        else:
            self.confirmation.value = ""
            self.confirm_box.layout.display = "none"
        self.status.value = "" if m.result is None else f"<b>{esc(_result_line(m.result))}</b>"
        self._sync_confirm()


def _result_line(result: pd.DataFrame) -> str:
    counts = result["outcome"].astype("str").value_counts() if "outcome" in result else {}
    text = "Sent: " + ", ".join(f"{v:,} {k}" for k, v in dict(counts).items())
    stopped = result.attrs.get("stopped")
    return text + (f" (stopped: {stopped})" if stopped else "")
