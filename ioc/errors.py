"""Errors the product reports to a person: one clear line, exit status 2."""


class UserError(Exception):
    """Something the user can fix (a setting, a path, an unreachable service).

    The CLI prints ``str(err)`` on one line and exits with status 2, without a traceback.
    """

    exit_code = 2
