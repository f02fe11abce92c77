"""Structured JSON logs through the standard `logging` module, with secrets scrubbed.

Each record is one JSON object on one line:

    {"time": "2024-05-01T10:00:00Z", "level": "info", "logger": "scaler.gitops",
     "msg": "applied revision main@sha1:...", "event": "applied",
     "revision": "main@sha1:...", "digest": "sha256:..."}

Fields come from `extra={"fields": {...}}`. A `RedactingFilter` replaces every known secret
(and URL user info) in the message and the fields before any handler sees the record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import IO, Any

from scaler.times import rfc3339

LOGGER_NAME = "scaler.gitops"
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def event(log: logging.Logger, level: int, msg: str, name: str, **fields: Any) -> None:
    """Log `msg` with an `event` name and fields (kept as JSON values)."""
    log.log(level, msg, extra={"fields": {"event": name, **fields}})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "fields" and not key.startswith("_"):
                doc.setdefault(key, value)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(doc, default=str, ensure_ascii=False)


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a record's message, arguments and fields."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: self._scrub(v) for k, v in fields.items()}
        return True

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        return value


def configure_json_logging(
    stream: IO[str], redact: Callable[[str], str] | None = None, level: int = logging.INFO
) -> logging.Handler:
    """Send the gitops logger's records to `stream` as JSON lines; returns the handler."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    if redact is not None:
        handler.addFilter(RedactingFilter(redact))
    log = logger()
    for old in [h for h in log.handlers if getattr(h, "_scaler_json", False)]:
        log.removeHandler(old)  # configured again (another command in the same process)
    handler._scaler_json = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    return handler
