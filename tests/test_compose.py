"""The container files: docker-compose.yml, Dockerfile and .dockerignore.

No Docker engine is needed. Compose validates the file itself (`config` reads
and checks it without a daemon); the other tests read the files and check the
things a deployment depends on and a schema cannot see: health-gated start-up,
the worker's port and volume, what the image copies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


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


def _run_config(cli: list[str], compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli, "-f", str(compose_file), "config", *args],
                          cwd=compose_file.parent, capture_output=True, text=True, timeout=60)


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
        parsed = subprocess.run([*interpreter, "-c", _YAML_TO_JSON], input=text,
                                capture_output=True, text=True, timeout=60)
        if parsed.returncode == 0:
            return json.loads(parsed.stdout)
    cli = _compose_cli()
    if cli:
        resolved = _run_config(cli, COMPOSE_FILE, "--format", "json")
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


def test_compose_validation_rejects_a_broken_condition(compose_cli: list[str], tmp_path: Path) -> None:
    # Control for the test above: the validator does check what start-up order relies on.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text(encoding="utf-8").replace("service_healthy", "service_ready"),
                      encoding="utf-8")
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
    chown = next(i for i, (keyword, args) in enumerate(instructions)
                 if keyword == "RUN" and "chown" in args and "/data" in args)
    assert chown < volume
    # `docker run IMAGE` with no flags must still write the DuckDB file to the volume.
    assert any(keyword == "ENV" and "FLOWMETER_DB=/data/" in args for keyword, args in instructions)
