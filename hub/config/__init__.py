"""The hub config file (``hub.yaml``): tenants, connections, schedules, secrets.

:func:`load_config` reads the file (parsed by :mod:`hub.yamlfile`, so every
key keeps its line) and validates it whole: every problem is raised at once
as one :class:`~hub.errors.ConfigError`, each naming file, dotted location,
line and fix.

A connection's ``config:`` block belongs to its connector: it is checked by
the connector's own pydantic model in :func:`resolve_connector_config`, which
is also where ``${ENV}`` references are substituted and where every secret is
registered with :mod:`hub.redaction` so it is masked everywhere from then on.
:func:`check_config` is what ``hub validate`` adds once plugins are loaded.

The modules: ``models`` (the file's shape), ``schedule`` (cron), ``loader``
(finding and reading the file), ``problems`` (pydantic errors as located,
secret-safe problems), ``env`` (``${ENV}`` and secrets), ``checks``
(cross-checks and ``hub validate``).
"""

from __future__ import annotations

from hub.config.checks import check_config
from hub.config.env import resolve_connector_config
from hub.config.loader import ENV_VAR, find_config_path, load_config
from hub.config.models import ConnectionConfig, HubConfig, QuarantinePolicy, TenantConfig
from hub.config.schedule import validate_schedule

__all__ = [
    "ENV_VAR",
    "ConnectionConfig",
    "HubConfig",
    "QuarantinePolicy",
    "TenantConfig",
    "check_config",
    "find_config_path",
    "load_config",
    "resolve_connector_config",
    "validate_schedule",
]
