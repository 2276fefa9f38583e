"""Logging for the served gateway: one handler (text or JSON lines), quiet libraries, the access log.

`configure_logging` owns the process's logging: one stderr handler on the root logger whose
format is `server.log_format`; uvicorn's loggers propagate to it (serve passes
`log_config=None`), httpx2's per-call `HTTP Request: ...` INFO line is silenced. The access log
is a `RequestObserver`: one line per request on logger `adaptive_proxy.access` at INFO, enabled
by `server.access_log` whatever `server.log_level` says. Every other line passes the redaction
filter (adapters/redaction.py) in the log-record factory; an access line's client-supplied
fields pass the same `redact` before the line is written.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
from typing import Any

import orjson

from adapters.redaction import redact
from application.settings import ServerSettings
from domain.telemetry import RequestRecord

ACCESS_LOGGER = "adaptive_proxy.access"
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
QUIET_LOGGERS = ("httpx2", "httpx", "httpcore", "hpack")  # per-call INFO/DEBUG lines nobody acts on


_second: list[Any] = [-1, ""]  # the last whole second formatted, and its text


def _iso(created: float) -> str:
    whole = int(created)
    if whole != _second[0]:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (+ exc). An access line is already one."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "json_line", False):
            return record.getMessage()
        line: dict[str, Any] = {"ts": _iso(record.created), "level": record.levelname, "logger": record.name,
                                "message": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return orjson.dumps(line).decode()


def configure_logging(server: ServerSettings) -> None:
    """Install the one handler, the level, the quiet libraries and the access logger's level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if server.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(server.log_level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO if server.access_log else logging.WARNING)


def access_fields(record: RequestRecord) -> dict[str, Any]:
    """The access line's fields, in order; empty ones left out."""
    fields: dict[str, Any] = {
        "request_id": record.request_id, "method": record.method, "route": record.route, "family": record.family,
        "status": record.status, "outcome": record.outcome, "error": record.error_kind,
        "key_id": record.key_id, "org": record.organization_id, "selection": record.selection_source,
        "provider": record.provider, "model": record.model, "requested_model": record.requested_model,
        "attempts": ",".join(record.attempts) or None, "fallbacks": record.fallbacks or None,
        "stream": record.streamed or None,
        "total_ms": round(record.total_ms, 2), "upstream_ms": round(record.upstream_ms, 2) if record.chat else None,
        "overhead_ms": round(record.overhead_ms, 2) if record.chat else None,
        "ttft_ms": None if record.ttft_ms is None else round(record.ttft_ms, 2),
        "tokens_in": record.input_tokens or None, "tokens_cached": record.cached_tokens or None,
        "tokens_out": record.output_tokens or None, "tokens_reasoning": record.reasoning_tokens or None,
        "cost_usd": None if record.cost_usd is None else float(record.cost_usd),
        "cache": record.cache_tier,
    }
    return {k: v for k, v in fields.items() if v is not None and v != ""}


def _text_value(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return orjson.dumps(text).decode() if (" " in text or '"' in text or "=" in text) else text


# The fields a client (or an upstream) can put text into; the rest are numbers and config names.
CLIENT_FIELDS = ("request_id", "route", "requested_model", "model", "attempts", "org")


@functools.lru_cache(maxsize=4096)
def _clean(text: str) -> str:
    return redact(text)


def _clean_id(request_id: str) -> str:
    """Generated ids (32 hex digits) cannot carry a secret; a client's own id is redacted."""
    return request_id if len(request_id) == 32 and _HEX.fullmatch(request_id) else redact(request_id)


_HEX = re.compile(r"[0-9a-f]{32}")


class AccessLog:
    """The access log: a `RequestObserver` writing one line per finished request.

    The line's client-supplied fields pass `redact` one by one (cached: routes and model names
    repeat), so the whole line need not go through the record-factory filter again: the record
    is built here and handed to the logger's handlers directly. This keeps a line at a few
    microseconds (bench/run.py --telemetry).
    """

    def __init__(self, log_format: str = "text", logger: logging.Logger | None = None) -> None:
        self._json = log_format == "json"
        self._log = logger or logging.getLogger(ACCESS_LOGGER)
        self._template: dict[str, Any] | None = None

    def observe(self, record: RequestRecord) -> None:
        if not self._log.isEnabledFor(logging.INFO):
            return
        fields = access_fields(record)
        for name in CLIENT_FIELDS:
            value = fields.get(name)
            if value is not None:
                fields[name] = _clean(value) if name != "request_id" else _clean_id(value)
        if self._json:
            line = orjson.dumps({"ts": _iso(time.time()), "level": "INFO", "logger": self._log.name,
                                 **fields}).decode()
        else:
            line = " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
        self._log.handle(self._entry(line))

    def _entry(self, line: str) -> logging.LogRecord:
        """A LogRecord for `line`: a copy of one made once, with the message and times set (the
        standard constructor's process/thread/path look-ups are the same for every access line)."""
        template = self._template
        if template is None:
            template = self._template = logging.LogRecord(self._log.name, logging.INFO, __file__, 0, "", None,
                                                          None).__dict__
            template["json_line"] = self._json
        entry = logging.LogRecord.__new__(logging.LogRecord)
        entry.__dict__.update(template)
        now = time.time()
        entry.msg, entry.created, entry.msecs = line, now, now % 1 * 1000
        entry.relativeCreated = (now - logging._startTime) * 1000  # type: ignore[attr-defined]
        return entry
