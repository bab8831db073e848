"""Structured JSON logs, one object per line on stderr.

Access lines carry method, route, status, duration, request id and a key *fingerprint*
(sha256 prefix), never the key, the request body or any patient text. Library messages
that could quote input (the linker's, the diagnoser's) are logged by their modules at
DEBUG only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of ``msg`` with terminal colour codes
}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra}`` as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line, with its ``extra`` fields."""
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _RESERVED and not k.startswith("_"):
                out[k] = v
        if record.exc_info and record.levelno >= logging.ERROR:
            out["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(out, default=str)


def configure(level: str = "INFO", stream: Any = None) -> None:
    """JSON lines on ``stream`` (stderr) for kgrag and uvicorn at ``level``, other libraries at WARNING.

    Uvicorn's own access log (which prints the query string) is replaced by kgrag's.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("kgrag", "uvicorn", "uvicorn.error"):
        log = logging.getLogger(name)
        log.handlers = [handler]
        log.setLevel(level.upper())
        log.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
    root = logging.getLogger()  # everything else (mcp, httpx, ...): JSON, warnings and up
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
