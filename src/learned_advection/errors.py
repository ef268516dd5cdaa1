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
