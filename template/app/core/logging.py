"""Log lines: one JSON object per line in production, readable lines in
development; every line names the request it belongs to.

The standard library does the plumbing (uvicorn, SQLAlchemy and the app all
log through it); this module only formats. structlog would give the app a
second logging API for what is a dozen lines of formatting.
"""

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from app.core.config import Settings
from app.core.middleware import request_id

# What an access line (app.core.middleware.AccessLog) carries beside its message.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
# LOG_LEVEL is for these loggers and those below them (a module's
# logging.getLogger(__name__) in app/ is one). Every other library logs from
# WARNING up: at INFO and DEBUG the database libraries write each SQL statement
# with its parameters, personal data included.
LOGGERS_AT_LOG_LEVEL = ("app", "uvicorn")


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request being served ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, request id,
    the access fields when it has them, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """The app's and uvicorn's lines, through one handler on stderr.

    uvicorn's own access line gives way to the app's, which knows the request
    id and the duration.
    """
    production = settings.environment == "production"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"request_id": {"()": RequestIdFilter}},
            "formatters": {
                "json": {"()": JsonFormatter},
                "readable": {
                    "format": "%(asctime)s %(levelname)-8s %(name)s "
                    "[%(request_id)s] %(message)s"
                },
            },
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "stream": "ext://sys.stderr",
                    "formatter": "json" if production else "readable",
                    "filters": ["request_id"],
                }
            },
            "root": {"handlers": ["stderr"], "level": "WARNING"},
            "loggers": {
                **{
                    name: {
                        "handlers": [],
                        "propagate": True,
                        "level": settings.log_level,
                    }
                    for name in LOGGERS_AT_LOG_LEVEL
                },
                "uvicorn.access": {"handlers": [], "propagate": False},
            },
        }
    )
