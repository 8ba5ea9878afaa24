"""Settings precedence (CLI > environment > file > default) and one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowcore.errors import SettingsError
from flowcore.failpoints import Failpoints
from flowcore.settings import bootstrap_servers, faust_broker, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("FLOWMETER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults():
    s = load_settings()
    assert (s.broker, s.db, s.settings, s.dashboard_port) == (None, Path("flowmeter.duckdb"), None, 8501)
    assert (s.transitions_topic, s.deploys_topic, s.dead_letter_topic) == (
        "flow.transitions",
        "flow.deploys",
        "flow.dead-letter",
    )


def test_cli_beats_environment_beats_file_beats_default(tmp_path, monkeypatch):
    (tmp_path / "flowmeter.toml").write_text(
        'broker = "kafka://file:1"\ndb = "file.duckdb"\nbatch_max = 7\n[boards.payments]\nstates = []\n'
    )
    monkeypatch.setenv("FLOWMETER_DB", "env.duckdb")
    monkeypatch.setenv("FLOWMETER_BROKER", "kafka://env:2")
    s = load_settings(broker="kafka://cli:3")
    assert s.broker == "kafka://cli:3"  # CLI
    assert s.db == Path("env.duckdb")  # environment over file
    assert s.batch_max == 7  # file over default
    assert s.settings == Path("flowmeter.toml")  # found in the working directory


def test_named_settings_file_via_environment(tmp_path, monkeypatch):
    path = tmp_path / "conf" / "fm.toml"
    path.parent.mkdir()
    path.write_text("partitions = 2\n")
    monkeypatch.setenv("FLOWMETER_SETTINGS", str(path))
    assert load_settings().partitions == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ("batchmax = 3\n", "unknown setting 'batchmax'; see docs/settings.md for the known ones."),
        ("batch_max = 0\n", "setting 'batch_max' = 0 is not usable: Input should be greater than or equal to 1."),
        (
            "log_level = 'loud'\n",
            "setting 'log_level' = 'loud' is not usable: Value error, must be one of debug, info, warning, error.",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path, content, message):
    (tmp_path / "flowmeter.toml").write_text(content)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == message


def test_bad_toml_and_missing_named_file(tmp_path):
    (tmp_path / "flowmeter.toml").write_text("broker = \n")
    with pytest.raises(SettingsError, match=r"flowmeter.toml is not valid TOML: .*line 1"):
        load_settings()
    with pytest.raises(SettingsError, match="settings file nope.toml does not exist"):
        load_settings(settings=Path("nope.toml"))


def test_broker_urls():
    assert bootstrap_servers("kafka://a:9092,b:9093") == ["a:9092", "b:9093"]
    assert bootstrap_servers("localhost:9092") == ["localhost:9092"]
    assert faust_broker("a:1;kafka://b:2") == ["kafka://a:1", "kafka://b:2"]
    with pytest.raises(SettingsError, match="'kafka' is not host:port"):
        bootstrap_servers("kafka")
    with pytest.raises(SettingsError, match="names no host"):
        bootstrap_servers("kafka://")


def test_failpoints_pass_then_fail():
    points = Failpoints("store.commit=2+2; other=0+")
    assert [points.should_fail("store.commit") for _ in range(5)] == [False, False, True, True, False]
    assert all(points.should_fail("other") for _ in range(3))
    assert not Failpoints("").should_fail("store.commit")
    with pytest.raises(SettingsError, match="NAME=PASSES\\+FAILURES"):
        Failpoints("store.commit=fail")


def test_a_json_setting_from_the_environment_that_is_not_json_is_one_sentence(monkeypatch):
    monkeypatch.setenv("FLOWMETER_GITHUB_LABEL_STATES", "review=Review")
    with pytest.raises(SettingsError, match='error parsing value for field "github_label_states".*must be JSON'):
        load_settings()
    monkeypatch.setenv("FLOWMETER_GITHUB_LABEL_STATES", '{"review": "Review"}')
    assert load_settings().github_label_states == {"review": "Review"}
