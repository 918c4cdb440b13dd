"""Logging set-up: one JSON object per line (or plain text), with secrets scrubbed.

Secrets must never reach a log: API keys, passwords and their hashes, upstream panels' keys.
The code never logs them on purpose; the scrubber is the second line, for what a library puts
in an exception message (SQLAlchemy prints statement parameters, an HTTP client prints URLs
with ``?key=…``). It replaces anything shaped like a key (32+ letters and digits), an argon2
hash, and the value of any ``key=``/``password=``/``token=`` pair.
"""

from __future__ import annotations

import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from opensmm.settings import Settings, get_settings

REDACTED = "[redacted]"
_SECRETS = re.compile(
    r"\$argon2[a-z]*\$[^\s'\"]+"  # password hashes
    r"|(?<![A-Za-z0-9])[A-Za-z0-9]{32,}(?![A-Za-z0-9])"  # API keys, key hashes, tokens
)
_PAIRS = re.compile(
    r"(?i)((?:api_?)?key|password|passwd|secret|token|authorization)(['\"]?\s*[=:]\s*['\"]?)"
    r"(?!\[redacted\])([^\s&'\",;}]+)"
)


def scrub(text: str) -> str:
    return _PAIRS.sub(r"\1\2" + REDACTED, _SECRETS.sub(REDACTED, text))


# Attributes every LogRecord has; anything else was passed with ``extra=`` and is a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


# A record whose fields were built from known-safe values (the request log line: ids, enums,
# numbers, an already scrubbed message) carries them here and skips the scrubber, which costs
# more than the rest of the line: one is written per request.
SAFE_FIELDS = "_safe_fields"


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        safe = record.__dict__.get(SAFE_FIELDS)
        if safe is not None and not record.exc_info:
            data.update(safe)
            return orjson.dumps(data, default=str).decode()
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                data[name] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        line = orjson.dumps(data, default=str).decode()
        return scrub(line)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__.get(SAFE_FIELDS) or {
            name: value
            for name, value in record.__dict__.items()
            if name not in _STANDARD and not name.startswith("_")
        }
        extra = " ".join(f"{name}={value}" for name, value in fields.items())
        line = super().format(record)
        return scrub(f"{line} {extra}" if extra else line)


def formatter_for(settings: Settings | None = None) -> logging.Formatter:
    settings = settings or get_settings()
    return TextFormatter() if settings.log_format == "text" else JsonFormatter()


def logging_config(settings: Settings) -> dict[str, Any]:
    """A ``dictConfig`` for the whole process, uvicorn's own loggers included (uvicorn's
    access log stays off: a GET request's URL carries the API key)."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            # A factory, not an object: uvicorn hands this dict to its worker processes.
            "opensmm": {"()": "opensmm.observability.logs.formatter_for"}
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "opensmm",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
