"""Helpers the tests import: plain modules, so conftest.py holds only fixtures and hooks.

- waiting.py: poll a predicate against a deadline (every wait in the suite goes through it)
- events.py: valid v1 events, their bytes, one malformed input per rejection reason
- processes.py: a real `flowmeter worker` child process and where tests keep their logs
- dead_letters.py: read the dead-letter topic's headers back from the broker
- store.py: pin fm_now() on a store and query on the connection that sees the pin
- browser.py: `flowmeter up` as a child process, headless Chromium, "the page has rendered"
- hook.py: a local HTTP receiver of alert notices
- jira_export.py: a generated Jira search-results export
- alerts.py: the alert tests' scaffolding: a store judged by the evaluator; a worker's alert
  settings, the transitions that break its limit, SQL on the worker
- jira_payloads.py: Jira webhook deliveries and search results, as Atlassian documents them
- github_payloads.py: GitHub webhook deliveries and REST documents, as GitHub documents them
- faust_internals.py: the one place a test looks inside Faust

benchmarks/ import browser.py, hook.py, waiting.py, jira_export.py and store.py from here, so
each harness exists once.
"""
