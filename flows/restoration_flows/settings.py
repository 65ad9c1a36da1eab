"""Prefect settings for a clean, zero-setup run. Must run before prefect is imported.

Only defaults are set: a user's own environment or profile wins.
"""

from __future__ import annotations

import os

QUIET = {
    # Telemetry cannot reach its host here and would print an ERROR at every start.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # A fresh PREFECT_HOME migrates its SQLite database before the temporary API answers.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    # The library's own log lines go to the Prefect run logs (and so to the UI).
    "PREFECT_LOGGING_EXTRA_LOGGERS": "restoration",
    # ...and outside a flow run (the Python API after a CLI call) they just stay local.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}
CONSOLE_QUIET = {
    # The console shows our progress and one line per failure; tracebacks go to the Prefect logs.
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_HANDLERS_DEBUG_LEVEL": "CRITICAL",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
}


def configure(*, debug: bool = False) -> None:
    """Set the Prefect defaults (:data:`QUIET`, and :data:`CONSOLE_QUIET` unless ``debug``) where the
    environment does not already set them.
    """
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
    if not debug:
        for key, value in CONSOLE_QUIET.items():
            os.environ.setdefault(key, value)
