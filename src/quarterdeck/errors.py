"""Errors that Quarterdeck raises, split by who can act on them.

    QuarterdeckError          every error of this package; ``str(err)`` is the user-facing message
    ├── InputError            the user gave something unreadable: a file, a flag, a date
    │   ├── RejectsExceeded   an import found more bad rows than ``--max-rejects`` allows
    │   └── NotFound          no such record (or none the reader may see): a deal, an item
    ├── DataError             the data is readable but contradicts itself or the store
    ├── ConfigError           a setting, mapping file or database URL is wrong or missing
    │   └── MissingExtra      an optional integration is not installed (says the pip command)
    └── InternalError         a bug in Quarterdeck, not something the user can fix

The CLI prints the message of any ``QuarterdeckError`` on one line and exits non-zero;
errors of the libraries below (DuckDB, Arrow, Ibis) are translated where they are caught.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "InputError",
    "InternalError",
    "LoginRefused",
    "MissingExtra",
    "NotAllowed",
    "NotFound",
    "QuarterdeckError",
    "RejectsExceeded",
]


class QuarterdeckError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


class InputError(QuarterdeckError):
    """Something the user supplied cannot be read as given."""

    exit_code = 2


class RejectsExceeded(InputError):
    """An import had more rejected rows than allowed; nothing was written."""

    def __init__(
        self, message: str, rejects_path: str | None = None, summary: str | None = None
    ) -> None:
        super().__init__(message)
        self.rejects_path = rejects_path
        self.summary = summary or message
        """The counts alone, without the file's path or the command's advice (for pages
        that show the rejected rows themselves)."""


class NotFound(InputError):
    """The record asked for does not exist, or lies outside what the reader may see (the
    two are told apart nowhere, so ids cannot be probed)."""


class LoginRefused(InputError):
    """A log-in was refused. The message is the same for an unknown email, a wrong
    password and a disabled login, so it tells a guesser nothing; ``retry_after`` (seconds)
    is set while the email or the client is locked out after too many failures."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotAllowed(InputError):
    """The viewer's role does not allow the action (``Viewer.can``)."""

    def __init__(self, message: str, action: str | None = None) -> None:
        super().__init__(message)
        self.action = action


class DataError(QuarterdeckError):
    """The data contradicts itself or what the store already holds."""

    exit_code = 3


class ConfigError(QuarterdeckError):
    """A setting, mapping or connection is wrong or missing."""

    exit_code = 4


class MissingExtra(ConfigError):
    """An optional dependency is missing; the message names the exact install command."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs an optional extra: run  pip install 'quarterdeck[{extra}]'"
        )
        self.extra = extra


class InternalError(QuarterdeckError):
    """A bug: please report it with the command that caused it."""

    exit_code = 70
