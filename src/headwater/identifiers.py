"""SQL identifier checks, kept free of heavy imports because DAG parsing uses them."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def valid_identifier(name: object) -> bool:
    """A plain name: letters, digits and _, not starting with a digit, at most 63 characters.

    Anything else (quotes, semicolons, spaces, dots) is refused outright rather than escaped.
    """
    return isinstance(name, str) and bool(_IDENTIFIER.match(name))
