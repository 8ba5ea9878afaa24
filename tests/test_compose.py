"""The container files: docker-compose.yml, Dockerfile, .dockerignore and .env.example.

No Docker engine is needed. Compose validates the file itself (`config` reads
and checks it without a daemon); the other tests read the files and check the
things a deployment depends on and a schema cannot see: health-gated start-up,
the worker's port and volume, what the image copies, and what is exposed: no
Kafka port on the host, and every server bound beyond loopback started with the
credential that server then insists on, taken from `.env`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"

# What compose must be given to start: one value each, as `.env` would hold them.
SECRETS = {
    "FLOWMETER_QUERY_TOKEN": "test-token",
    "FLOWMETER_DASHBOARD_PASSWORD": "test-password",
    "FLOWMETER_EVENTS_SECRET": "test-events-secret",
}
# Passed to the receiver only when set: each turns one more webhook endpoint on.
OPTIONAL_SECRETS = {"FLOWMETER_GITHUB_SECRET", "FLOWMETER_JIRA_SECRET", "FLOWMETER_CDEVENTS_SECRET"}

# Each server's bind option, and the credentials it refuses to bind beyond loopback
# without (the receiver: any one of them).
BIND_OPTION = {"worker": "--web-host", "dashboard": "--host", "receiver": "--host"}
CREDENTIALS = {
    "worker": {"FLOWMETER_QUERY_TOKEN"},
    "dashboard": {"FLOWMETER_DASHBOARD_PASSWORD"},
    "receiver": {"FLOWMETER_EVENTS_SECRET"} | OPTIONAL_SECRETS,
}


# --- helpers -------------------------------------------------------------------------------


def _compose_cli() -> list[str] | None:
    """docker-compose (Debian's package, v1 or v2) or the docker compose v2 plugin."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither `docker-compose` nor `docker compose` is on PATH; CI installs Debian's docker-compose")
    return cli


def _env(secrets: dict[str, str] = SECRETS) -> dict[str, str]:
    """This process's environment without any FLOWMETER_* variable, plus `secrets`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWMETER_")}
    return env | secrets


def _run_config(
    cli: list[str], compose_file: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`config` as `up` would see it: with the secrets unless `env` says otherwise.

    Compose also reads `.env` next to the file; tests that need it absent copy the file
    to a directory of their own.
    """
    return subprocess.run(
        [*cli, "-f", str(compose_file), "config", *args],
        cwd=compose_file.parent,
        env=_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _shebang(script: str) -> list[str] | None:
    """The interpreter command of a Python script (docker-compose v1 is one), else None."""
    with open(script, "rb") as handle:
        first = handle.readline(300)
    if not first.startswith(b"#!") or b"python" not in first:
        return None
    return first[2:].decode().split()


_YAML_TO_JSON = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"


def _load_compose() -> dict[str, Any]:
    """The compose file as data, with whichever YAML parser this machine has.

    PyYAML is not a flowmeter dependency. docker-compose v1 is a Python program that
    depends on it, so its interpreter can parse the file; compose v2 prints its resolved
    model as JSON. The assertions accept both the short syntax of the file and the long
    syntax v2 resolves it to.
    """
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    try:
        import yaml
    except ModuleNotFoundError:
        pass
    else:
        return yaml.safe_load(text)
    tool = shutil.which("docker-compose")
    interpreter = _shebang(tool) if tool else None
    if interpreter:
        parsed = subprocess.run(
            [*interpreter, "-c", _YAML_TO_JSON], input=text, capture_output=True, text=True, timeout=60
        )
        if parsed.returncode == 0:
            return json.loads(parsed.stdout)
    cli = _compose_cli()
    if cli:
        resolved = _run_config(cli, COMPOSE_FILE, "--format", "json")  # variables resolved: see _required
        if resolved.returncode == 0:
            return json.loads(resolved.stdout)
    pytest.skip("no YAML parser available: install PyYAML, or Debian's docker-compose")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load_compose()


def _flag(command: list[str], name: str) -> str:
    """The value after `name` in an argv list."""
    assert name in command, f"{name} missing from {command}"
    return str(command[command.index(name) + 1])


def _ports(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host_ip, published, target) of each published port, short or long syntax."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append((port.get("host_ip", ""), str(port.get("published", "")), str(port["target"])))
        else:
            parts = str(port).split("/")[0].split(":")
            host_ip = parts[0] if len(parts) == 3 else ""
            ports.append((host_ip, parts[-2] if len(parts) > 1 else "", parts[-1]))
    return ports


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of each volume, short or long syntax."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume.get("source", "")
        else:
            source, target = str(volume).split(":")[:2]
            mounts[target] = source
    return mounts


def _health_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """Name -> value of a service's environment, list or mapping syntax."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict((item.split("=", 1) + [None])[:2] for item in environment)
    return dict(environment)


def _required(value: str | None, name: str) -> bool:
    """`value` is compose's required-variable form of `name`, or (resolved by compose v2) its test value."""
    return value is not None and (value.startswith("${" + name + ":?") or value == SECRETS.get(name))


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            keyword, _, rest = pending.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
    return instructions


def _packaged_paths() -> set[str]:
    """What `pip install .` reads: pyproject, its readme and lock, and every package it ships."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {pattern.rstrip("*.") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    return packages | {"pyproject.toml", "requirements.lock", pyproject["project"]["readme"]}


# --- compose validates -------------------------------------------------------------------------


def test_compose_file_is_valid(compose_cli: list[str]) -> None:
    result = _run_config(compose_cli, COMPOSE_FILE, "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_without_a_secret_naming_it(compose_cli: list[str], tmp_path: Path, missing: str) -> None:
    # In a directory of its own, so a developer's .env next to the real file cannot supply it.
    alone = tmp_path / "docker-compose.yml"
    shutil.copy(COMPOSE_FILE, alone)
    result = _run_config(compose_cli, alone, "-q", env=_env({k: v for k, v in SECRETS.items() if k != missing}))
    assert result.returncode != 0
    assert f"set {missing} in .env (see .env.example)" in result.stderr


def test_env_example_lists_every_variable_with_a_comment(compose_cli: list[str], tmp_path: Path) -> None:
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
    )
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == set(SECRETS)
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for name in required | OPTIONAL_SECRETS:
        # Required ones are there to fill in; optional ones commented out, so a copy leaves them
        # unset (an endpoint off) rather than set to an empty string.
        line = f"{name}=" if name in required else f"#{name}="
        assert line in lines, f".env.example lacks the line {line!r}"
        above = lines[lines.index(line) - 1]
        assert above.startswith("#") and above != "#", f"{name} has no comment above it in .env.example"
    assert "secrets.token_urlsafe(32)" in ENV_EXAMPLE.read_text(encoding="utf-8")
    # `cp .env.example .env` without filling it in is refused; filled in, it is accepted.
    copy = tmp_path / "docker-compose.yml"
    shutil.copy(COMPOSE_FILE, copy)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    unfilled = _run_config(compose_cli, copy, "-q", env=_env({}))
    assert unfilled.returncode != 0 and ".env.example" in unfilled.stderr
    filled = [f"{line}{SECRETS[line[:-1]]}" if line[:-1] in SECRETS else line for line in lines]
    (tmp_path / ".env").write_text("\n".join(filled) + "\n", encoding="utf-8")
    result = _run_config(compose_cli, copy, "-q", env=_env({}))
    assert result.returncode == 0, result.stderr


def test_env_file_is_kept_out_of_git_and_the_image() -> None:
    ignored = [line.strip() for line in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()]
    assert ".env" in ignored
    admitted = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line.startswith("!")]
    assert not any(".env" in line for line in admitted)


def test_compose_validation_rejects_a_broken_condition(compose_cli: list[str], tmp_path: Path) -> None:
    # Control for the test above: the validator does check what start-up order relies on.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE_FILE.read_text(encoding="utf-8").replace("service_healthy", "service_ready"), encoding="utf-8"
    )
    result = _run_config(compose_cli, broken, "-q")
    assert result.returncode != 0
    assert "condition" in result.stderr


# --- what the services promise -------------------------------------------------------------------


def test_kafka_is_the_official_image_pinned_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    name, _, tag = kafka["image"].partition(":")
    assert name == "apache/kafka"
    assert tag and tag != "latest"
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "kafka-topics.sh" in _health_command(kafka)
    # The log is the system of record: it lives on a named volume, not in the container.
    assert _mounts(kafka)[env["KAFKA_LOG_DIRS"]] in compose["volumes"]


def test_worker_reaches_kafka_on_an_advertised_listener(compose: dict[str, Any]) -> None:
    broker = _flag(compose["services"]["worker"]["command"], "--broker")
    advertised = compose["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert broker.removeprefix("kafka://") in {entry.split("://")[1] for entry in advertised.split(",")}


def test_worker_starts_after_kafka_is_healthy_and_is_restarted(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    # The worker exits non-zero on a failed batch write and relies on being restarted.
    assert worker["restart"] == "unless-stopped"


def test_worker_health_is_its_status_endpoint(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    port = _flag(worker["command"], "--web-port")
    assert f"127.0.0.1:{port}/api/status" in _health_command(worker)


def test_worker_keeps_duckdb_on_a_named_volume_at_data(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    mounts = _mounts(worker)
    assert mounts["/data"] in compose["volumes"]
    assert Path(_flag(worker["command"], "--db")).parent == Path("/data")


def test_worker_http_port_is_not_published(compose: dict[str, Any]) -> None:
    assert _ports(compose["services"]["worker"]) == []


def test_dashboard_waits_for_a_healthy_worker_and_reads_through_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    dashboard = services["dashboard"]
    assert dashboard["depends_on"]["worker"]["condition"] == "service_healthy"
    port = _flag(services["worker"]["command"], "--web-port")
    assert _flag(dashboard["command"], "--worker-url") == f"http://worker:{port}"
    # DuckDB admits one process: the dashboard must not open the file itself.
    assert "/data" not in _mounts(dashboard)
    assert dashboard["image"] == services["worker"]["image"]


def test_dashboard_is_published_on_loopback_only(compose: dict[str, Any]) -> None:
    dashboard = compose["services"]["dashboard"]
    port = _flag(dashboard["command"], "--port")
    assert _ports(dashboard) == [("127.0.0.1", port, port)]
    assert f"127.0.0.1:{port}/_stcore/health" in _health_command(dashboard)


def test_only_loopback_ports_reach_the_host(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for host_ip, _, _ in _ports(service):
            assert host_ip == "127.0.0.1", f"{name} publishes a port on all interfaces"


def test_kafka_is_not_reachable_from_the_host(compose: dict[str, Any]) -> None:
    # Its listener is unauthenticated PLAINTEXT: published, any local process could inject
    # events or forge dead letters.
    services = compose["services"]
    assert _ports(services["kafka"]) == []
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert [entry.split("://")[1].split(":")[0] for entry in advertised] == ["kafka"]
    published = {(name, target) for name, service in services.items() for _, _, target in _ports(service)}
    assert published == {("dashboard", "8501"), ("receiver", "8088")}


def test_receiver_is_published_on_loopback_only_and_health_gated(compose: dict[str, Any]) -> None:
    services = compose["services"]
    receiver = services["receiver"]
    assert receiver["command"][:2] == ["flowmeter", "receive"]
    assert receiver["image"] == services["worker"]["image"]
    assert _flag(receiver["command"], "--broker") == _flag(services["worker"]["command"], "--broker")
    port = _flag(receiver["command"], "--port")
    assert _ports(receiver) == [("127.0.0.1", port, port)]
    assert f"127.0.0.1:{port}/healthz" in _health_command(receiver)
    # It answers 2xx only once Kafka acknowledged: it needs Kafka, not the worker.
    assert receiver["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert receiver["restart"] == "unless-stopped"
    assert receiver["init"] is True


def test_every_server_bound_beyond_loopback_gets_its_credential(compose: dict[str, Any]) -> None:
    wide = {name for name, service in compose["services"].items() if "0.0.0.0" in map(str, service.get("command", []))}
    assert wide == set(BIND_OPTION), "a new server bound to 0.0.0.0 needs an entry (and a credential) here"
    for name in sorted(wide):
        service = compose["services"][name]
        assert _flag(service["command"], BIND_OPTION[name]) == "0.0.0.0"
        environment = _environment(service)
        # At least one credential the server accepts is required, so `up` fails without it.
        assert any(_required(environment.get(var), var) for var in CREDENTIALS[name]), name
    # The dashboard reaches the worker with the worker's token.
    dashboard = _environment(compose["services"]["dashboard"])
    assert _required(dashboard.get("FLOWMETER_QUERY_TOKEN"), "FLOWMETER_QUERY_TOKEN")


def test_optional_receiver_secrets_are_passed_only_when_set(compose: dict[str, Any]) -> None:
    # A name with no value: compose takes it from .env when set there and leaves it unset in
    # the container otherwise, so an endpoint without a secret stays off. A `${VAR:-}` default
    # would set it to an empty string instead.
    environment = _environment(compose["services"]["receiver"])
    for name in sorted(OPTIONAL_SECRETS):
        assert name in environment and environment[name] is None, name


class _StatusServer(BaseHTTPRequestHandler):
    """Records the Authorization header; answers 200 to the expected token, else 401."""

    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(200 if self.headers.get("Authorization") == "Bearer test-token" else 401)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.parametrize(("token", "healthy"), [("test-token", True), ("wrong-token", False)])
def test_worker_healthcheck_sends_the_bearer_token(compose: dict[str, Any], token: str, healthy: bool) -> None:
    # Run the healthcheck's own code against a stand-in /api/status on a free port.
    worker = compose["services"]["worker"]
    test = worker["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    port = _flag(worker["command"], "--web-port")
    assert "$" not in test[3], "the token is read from the environment when the check runs"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _StatusServer.seen = []
    try:
        code = test[3].replace(f"127.0.0.1:{port}/", f"127.0.0.1:{server.server_address[1]}/")
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=_env({"FLOWMETER_QUERY_TOKEN": token}),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert _StatusServer.seen == [f"Bearer {token}"]
    assert (result.returncode == 0) is healthy, result.stderr


# --- the image -----------------------------------------------------------------------------------


def test_image_copies_everything_the_package_build_reads() -> None:
    copied = set()
    for keyword, args in _dockerfile():
        if keyword == "COPY":
            copied |= {source.rstrip("/") for source in args.split()[:-1] if not source.startswith("--")}
    missing = _packaged_paths() - copied
    assert not missing, f"Dockerfile does not COPY {sorted(missing)}"


def test_build_context_admits_everything_the_package_build_reads() -> None:
    lines = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    assert "*" in lines, ".dockerignore is an allow-list: it starts by excluding everything"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    missing = _packaged_paths() - admitted
    assert not missing, f".dockerignore keeps {sorted(missing)} out of the build context"


def test_image_installs_with_the_lock_as_constraints() -> None:
    runs = [args for keyword, args in _dockerfile() if keyword == "RUN"]
    assert any("pip install -c requirements.lock ." in args for args in runs)


def test_image_runs_the_worker_as_non_root_with_data_volume() -> None:
    instructions = _dockerfile()
    keywords = [keyword for keyword, _ in instructions]
    user = [args for keyword, args in instructions if keyword == "USER"][-1]
    assert user.split(":")[0] not in {"root", "0"}
    assert json.loads(dict(instructions)["CMD"]) == ["flowmeter", "worker"]
    volume = keywords.index("VOLUME")
    assert "/data" in json.loads(instructions[volume][1])
    # Docker seeds a new named volume with the directory's owner, but ignores changes
    # made to a path after it is declared a VOLUME: the chown must come first.
    chown = next(
        i for i, (keyword, args) in enumerate(instructions) if keyword == "RUN" and "chown" in args and "/data" in args
    )
    assert chown < volume
    # `docker run IMAGE` with no flags must still write the DuckDB file to the volume.
    assert any(keyword == "ENV" and "FLOWMETER_DB=/data/" in args for keyword, args in instructions)


def test_image_does_not_bind_beyond_loopback_by_default() -> None:
    # Exposing a server is a choice made with its credential (compose passes 0.0.0.0 and the
    # token); an image default of 0.0.0.0 would make the worker refuse to start, or be open.
    env = " ".join(args for keyword, args in _dockerfile() if keyword == "ENV")
    assert "FLOWMETER_WEB_HOST" not in env
    assert "0.0.0.0" not in env
