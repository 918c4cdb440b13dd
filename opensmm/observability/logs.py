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
import time
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


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def _json_head(created: float, level: str, logger: str, msg: str) -> dict[str, Any]:
    """The fields every JSON line starts with."""
    return {"ts": _timestamp(created), "level": level.lower(), "logger": logger, "msg": msg}


def json_line(created: float, level: str, logger: str, msg: str, fields: dict[str, Any]) -> str:
    """A line of the JSON format from known-safe fields (not scrubbed)."""
    return orjson.dumps({**_json_head(created, level, logger, msg), **fields}, default=str).decode()


_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def text_line(created: float, level: str, logger: str, msg: str, fields: dict[str, Any]) -> str:
    """A line of the text format from known-safe fields (not scrubbed)."""
    local = time.localtime(created)
    stamp = f"{time.strftime('%Y-%m-%d %H:%M:%S', local)},{int(created % 1 * 1000):03d}"
    extra = " ".join(f"{name}={value}" for name, value in fields.items())
    line = f"{stamp} {level} {logger}: {msg}"
    return f"{line} {extra}" if extra else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = _json_head(record.created, record.levelname, record.name, record.getMessage())
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                data[name] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        line = orjson.dumps(data, default=str).decode()
        return scrub(line)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        fields = {
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
