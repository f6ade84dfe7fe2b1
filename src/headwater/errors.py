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
