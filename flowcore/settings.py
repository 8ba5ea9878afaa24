"""One frozen, validated settings object, built once in an entry point and passed down.

Precedence, highest first: command-line options, ``FLOWMETER_*`` environment
variables, the settings file (TOML), defaults. The settings file is
``--settings`` / ``FLOWMETER_SETTINGS``, else ``./flowmeter.toml`` when it exists.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from flowcore import routing
from flowcore.errors import SettingsError

DEFAULT_SETTINGS_FILE = Path("flowmeter.toml")
# Tables of the settings file that later layers own (workflow mapping, alert routes).
# They are validated by their owners; the core settings ignore them.
SECTION_TABLES = ("boards", "alerts", "defaults", "dora")


class Settings(BaseSettings):
    """Everything a flowmeter process needs to know to run."""

    model_config = SettingsConfigDict(env_prefix="FLOWMETER_", extra="forbid", frozen=True)

    settings: Path | None = Field(default=None, description="TOML settings file in use (FLOWMETER_SETTINGS).")
    broker: str | None = Field(
        default=None,
        description="Kafka bootstrap URL (kafka://host:port[,host:port]); unset = embedded broker.",
    )
    db: Path = Field(default=Path("flowmeter.duckdb"), description="DuckDB file the worker owns.")
    topic_prefix: str = Field(default="flow.", description="Prefix of the three flowmeter topics.")
    group_id: str = Field(default="flowmeter", description="Kafka consumer group (Faust app id).")
    partitions: int = Field(default=4, ge=1, le=256, description="Partitions for topics flowmeter creates.")
    batch_max: int = Field(default=5000, ge=1, le=100_000, description="Most events landed in one transaction.")
    batch_within: float = Field(default=0.2, gt=0, le=60, description="Seconds to wait to fill a batch.")
    fetch_wait: float = Field(
        default=0.1,
        gt=0,
        le=30,
        description="Longest the broker may hold a fetch while no events arrive, s (Faust's own is 1.5).",
    )
    derive_every: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="While catching up (a backlog on the broker), refresh derived metrics at most this often, s "
        "(0 = every batch).",
    )
    session_timeout: float = Field(default=6.0, gt=0, description="Consumer-group session timeout, seconds.")
    heartbeat_interval: float = Field(default=2.0, gt=0, description="Consumer heartbeat, seconds.")
    web_host: str = Field(default="127.0.0.1", description="Address the worker's HTTP server binds.")
    web_port: int = Field(default=6066, ge=0, le=65535, description="Worker HTTP port (0 = any free port).")
    worker_url: str | None = Field(
        default=None, description="HTTP address of the worker to read from; unset = the one running on db."
    )
    dashboard_host: str = Field(default="127.0.0.1", description="Address the Streamlit dashboard binds.")
    dashboard_port: int = Field(default=8501, ge=1, le=65535, description="Port of the Streamlit dashboard.")
    dashboard_password: SecretStr | None = Field(
        default=None, description="Password the dashboard asks for before showing anything; unset = none."
    )
    query_timeout: float = Field(default=30.0, gt=0, le=3600, description="Seconds an ad hoc query may run.")
    query_max_rows: int = Field(default=100_000, ge=1, le=10_000_000, description="Most rows a query returns.")
    query_max_bytes: int = Field(default=65_536, ge=256, description="Largest query request body, in bytes.")
    query_max_result_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Most bytes of result data one ad hoc query returns; more is cut and marked truncated.",
    )
    query_concurrency: int = Field(
        default=2, ge=1, le=32, description="Ad hoc queries the worker runs at once; more wait, then get 503."
    )
    query_token: SecretStr | None = Field(
        default=None, description="Bearer token the worker's /api endpoints require; unset = none."
    )
    query_allowed_origins: list[str] = Field(
        default_factory=list,
        description='Browser origins allowed to call the worker\'s /api, e.g. ["https://flow.example.com"]; '
        "others get 403.",
    )
    allow_open_access: bool = Field(
        default=False,
        description="Let the worker, receiver or dashboard bind beyond loopback without a token, secret or password.",
    )
    receiver_host: str = Field(default="127.0.0.1", description="Address the webhook receiver binds.")
    receiver_port: int = Field(default=8088, ge=0, le=65535, description="Webhook receiver port (0 = any free).")
    jira_secret: SecretStr | None = Field(default=None, description="Shared secret of Jira webhooks (HMAC).")
    github_secret: SecretStr | None = Field(default=None, description="Secret of GitHub webhooks (HMAC-SHA256).")
    cdevents_secret: SecretStr | None = Field(default=None, description="Shared secret of CDEvents senders.")
    events_secret: SecretStr | None = Field(default=None, description="Shared secret of v1 senders (/events).")
    alertmanager_token: SecretStr | None = Field(
        default=None,
        description="Bearer token Alertmanager sends (webhook_config http_config.authorization.credentials).",
    )
    alertmanager_service_labels: list[str] = Field(
        default_factory=lambda: ["service", "job"],
        description="Alert labels naming an incident's service, first present wins; none present = refused.",
    )
    alertmanager_environment_labels: list[str] = Field(
        default_factory=lambda: ["env", "environment"],
        description="Alert labels naming an incident's environment, first present wins.",
    )
    alertmanager_severity_labels: list[str] = Field(
        default_factory=lambda: ["severity"], description="Alert labels naming an incident's severity."
    )
    pagerduty_secret: SecretStr | None = Field(
        default=None, description="Secret of the PagerDuty v3 webhook subscription (X-PagerDuty-Signature)."
    )
    opsgenie_token: SecretStr | None = Field(
        default=None,
        description="Token the Opsgenie webhook sends as a custom header 'Authorization: Bearer <token>'.",
    )
    opsgenie_service_key: str = Field(
        default="service",
        description="Opsgenie alert details key, or tag prefix before ':', naming the service; else the entity.",
    )
    github_incident_label: str | None = Field(
        default=None, description='GitHub issue label that makes an issue an incident too, e.g. "incident".'
    )
    github_service_label_prefix: str = Field(
        default="service:",
        description="Prefix of the label naming an incident issue's service (service:payments); else the repo.",
    )
    jira_incident_types: list[str] = Field(
        default_factory=list, description='Jira issue types that are incidents too, e.g. ["Incident"].'
    )
    jira_service_field: str | None = Field(
        default=None,
        description="Jira field naming an incident's service, e.g. customfield_10050; unset = first component, "
        "else the project key.",
    )
    jira_team_field: str | None = Field(default=None, description="Jira custom field holding the team.")
    jira_url: str | None = Field(
        default=None,
        description="Jira base URL `flowmeter sync jira` pulls from, e.g. https://your-site.atlassian.net.",
    )
    jira_jql: str | None = Field(default=None, description="JQL selecting the issues `flowmeter sync jira` pulls.")
    jira_email: str | None = Field(
        default=None,
        description="Jira Cloud account email (basic auth with jira_token); unset = jira_token is a "
        "Data Center personal access token (Bearer).",
    )
    jira_token: SecretStr | None = Field(
        default=None,
        description="Jira Cloud API token, or a Data Center personal access token (never on the command line).",
    )
    jira_deployment: str = Field(
        default="auto", description="cloud | datacenter | auto (ask /rest/api/2/serverInfo for its deploymentType)."
    )
    sync_interval: float = Field(
        default=300.0, ge=10, le=86_400, description="Seconds between passes of `flowmeter sync` without --once."
    )
    sync_overlap: float = Field(
        default=300.0,
        ge=60,
        le=86_400,
        description="Seconds each pass reaches back before the last one started (clock skew; Jira's minute precision).",
    )
    sync_timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds one request to a tracker may take.")
    sync_retries: int = Field(
        default=5, ge=0, le=20, description="Retries of a request a tracker rate-limited (429) or failed (5xx)."
    )
    github_label_states: dict[str, str] = Field(
        default_factory=dict, description='GitHub label -> workflow state, e.g. {"in progress": "In Progress"}.'
    )
    github_url: str = Field(
        default="https://api.github.com",
        description="GitHub API URL `flowmeter sync github` pulls from; Enterprise Server: https://HOST/api/v3.",
    )
    github_repos: list[str] = Field(
        default_factory=list, description='Repositories `flowmeter sync github` pulls, e.g. ["acme/api"].'
    )
    github_token: SecretStr | None = Field(
        default=None,
        description="GitHub token for `flowmeter sync github`: fine-grained (Issues, Deployments, Metadata: read) "
        "or classic (repo).",
    )
    github_project: str | None = Field(
        default=None,
        description='Projects (v2) board whose Status `flowmeter sync github` also pulls: "orgs/acme/projects/7" '
        'or "users/ana/projects/3" (the path of its URL on github.com).',
    )
    github_project_status_field: str = Field(
        default="Status",
        description="Single-select field of a Projects (v2) board whose changes are transitions (pull and webhook).",
    )
    gitlab_url: str = Field(
        default="https://gitlab.com", description="GitLab base URL `flowmeter sync gitlab` pulls from."
    )
    gitlab_projects: list[str] = Field(
        default_factory=list, description='GitLab projects `flowmeter sync gitlab` pulls, e.g. ["group/name"].'
    )
    gitlab_token: SecretStr | None = Field(
        default=None, description="GitLab access token with the read_api scope (never on the command line)."
    )
    gitlab_secret: SecretStr | None = Field(
        default=None, description="Secret token of GitLab webhooks (X-Gitlab-Token)."
    )
    gitlab_label_states: dict[str, str] = Field(
        default_factory=dict, description='GitLab label -> workflow state, e.g. {"doing": "Doing"}.'
    )
    write_retries: int = Field(
        default=5, ge=0, le=20, description="Retries of a failed batch write before the worker stops."
    )
    alert_cooldown: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="Seconds a breached limit must stay within it before the recovery is declared.",
    )
    alert_hysteresis: int = Field(
        default=0, ge=0, le=1000, description="A breach counts as recovered only at WIP <= limit - this."
    )
    alert_max_event_age: float = Field(
        default=600.0, ge=0, description="Batches holding an older event are history: not judged (0 = judge all)."
    )
    alert_retries: int = Field(default=10, ge=0, le=100, description="Delivery retries of an alert notice per route.")
    alert_backoff_max: float = Field(
        default=300.0, gt=0, le=86_400, description="Longest wait between delivery retries, seconds (doubling from 1)."
    )
    alert_timeout: float = Field(default=5.0, gt=0, le=300, description="Seconds one delivery attempt may take.")
    aging_alerts: bool = Field(
        default=True, description="Alert when a ticket's time in its state passes that state's percentile."
    )
    aging_percentile: float = Field(
        default=85.0, ge=50, le=99.9, description="Percentile an aging alert compares with."
    )
    aging_history_days: int = Field(
        default=90, ge=1, le=3650, description="Days of finished visits the aging percentile is taken over."
    )
    aging_min_samples: int = Field(
        default=10, ge=1, description="Fewest finished visits of a state before it gets aging alerts."
    )
    aging_interval: float = Field(default=30.0, gt=0, le=3600, description="Seconds between aging checks.")
    aging_routes: list[str] = Field(
        default_factory=list, description='Routes of aging alerts, e.g. ["team-slack"]; empty = the log.'
    )
    incident_alerts: bool = Field(
        default=True, description="Alert when an incident stays open past its severity's restore objective."
    )
    restore_objectives: dict[str, float] = Field(
        default_factory=lambda: {"critical": 1.0, "high": 4.0, "low": 24.0},
        description='Hours an incident of each severity level may stay open, e.g. {"critical": 1, "high": 4}; '
        "a level left out gets no alert.",
    )
    incident_routes: list[str] = Field(
        default_factory=list, description='Routes of incident alerts, e.g. ["on-call"]; empty = the log.'
    )
    dashboard_url: str | None = Field(
        default=None, description="Dashboard address alert links point to; unset = http://127.0.0.1:<dashboard_port>."
    )
    failpoints: str = Field(
        default="", description="Fault injection for resilience tests, e.g. 'store.commit=3+2' (pass 3 calls, fail 2)."
    )
    log_level: str = Field(default="info", description="debug | info | warning | error.")

    @field_validator(
        "dashboard_password",
        "query_token",
        "jira_secret",
        "github_secret",
        "cdevents_secret",
        "events_secret",
        "alertmanager_token",
        "pagerduty_secret",
        "opsgenie_token",
        "jira_token",
        "github_token",
    )
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty (or blank) token, secret or password guards nothing: it counts as unset, so
        `FLOWMETER_JIRA_SECRET=` in an env file cannot pass for a secret anyone must know."""
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("gitlab_token", "gitlab_secret")
    @classmethod
    def _gitlab_empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return cls._empty_is_unset(value)

    @field_validator("github_project")
    @classmethod
    def _project_path(cls, value: str | None) -> str | None:
        """'orgs/acme/projects/7' (or users/...), also from a pasted https://github.com/orgs/... URL."""
        if value is None or not value.strip():
            return None
        path = re.sub(r"^https?://[^/]+/", "", value.strip()).strip("/")
        if not re.fullmatch(r"(orgs|users)/[A-Za-z0-9][A-Za-z0-9-]*/projects/[0-9]+", path):
            raise ValueError('must be "orgs/OWNER/projects/NUMBER" or "users/LOGIN/projects/NUMBER"')
        return path

    @field_validator("jira_deployment")
    @classmethod
    def _deployment(cls, value: str) -> str:
        if value.lower() not in {"auto", "cloud", "datacenter"}:
            raise ValueError("must be one of auto, cloud, datacenter")
        return value.lower()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()

    @field_validator("restore_objectives")
    @classmethod
    def _objectives(cls, value: dict[str, float]) -> dict[str, float]:
        levels = ("critical", "high", "low")  # the severity levels of docs/metrics.md
        for level, hours in value.items():
            if level not in levels:
                raise ValueError(f"{level!r} is not a severity level; use {', '.join(levels)}")
            if not hours > 0:
                raise ValueError(f"{level}: the objective must be a positive number of hours")
        return value

    @field_validator("topic_prefix", "group_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls))

    # Derived names, so no module spells a topic by hand.
    def topic_of(self, kind: str) -> str:
        """The input topic of one kind of event (flowcore.routing)."""
        return routing.topic_for(self.topic_prefix, kind)

    @property
    def transitions_topic(self) -> str:
        return self.topic_of("transition")

    @property
    def deploys_topic(self) -> str:
        return self.topic_of("deploy")

    @property
    def dead_letter_topic(self) -> str:
        return self.topic_prefix + routing.DEAD_LETTER_SUFFIX

    @property
    def input_topics(self) -> tuple[str, ...]:
        return tuple(self.topic_of(kind) for kind in routing.KINDS)

    @property
    def alerts_topic(self) -> str:
        return self.topic_prefix + routing.ALERTS_SUFFIX

    @property
    def dashboard_link(self) -> str:
        """Where alert links point: dashboard_url, else the local dashboard."""
        return (self.dashboard_url or f"http://127.0.0.1:{self.dashboard_port}").rstrip("/")

    @property
    def runtime_file(self) -> Path:
        """Where a running worker announces its HTTP address and broker."""
        return self.db.with_name(self.db.name + ".worker.json")


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the settings file named by the sources above it (CLI or environment)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        named = self.current_state.get("settings")
        path = Path(named) if named else DEFAULT_SETTINGS_FILE
        if not path.exists():
            if named:
                raise SettingsError(f"settings file {path} does not exist; fix --settings or FLOWMETER_SETTINGS.")
            return {}
        values = read_settings_file(path)
        core = {k: v for k, v in values.items() if k not in SECTION_TABLES}
        core.setdefault("settings", path)
        return core


def read_settings_file(path: Path) -> dict[str, Any]:
    """Parse the TOML file, turning a syntax error into one sentence."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise SettingsError(f"settings file {path} cannot be read: {exc.strerror}.") from None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from CLI overrides (None = not given), environment and file."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except SourceError as exc:  # e.g. an environment variable that should hold JSON does not
        raise SettingsError(
            f"{exc}; a list or table setting in the environment must be JSON, "
            'e.g. FLOWMETER_GITHUB_LABEL_STATES=\'{"review": "Review"}\'.'
        ) from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "settings"
    if first["type"] == "extra_forbidden":
        return f"unknown setting '{key}'; see docs/settings.md for the known ones."
    value = first.get("input")
    return f"setting '{key}' = {value!r} is not usable: {first['msg']}."


def bootstrap_servers(broker: str) -> list[str]:
    """'kafka://a:9092,b:9092' or 'a:9092' -> ['a:9092', 'b:9092'] for kafka-python."""
    servers = []
    for part in broker.replace(";", ",").split(","):
        part = part.strip()
        if part.startswith("kafka://"):
            part = part[len("kafka://") :]
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise SettingsError(f"broker address '{part}' is not host:port; use e.g. kafka://localhost:9092.")
        servers.append(part)
    if not servers:
        raise SettingsError(f"broker '{broker}' names no host; use e.g. kafka://localhost:9092.")
    return servers


def faust_broker(broker: str) -> list[str]:
    """The same servers as Faust wants them: ['kafka://a:9092', ...]."""
    return [f"kafka://{server}" for server in bootstrap_servers(broker)]
