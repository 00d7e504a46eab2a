"""Errors of the sync core.

SyncError                         the root
├── SettingsError (ValueError)    invalid settings file or R4 violation; names the school and rule
├── FetchError                    eSD could not be read completely and consistently (R11): abort
│   ├── AuthError                 the token endpoint refused the credentials
│   ├── UrlError (ValueError)     the base URL leads to no eSD API (not a URL, or no token endpoint there)
│   ├── UnreachableError          no answer at all (refused, reset, timed out, TLS), after the retries
│   └── TooLargeError             an answer passed max_response_bytes, decoded: not retried
├── RecordError (FetchError)      a record does not have the contract's shape; names endpoint, id, field
└── StateError                    the Operoo database is unusable (newer schema, not a database, read-only)
    ├── BusyError                 another sync holds the database's lock
    └── WriteError                the database could not be written (a full disk); nothing was changed
"""

from __future__ import annotations


class SyncError(Exception):
    """Root of the sync core's errors."""


class SettingsError(SyncError, ValueError):
    """The settings are invalid; nothing was changed."""


class FetchError(SyncError):
    """eSD could not be read completely and consistently; the sync aborts and changes nothing."""


class AuthError(FetchError):
    """The token endpoint refused the client credentials."""


class UrlError(FetchError, ValueError):
    """The base URL is not a URL, or has no token endpoint under it: a usage error, never retried."""


class UnreachableError(FetchError):
    """The server gave no answer at all (refused, reset, timed out, a certificate not trusted), after the retries."""


class TooLargeError(FetchError):
    """An answer's body, decoded, passed max_response_bytes; reading stopped there (a sync aborts, R11)."""


class RecordError(FetchError):
    """A record from eSD is malformed; the message names the field and the type, never the value."""

    def __init__(self, endpoint: str, record_id: object, field: str, reason: str) -> None:
        super().__init__(f"{endpoint}: record {record_id}: field {field!r}: {reason}")
        self.endpoint, self.record_id, self.field, self.reason = endpoint, record_id, field, reason


class StateError(SyncError):
    """The Operoo state database cannot be used."""


class IdentityConflict(FetchError):
    """eSD's data would give one Operoo ID to two persons; the sync aborts."""


class BusyError(StateError):
    """Another sync is running on the same database; this one did nothing."""


class WriteError(StateError):
    """The Operoo database could not be written (a full disk, a disk quota); nothing was changed."""
