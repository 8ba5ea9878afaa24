# One image for the flowmeter processes: `flowmeter worker` (the default),
# `flowmeter dashboard` and `flowmeter receive`. docker-compose.yml runs them next
# to Apache Kafka.
#
#   docker build -t flowmeter .
#   docker run --rm -v flowmeter-data:/data flowmeter flowmeter worker --broker kafka://HOST:9092
#
# Every server binds 127.0.0.1 by default, which inside a container reaches
# nothing outside it. To be reachable, bind 0.0.0.0 and give the credential the
# process then insists on: FLOWMETER_QUERY_TOKEN for `worker --web-host 0.0.0.0`,
# FLOWMETER_DASHBOARD_PASSWORD for `dashboard --host 0.0.0.0`, a webhook secret
# (FLOWMETER_EVENTS_SECRET, ..._GITHUB_, ..._JIRA_, ..._CDEVENTS_) for
# `receive --host 0.0.0.0`. docker-compose.yml does all three.
#
# One stage: every dependency ships a manylinux wheel for CPython 3.11, so there
# is no compiler toolchain to leave behind.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only what the package build reads; .dockerignore keeps everything else out of
# the build context. tests/test_compose.py checks this list against pyproject.toml.
COPY pyproject.toml README.md requirements.lock ./
COPY flowcore/ flowcore/
COPY flowmeter/ flowmeter/
COPY sources/ sources/
COPY streams/ streams/
COPY analytics/ analytics/
COPY alerting/ alerting/
COPY dashboard/ dashboard/

# The lock is a constraints file: it pins the versions that were tested without
# adding packages, so the image gets exactly pyproject's runtime dependencies.
RUN pip install -c requirements.lock . \
    && pip check \
    && rm -rf /src/build

# A fixed numeric UID, so orchestrators can verify "runs as non-root".
RUN groupadd --system --gid 10001 flowmeter \
    && useradd --system --uid 10001 --gid flowmeter --create-home --shell /usr/sbin/nologin flowmeter \
    && mkdir /data \
    && chown flowmeter:flowmeter /data
# Declared after the chown: Docker copies a directory's owner into a new named
# volume, so the non-root worker can create the DuckDB file there. (A bind mount
# keeps the host directory's owner: make it writable by UID 10001.)
VOLUME ["/data"]

# Default for `flowmeter worker` in a container: the DuckDB file on the volume.
# No default bind address: the loopback default stays, and exposing a server is
# an explicit choice that comes with its credential (see the top of this file).
ENV FLOWMETER_DB=/data/flowmeter.duckdb

USER 10001:10001
WORKDIR /home/flowmeter
# 6066: worker HTTP (status, read-only SQL); 8501: Streamlit dashboard;
# 8088: webhook receiver.
EXPOSE 6066 8501 8088
CMD ["flowmeter", "worker"]
