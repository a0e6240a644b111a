"""What each channel's plan sends: request payloads, price/send paths, the plan's identity.

A plan's *identity* is what its rows put out (row key, recipient, body, sender,
schedule, subject, media): :func:`row_hashes` hashes it per row so a journal can tell
that a rerun is given the same plan (and which rows differ when it is not).

Example::

    ch = channel_of(plan)            # SMS (from plan.attrs["channel"])
    msgs = ch.messages(plan, [0, 1, 2], ["csf1.0", "csf1.1", "csf1.2"])
    ch.payload(msgs, media_url=None) # {"messages": [...]}
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from csframe.writers._common import PlanError

SOURCE = "csframe"


@dataclass(frozen=True)
class Channel:
    name: str
    send_path: str
    price_path: str
    identity: tuple[str, ...]  # plan columns that say what a row sends
    fields: tuple[tuple[str, str], ...]  # (plan column, API message field)

    def columns(self, plan: pd.DataFrame) -> dict[str, np.ndarray]:
        """The plan's message columns as object arrays (read once per send)."""
        out: dict[str, np.ndarray] = {}
        for col, _ in self.fields:
            values = plan[col]
            if col == "schedule":
                arr = values.astype("Int64").to_numpy(dtype=object, na_value=None)
            else:
                arr = values.to_numpy(dtype=object, na_value=None)
            out[col] = arr
        return out

    def messages(
        self, cols: dict[str, np.ndarray], positions: Sequence[int], custom: Sequence[str]
    ) -> list[dict[str, Any]]:
        msgs = []
        for pos, cs in zip(positions, custom, strict=True):
            m: dict[str, Any] = {}
            for col, field in self.fields:
                v = cols[col][pos]
                if v is not None:
                    m[field] = int(v) if col == "schedule" else v
            m["custom_string"] = cs
            m["source"] = SOURCE
            msgs.append(m)
        return msgs

    def payload(self, messages: list[dict[str, Any]], media_url: str | None = None) -> dict:
        if self.name == "mms":
            return {"media_file": media_url, "messages": messages}
        return {"messages": messages}


SMS = Channel(
    "sms",
    "/sms/send",
    "/sms/price",
    ("row_key", "to", "body", "sender", "schedule"),
    (("to", "to"), ("body", "body"), ("sender", "from"), ("schedule", "schedule")),
)
MMS = Channel(
    "mms",
    "/mms/send",
    "/mms/price",
    ("row_key", "to", "subject", "body", "sender", "schedule"),
    (
        ("to", "to"),
        ("subject", "subject"),
        ("body", "body"),
        ("sender", "from"),
        ("schedule", "schedule"),
    ),
)
CHANNELS = {"sms": SMS, "mms": MMS}


def channel_of(plan: Any) -> Channel:
    """The channel of a plan made by ``sms_plan`` / ``mms_plan`` (checks its columns)."""
    if not isinstance(plan, pd.DataFrame):
        raise PlanError(
            f"expected a plan DataFrame from csframe.writers.sms_plan(), got {type(plan).__name__}"
        )
    name = plan.attrs.get("channel")
    if name == "email":
        raise PlanError(
            "email plans cannot be sent by send() yet: a transactional email carries no "
            "custom_string, so a lost answer could not be resolved without risking a second "
            "email. For a list, use send_campaign(kind='email')."
        )
    if name not in CHANNELS:
        raise PlanError(
            "this frame is not a plan (plan.attrs['channel'] is missing): build it with "
            "csframe.writers.sms_plan() or mms_plan(); pandas drops attrs in some operations, "
            "e.g. concat of frames with different attrs"
        )
    ch = CHANNELS[name]
    missing = [c for c in ch.identity if c not in plan.columns]
    if missing:
        raise PlanError(f"the {name} plan lacks column(s) {missing}; rebuild it with {name}_plan()")
    return ch


def row_hashes(plan: pd.DataFrame, channel: Channel, media: str | None = None) -> np.ndarray:
    """One int64 per row over the row's identity columns (and the plan's media file)."""
    ident = plan[list(channel.identity)].copy()
    for col in ident.columns:
        ident[col] = ident[col].astype("str").fillna("\x00")
    if media is not None:
        ident["media"] = media
    h = pd.util.hash_pandas_object(ident, index=False).to_numpy()
    return h.view(np.int64)


def fingerprint(hashes: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(hashes).tobytes()).hexdigest()[:32]
