"""Keep credentials out of logs, botocore's wire-level DEBUG output included.

scaler never logs credentials itself. botocore does at DEBUG: the signed request it sends
carries the `Authorization` header (with the access key ID) and `X-Amz-Security-Token` (the
session token IRSA and Pod Identity hand out). A filter on the AWS libraries' loggers rewrites
such records before any handler sees them.
"""

from __future__ import annotations

import logging
import re

REDACTED = "<redacted>"
_PATTERNS = (
    # Header values, however the dict or bytes repr quotes them.
    re.compile(
        r"""(?i)((?:authorization|x-amz-security-token|x-amz-credential|x-amz-signature)"""
        r"""['"]?\s*[:=]\s*b?['"]?)([^'",}\s]+(?:\s[^'",}]+)*)"""
    ),
    # Credential fields as botocore, the shared config or JSON name them.
    re.compile(
        r"""(?i)((?:aws_secret_access_key|secretaccesskey|secret_key|aws_session_token|"""
        r"""sessiontoken|session_token|(?<![a-z_])token)['"]?\s*[:=]\s*b?['"]?)([^'",}\s]+)"""
    ),
    # Access key IDs anywhere (AKIA: long-term, ASIA: temporary).
    re.compile(r"()\b((?:AKIA|ASIA)[A-Z0-9]{12,})\b"),
)
# Libraries whose loggers may see credentials.
_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer", "scaler")


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with credentials masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactingFilter()


def protect_loggers() -> None:
    """Attach the filter to every existing logger of the AWS libraries (idempotent).

    A logger's filters run only for records created on that logger, so each module logger
    gets it; call again after new AWS modules are imported (making a client does that).
    """
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in _LIBRARIES
    ]
    for name in (*_LIBRARIES, *names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
