"""Errors a user can fix (bad input, bad options, missing files).

The CLI turns :class:`UserError` into a one-line message on stderr and exit status 2.
"""


class UserError(Exception):
    """Invalid input or options; the message is shown to the user as one line.

    Attributes
    ----------
    exit_code : int
        Exit status the CLI returns for this error (2).
    """

    exit_code = 2


def parse_names(text: str, allowed, what: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]`` (duplicates dropped), every name one of ``allowed``; else one-line :class:`UserError`.

    Parameters
    ----------
    text : str
        Comma-separated names (a command-line option); blanks around them are ignored.
    allowed : Collection of str
        The valid names (listed in the error message).
    what : str
        What a name is, for the error message (e.g. ``"variant"``).
    """
    names = [v.strip() for v in str(text).split(",") if v.strip()]
    bad = [v for v in names if v not in allowed]
    if bad or not names:
        raise UserError(
            f"unknown {what}(s) {', '.join(map(repr, bad)) or repr(text)}; choose from {', '.join(allowed)} "
            "(comma-separated)"
        )
    return list(dict.fromkeys(names))
