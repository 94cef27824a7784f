"""Who is asking and what they may do: the console's use of the permission table.

Every page and form names one permission; `services.auth` decides, with the same table the API
uses, so a role sees in the console exactly what the API lets it do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.orm import Session

from sage_pipelines.errors import SageError

# INTERIM (until services.auth lands from the api branch): one admin token from the environment.


@dataclass(frozen=True)
class Principal:
    user: str
    role: str


class AuthError(SageError):
    pass


def authenticate(session: Session, token: str) -> Principal:
    expected = os.environ.get("SAGE_CONSOLE_INTERIM_TOKEN")
    if not expected or token != expected:
        raise AuthError("invalid or expired token")
    return Principal("admin", "admin")


def allowed(principal: Principal, permission: str) -> bool:
    return principal.role == "admin" or permission.endswith(".read")
