"""Nothing listens beyond this machine unguarded, the dashboard asks for its password, and
stored text cannot drive the user's terminal (issue: exposure by default)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from analytics.store import Store
from flowcore.exposure import ExposedWithoutCredential, check_exposure, is_loopback
from flowmeter.cli import cli
from flowmeter.render import render_table

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("192.168.0.7", False),
        ("flow.example.com", False),
    ],
)
def test_what_counts_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_exposure_needs_a_credential_or_an_explicit_yes():
    check_exposure("worker", "127.0.0.1", guarded=False, credential="FLOWMETER_QUERY_TOKEN", allow_open=False)
    check_exposure("worker", "0.0.0.0", guarded=True, credential="FLOWMETER_QUERY_TOKEN", allow_open=False)
    check_exposure("worker", "0.0.0.0", guarded=False, credential="FLOWMETER_QUERY_TOKEN", allow_open=True)
    with pytest.raises(ExposedWithoutCredential, match="Set FLOWMETER_QUERY_TOKEN, bind 127.0.0.1"):
        check_exposure("worker", "0.0.0.0", guarded=False, credential="FLOWMETER_QUERY_TOKEN", allow_open=False)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FLOWMETER_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "argv, env, credential",
    [
        (["worker", "--broker", "kafka://127.0.0.1:1", "--web-host", "0.0.0.0"], {}, "FLOWMETER_QUERY_TOKEN"),
        (["receive", "--broker", "kafka://127.0.0.1:1", "--host", "0.0.0.0"], {}, "FLOWMETER_EVENTS_SECRET"),
        (["dashboard", "--host", "0.0.0.0"], {}, "FLOWMETER_DASHBOARD_PASSWORD"),
        (["dashboard"], {"FLOWMETER_DASHBOARD_HOST": "10.0.0.5"}, "FLOWMETER_DASHBOARD_PASSWORD"),
    ],
)
def test_commands_refuse_to_listen_beyond_loopback_unguarded(clean_env, tmp_path, argv, env, credential):
    result = CliRunner().invoke(cli, [*argv, "--db", str(tmp_path / "s.duckdb")], env=env)
    assert result.exit_code == 1
    assert "beyond this machine, with nothing guarding it" in result.output and credential in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def dashboard_env(clean_env, tmp_path, monkeypatch) -> Iterator[None]:
    with Store.open(tmp_path / "store.duckdb"):
        pass
    monkeypatch.setenv("FLOWMETER_DB", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("FLOWMETER_DASHBOARD_PASSWORD", "open sesame")
    monkeypatch.setattr("dashboard.signin.WRONG_PASSWORD_DELAY", 0)
    yield


def test_dashboard_shows_nothing_before_its_password(dashboard_env):
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception, app.exception
    # Only the sign-in: no filters in the sidebar (they would query the store), no page.
    assert [t.label for t in app.text_input] == ["Password"]
    assert not app.sidebar.selectbox and not app.metric
    app.text_input(key="sign_in_password").input("guess")
    app.button[0].click().run()
    assert [e.value for e in app.error] == ["That is not this dashboard's password (FLOWMETER_DASHBOARD_PASSWORD)."]
    assert not app.sidebar.selectbox
    app.text_input(key="sign_in_password").input("open sesame")
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert [s.label for s in app.sidebar.selectbox] == ["Board", "Team", "Ticket type"]


def test_sql_table_output_escapes_control_characters():
    # A ticket id holding ANSI escapes (clear screen, red) and a BEL, as an attacker could store.
    # A right-to-left override reorders what follows it on screen ("Trojan Source").
    table = pa.table(
        {"ticket_id": ["T-1\x1b[2J\x1b[31mowned\x07", "T-2\r\nfake row", "T-3 \x9b31m", "T-4 ansi\u202eevil"]}
    )
    text = render_table(table)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\r" not in text
    assert "\u202e" not in text and "T-4 ansi\\u202eevil" in text
    assert "T-1\\x1b[2J\\x1b[31mowned\\x07" in text and "T-2\\r\\nfake row" in text and "T-3 \\x9b31m" in text


def test_an_empty_secret_counts_as_unset(clean_env, monkeypatch):
    from flowcore.settings import load_settings

    monkeypatch.setenv("FLOWMETER_JIRA_SECRET", "")
    monkeypatch.setenv("FLOWMETER_QUERY_TOKEN", "   ")
    conf = load_settings()
    assert conf.jira_secret is None and conf.query_token is None
    with pytest.raises(ExposedWithoutCredential):
        check_exposure("worker", "0.0.0.0", conf.query_token is not None, "FLOWMETER_QUERY_TOKEN", False)


def test_an_exposed_receiver_serves_only_the_paths_that_have_a_secret(clean_env):
    from flowcore.settings import load_settings
    from sources.receiver import build_app

    def paths(**settings: str) -> set[str]:
        app = build_app(load_settings(**settings), None)  # type: ignore[arg-type]  # no producer: nothing is sent
        return {r.resource.canonical for r in app.router.routes() if r.method == "POST" and r.resource is not None}

    everything = {
        "/webhooks/jira",
        "/webhooks/github",
        "/webhooks/gitlab",
        "/webhooks/cdevents",
        "/webhooks/alertmanager",
        "/webhooks/pagerduty",
        "/webhooks/opsgenie",
        "/events",
    }
    assert paths(receiver_host="127.0.0.1") == everything
    assert paths(receiver_host="0.0.0.0", github_secret="s") == {"/webhooks/github"}
    assert paths(receiver_host="0.0.0.0", alertmanager_token="t") == {"/webhooks/alertmanager"}  # a token counts
    assert paths(receiver_host="0.0.0.0", allow_open_access=True) == everything
