"""How a mock server is configured (`AppConfig`): passed to `create_app`, never read from the environment."""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mock_esd.district.browse import PathsFor
from mock_esd.district.generator import DistrictSpec
from mock_esd.limits import Limits


@dataclass
class AppConfig:
    """Everything `create_app` needs; nothing is read from the environment."""

    spec: DistrictSpec = field(default_factory=DistrictSpec)
    token_ttl: int = 3600
    signing_key: bytes | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep  # latency faults; tests pass a recorder
    control: bool = True
    shared_state: str | None = None  # a change-log file shared by worker processes (serve --workers N)
    # The browser view's "which sync paths can take this person" panel, lent by whoever composes the app
    # (the `mock-esd` commands lend the sync's own rule replay); None leaves the panel out.
    paths_for: PathsFor | None = None
    limits: Limits = field(default_factory=Limits)  # sizes of bodies, districts, YAML, caches, the journal
    bind_host: str = "127.0.0.1"  # the address the server listens on (serve --host): which Host headers it answers
    allowed_hosts: tuple[str, ...] = ()  # more Host names to answer (a name for a server beyond loopback)
    # Client secrets: derived from the tenant name (stable, public) when the server listens on loopback only,
    # random per start when it listens beyond; a `secret_key` derives them from it instead (stable, private).
    secret_key: str | None = None
    # /guru/ shows students' and contacts' personal data (names, dates of birth, emails, addresses, phones)
    # to requests from this machine only, unless this is set (serve --show-personal-data).
    show_personal_data: bool = False

    @property
    def loopback_only(self) -> bool:
        """True when the server listens on this machine only."""
        return is_loopback_host(self.bind_host)

    def client_secret_key(self) -> bytes | None:
        """The key client secrets derive from; None for the public, name-derived ones (loopback only)."""
        if self.secret_key is not None:
            return self.secret_key.encode()
        return None if self.loopback_only else secrets.token_bytes(32)


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1, with or without brackets)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
