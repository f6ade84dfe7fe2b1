"""SQL identifier checks, kept free of heavy imports because DAG parsing uses them."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def valid_identifier(name: object) -> bool:
    """A plain name: letters, digits and _, not starting with a digit, at most 63 characters.

    Anything else (quotes, semicolons, spaces, dots) is refused outright rather than escaped.
    """
    return isinstance(name, str) and bool(_IDENTIFIER.match(name))


def require_identifier(value: object, where: str) -> str:
    """``value`` when it is a valid identifier; otherwise a SpecError naming ``where``."""
    from headwater.errors import SpecError

    if not isinstance(value, str) or not valid_identifier(value):
        raise SpecError(
            f"{where}: {value!r} is not a valid identifier "
            "(letters, digits and _, starting with a letter or _, at most 63 characters)"
        )
    return value
