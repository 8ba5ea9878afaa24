"""Alert routes from the settings file: each mistake is one sentence naming the key."""

from __future__ import annotations

import tomllib

import pytest

from alerting.routes import Route, check_limit_routes, parse_routes
from flowcore.errors import SettingsError
from flowcore.workflow import WipLimit, Workflow


def routes(text: str) -> dict[str, Route]:
    return parse_routes(tomllib.loads(text), "f.toml", "flow.alerts")


def test_every_kind_parses_and_the_log_route_always_exists():
    parsed = routes("""
[alerts.chat]
kind = "slack"
url = "https://hooks.slack.example/T/B/x"
[alerts.audit]
kind = "webhook"
url = "http://127.0.0.1:9000/in"
secret = "k"
timeout = 2.5
[alerts.stream]
kind = "kafka"
[alerts.other-stream]
kind = "kafka"
topic = "team.alerts"
""")
    assert parsed["log"] == Route("log", "log")
    assert parsed["chat"] == Route("chat", "slack", url="https://hooks.slack.example/T/B/x")
    assert parsed["audit"] == Route("audit", "webhook", url="http://127.0.0.1:9000/in", secret="k", timeout=2.5)
    assert parsed["stream"].topic == "flow.alerts" and parsed["other-stream"].topic == "team.alerts"
    assert "hooks.slack" not in repr(parsed["chat"]) and "'k'" not in repr(parsed["audit"])  # credentials stay out


@pytest.mark.parametrize(
    "text, message",
    [
        ("alerts = 3", "f.toml: alerts must be a table of routes like [alerts.team-slack]."),
        ('[alerts.a]\nkind = "email"', "f.toml: alerts.a.kind 'email' is not one of slack, webhook, kafka, log."),
        ('[alerts.a]\nkind = "webhook"', "f.toml: alerts.a.url is missing; a webhook route needs the URL to POST to."),
        ('[alerts.a]\nkind = "slack"\nurl = "hooks.slack.com/x"', "f.toml: alerts.a.url is not an http(s) URL."),
        (
            '[alerts.a]\nkind = "kafka"\nurl = "http://x"',
            "f.toml: alerts.a.url is not used by a kafka route; remove it.",
        ),
        (
            '[alerts.a]\nkind = "slack"\nurl = "http://x"\nsecret = "k"',
            "f.toml: alerts.a.secret is only used by webhook routes.",
        ),
        ('[alerts.a]\nkind = "log"\ntopic = "t"', "f.toml: alerts.a.topic is only used by kafka routes."),
        (
            '[alerts.a]\nkind = "webhook"\nurl = "http://x"\ntimeout = 0',
            "f.toml: alerts.a.timeout must be a number of seconds between 0 and 300.",
        ),
        (
            '[alerts.a]\nkind = "log"\ncolour = "red"',
            "f.toml: alerts.a has unknown key 'colour'; allowed: kind, url, secret, topic, timeout.",
        ),
        ('[alerts.log]\nkind = "kafka"', "f.toml: alerts.log is the built-in log route; give your route another name."),
    ],
)
def test_each_mistake_is_one_sentence(text, message):
    with pytest.raises(SettingsError) as caught:
        routes(text)
    assert str(caught.value) == message


def test_a_limit_naming_an_undefined_route_is_refused():
    workflow = Workflow(wip_limits=(WipLimit("pay", ("Review",), 3, routes=("chat",), name="Review"),))
    with pytest.raises(SettingsError) as caught:
        check_limit_routes(workflow, routes(""), "f.toml")
    assert str(caught.value) == (
        "f.toml: the WIP limit 'Review' of board pay names route 'chat', which is not "
        "defined; add [alerts.chat] with a kind (known routes: log)."
    )
    with pytest.raises(SettingsError, match="aging_routes names route 'pager'"):
        check_limit_routes(Workflow(), routes(""), "f.toml", ("pager",))
