"""Pulling from trackers' REST APIs (`flowmeter sync`, `flowmeter init`): issue 17.

A source is three parts: an HTTP client (``client.ApiClient``, shared by every source), a
fetch of pages of items changed since a moment, and a mapping of each item to v1 events by
the source's adapter (``sources/adapters``), so pulled events get the same event_ids as the
webhooks and imports of the same changes and land once. ``sync.run_pass`` drives one pass:
fetch, map, hand the events to a sink (Kafka, or the store with no worker), and move the
source's cursor only once the sink has acknowledged every event (docs/sources.md#pull-flowmeter-sync).
"""
