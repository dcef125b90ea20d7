"""Who may do what: the roles, the principal a request acts as, and the areas of the product
each role may enter (docs/security.md § Roles). One table, read by the web guard
(ioc/auth/guard.py) and by the role × endpoint matrix test."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ROLES = ("admin", "operator", "leader", "sector")
DEVICE = "device"  # a wall display's credential: not a person, never a user row
SECTORS = ("hotline", "cameras", "environment", "procedures")
# the sector map's own sector names (ioc.views.map_filters.SECTORS) each user sector may look at;
# the map calls the cameras' sector "security" (cameras and the security categories of 1022)
MAP_SECTORS = {"hotline": "hotline", "cameras": "security", "environment": "environment", "procedures": "procedures"}
COMMUNE = re.compile(r"^\d{5}$")

# area → who may enter it. "public" needs nothing; "signed_in" any principal (devices included).
AREAS: dict[str, frozenset[str]] = {
    "public": frozenset({"anonymous", *ROLES, DEVICE}),
    "signed_in": frozenset({*ROLES, DEVICE}),
    "person": frozenset(ROLES),  # a person, whatever the role (the language switch, logout)
    "status": frozenset({"admin", "operator", "leader"}),
    "wall": frozenset({"admin", "operator", "leader", DEVICE}),
    "map": frozenset({"admin", "operator", "leader", "sector"}),
    "mobile": frozenset({"admin", "leader"}),
    "briefings": frozenset({"admin", "leader"}),
    "alerts_ack": frozenset({"admin", "operator"}),
}
# where a person lands after the login when no page was asked for
HOME = {"admin": "/", "operator": "/", "leader": "/m", "sector": "/map", DEVICE: "/wall"}


@dataclass(frozen=True)
class Principal:
    """Who a request acts for. ``sectors``/``communes`` empty = no restriction (only the sector
    role is restricted); ``pii``: may see reporters' personal data unmasked."""

    role: str
    name: str
    user_id: int | None = None
    device_id: int | None = None
    sectors: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    pii: bool = False
    session_id: str | None = field(default=None, repr=False)

    @property
    def is_person(self) -> bool:
        return self.role in ROLES

    def may(self, area: str) -> bool:
        return self.role in AREAS.get(area, frozenset())

    def map_sectors(self) -> tuple[str, ...] | None:
        """The map sectors this principal may look at; None = every one (including "all")."""
        if self.role != "sector":
            return None
        return tuple(MAP_SECTORS[s] for s in self.sectors if s in MAP_SECTORS)

    def commune_allowed(self, code: str | None) -> bool:
        if self.role != "sector" or not self.communes:
            return True
        return bool(code) and code in self.communes


ANONYMOUS = Principal(role="anonymous", name="")


def check_scope(role: str, sectors: list[str] | tuple[str, ...], communes: list[str] | tuple[str, ...]) -> None:
    """A user's role and scope, or ``ValueError`` with one line."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    bad = [s for s in sectors if s not in SECTORS]
    if bad:
        raise ValueError(f"unknown sector {bad[0]!r}: one of {', '.join(SECTORS)}")
    bad = [c for c in communes if not COMMUNE.match(c)]
    if bad:
        raise ValueError(f"bad commune code {bad[0]!r}: 5 digits, e.g. 30316")
    if role == "sector" and not sectors:
        raise ValueError("a sector user needs at least one --sector (hotline, cameras, environment, procedures)")
    if role != "sector" and (sectors or communes):
        raise ValueError("--sector and --commune apply to the sector role only")
