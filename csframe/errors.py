"""Exception hierarchy for ClickSend API failures.

Every error carries the HTTP status, the API's ``response_code`` and ``response_msg``
so callers can branch on them. None of them ever holds credentials: messages are built
from the response envelope and the request path only.

Example::

    try:
        cs.account()
    except csframe.errors.AuthenticationError as exc:
        print(exc.status, exc.response_code)
"""

from __future__ import annotations

from typing import Any


class CsframeError(Exception):
    """Base class of every csframe error."""


class ConfigurationError(CsframeError, ValueError):
    """Missing or invalid configuration (credentials, base URL, arguments)."""


class ApiError(CsframeError):
    """The API answered with a failure envelope (or a failure status)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        response_code: str | None = None,
        response_msg: str | None = None,
        method: str | None = None,
        path: str | None = None,
        data: object = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.response_code = response_code
        self.response_msg = response_msg
        self.method = method
        self.path = path
        self.data = data

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, response_code={self.response_code!r}, "
            f"response_msg={self.response_msg!r}, path={self.path!r})"
        )


class AuthenticationError(ApiError):
    """401: INVALID_CREDENTIALS or MISSING_CREDENTIALS."""


class AccountError(ApiError):
    """403: account not activated, banned, or not allowed to do this."""


class InsufficientCredit(ApiError):
    """The account has no credit left for this send."""


class NotFound(ApiError):
    """404: the path or the resource does not exist."""


class ValidationError(ApiError):
    """400 and the field-level application codes (INVALID_RECIPIENT, EMPTY_MESSAGE, ...)."""


class RateLimited(ApiError):
    """429 after the retry budget was spent. ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx, a dropped connection or an unreadable body after the retry budget was spent."""


class TruncatedResponse(ServerError):
    """A body that does not parse, or lacks the API's envelope (cut short on the way):
    transient, retried, never cached."""


class ClientClosed(CsframeError, RuntimeError):
    """The client was closed (``close()``) before or while this request ran."""


# Application codes (the reference's "Application Status Codes") that mean the request
# itself was wrong, whatever HTTP status carried them.
VALIDATION_CODES = frozenset(
    {
        "BAD_REQUEST",
        "INVALID_RECIPIENT",
        "INVALID_SENDER_ID",
        "EMPTY_MESSAGE",
        "TOO_MANY_RECIPIENTS",
        "MISSING_REQUIRED_FIELDS",
        "INVALID_SCHEDULE",
        "INVALID_LANG",
        "INVALID_VOICE",
        "SUBJECT_REQUIRED",
        "INVALID_MEDIA_FILE",
        "COUNTRY_NOT_ENABLED",
        "ALREADY_EXISTS",
        "REGISTRATION_NEEDED",
        "THROTTLED",
    }
)


def error_for(
    status: int | None,
    response_code: str | None,
    response_msg: str | None,
    *,
    method: str | None = None,
    path: str | None = None,
    data: object = None,
    retry_after: float | None = None,
) -> ApiError:
    """Map an HTTP status and an API envelope to the most specific exception.

    Example::

        >>> type(error_for(401, "INVALID_CREDENTIALS", "bad key")).__name__
        'AuthenticationError'
    """
    code = (response_code or "").upper()
    where = f"{method} {path}" if method and path else (path or "request")
    text = f"{where} failed: HTTP {status} {code or '-'}: {response_msg or 'no message'}"
    kw: dict[str, Any] = dict(
        status=status,
        response_code=response_code,
        response_msg=response_msg,
        method=method,
        path=path,
        data=data,
    )
    if code in {"INVALID_CREDENTIALS", "MISSING_CREDENTIALS", "UNAUTHORIZED"} or status == 401:
        return AuthenticationError(text, **kw)
    if code == "INSUFFICIENT_CREDIT":
        return InsufficientCredit(text, **kw)
    if code in {"ACCOUNT_NOT_ACTIVATED", "FORBIDDEN", "NOT_ENOUGH_PERMISSION_TO_LIST_ID"} or (
        status == 403
    ):
        return AccountError(text, **kw)
    if status == 429 or code == "TOO_MANY_REQUESTS":
        return RateLimited(text, retry_after=retry_after, **kw)
    if status == 404 or code == "NOT_FOUND":
        return NotFound(text, **kw)
    if code in VALIDATION_CODES or status in (400, 405, 422):
        return ValidationError(text, **kw)
    if status is not None and status >= 500:
        return ServerError(text, **kw)
    return ApiError(text, **kw)
