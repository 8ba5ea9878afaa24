"""The real Streamlit script (AppTest) reading through a real worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from streams.broker import free_port
from tests.helpers.events import encode, transition

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("FLOWMETER_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.broker
def test_ingest_page_shows_what_became_of_every_event(worker_factory, producer, topics, clean_env):
    worker = worker_factory().start()
    for n in range(30):  # 30 distinct transitions ...
        producer.send(topics["transitions"], key=b"k", value=encode(transition(n)))
    for n in range(3):  # ... 3 of them re-sent ...
        producer.send(topics["transitions"], key=b"k", value=encode(transition(n)))
    producer.send(topics["transitions"], key=b"k", value=b"{broken")  # ... 2 malformed ...
    producer.send(topics["transitions"], key=b"k", value=encode(transition(99, at="2025-03-01T09:00:00")))
    for n in range(2):  # ... and 2 deploys: 37 messages
        producer.send(
            topics["deploys"],
            key=b"api",
            value=encode(
                {
                    "event_id": f"d{n}",
                    "service": "api",
                    "environment": "production",
                    "status": "success",
                    "at": "2025-03-01T10:00:00Z",
                }
            ),
        )
    producer.flush()
    worker.wait_accounted(37)

    clean_env.setenv("FLOWMETER_WORKER_URL", worker.url)
    app = ingest_page()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {
        "Transitions landed": "30",
        "Deploys landed": "2",
        "Incidents landed": "0",
        "Dead letters": "2",
        "Duplicates dropped": "3",
    }
    reasons = list(app.dataframe[1].value["reason"])
    assert sorted(reasons) == [
        "at '2025-03-01T09:00:00' has no UTC offset; add 'Z' or '+hh:mm' so the moment is unambiguous.",
        "the message is not JSON: Expecting property name enclosed in double quotes at line 1 column 2.",
    ]
    # 09:00 at +01:00 is 08:00 UTC
    assert "latest transition 2025-03-01 08:00:00 UTC" in app.caption[1].value


def ingest_page() -> AppTest:
    """The Ingest page (Overview is home; Ingest is further down the list, for operators)."""
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception, app.exception
    app.switch_page("pages_/ingest.py").run()
    assert not app.exception, app.exception
    return app


def test_unreachable_worker_is_said_in_one_sentence(clean_env):
    clean_env.setenv("FLOWMETER_WORKER_URL", f"http://127.0.0.1:{free_port()}")
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert len(app.warning) == 1
    assert "did not answer" in app.warning[0].value and "flowmeter worker" in app.warning[0].value


@pytest.mark.broker
def test_empty_store_explains_what_to_send(worker_factory, clean_env):
    worker = worker_factory().start()
    clean_env.setenv("FLOWMETER_WORKER_URL", worker.url)
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert "No events yet" in app.info[0].value and "flowmeter produce" in app.info[0].value


@pytest.mark.broker
def test_the_dashboard_sends_the_configured_token(worker_factory, clean_env):
    worker = worker_factory(query_token="s3cret").start()
    clean_env.setenv("FLOWMETER_WORKER_URL", worker.url)
    clean_env.setenv("FLOWMETER_QUERY_TOKEN", "wrong")
    refused = AppTest.from_file(APP, default_timeout=30).run()
    assert "refused the token" in refused.warning[0].value and "FLOWMETER_QUERY_TOKEN" in refused.warning[0].value
    clean_env.setenv("FLOWMETER_QUERY_TOKEN", "s3cret")
    page = ingest_page()
    assert not page.warning
    assert {m.label for m in page.metric} >= {"Transitions landed", "Dead letters"}
