"""Errors split the way an operator acts on them.

Transient errors may succeed on retry (a server restarting, a lock held); terminal errors
will fail again until someone changes the data, the config or the code, so they say what is
wrong, where, and what to do.
"""


class HeadwaterError(Exception):
    """Base class of every error Headwater raises on purpose."""


class TransientError(HeadwaterError):
    """A retry may fix this."""


class TerminalError(HeadwaterError):
    """A retry will not fix this: bad config, bad data or a broken contract."""


class SpecError(TerminalError):
    """A pipeline spec is invalid."""


class ConfigError(TerminalError):
    """A setting (URL, path, environment variable) is invalid."""


class SourceError(TerminalError):
    """The source is missing something the spec expects."""


class RejectedRowsError(TerminalError):
    """Too many rows of a batch could not be read: the delivery needs a look."""


class WarehouseUnreachable(TransientError):
    """The warehouse could not be opened now (server down, network): a retry may work."""


class WarehouseRefused(TerminalError):
    """The warehouse refused the connection (credentials, missing database): fix the setting."""


# libpq / DuckDB messages that will not change on a retry.
_REFUSED = ("authentication failed", "does not exist", "no password supplied", "permission denied")


def connection_error(what: str, url: str, error: BaseException) -> HeadwaterError:
    """A clear, masked error for a failed connection to ``what`` (e.g. "the warehouse").

    Drivers echo the connection string in their messages (libpq's ``password=x`` form among
    them), so only the first line, with every form of the URL's password and every
    ``key=value`` secret masked, is kept. Refused credentials or a missing database are
    terminal; anything else (a server restarting, the network) may pass on retry.
    """
    from headwater.urls import mask_secrets

    text = str(error).strip()
    reason = mask_secrets(text.splitlines()[0] if text else type(error).__name__, url)
    kind = WarehouseRefused if any(m in reason.lower() for m in _REFUSED) else WarehouseUnreachable
    return kind(f"cannot open {what} {mask_secrets(url, url)}: {reason}")
