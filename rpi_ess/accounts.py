"""Names of users and groups for permission messages ("user rpi-ess is not in group dialout").

Shared by the device layer (serial ports) and the server (node files), so both name an account the same way;
a number is shown when the account database has no entry (a container, a deleted group).
"""

from __future__ import annotations

import os


def user_name(uid: int | None = None) -> str:
    """The user's name, this process's effective user by default."""
    import pwd

    uid = os.geteuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
