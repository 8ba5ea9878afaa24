# One image for both flowmeter processes: `flowmeter worker` (the default) and
# `flowmeter dashboard`. docker-compose.yml runs it next to Apache Kafka.
#
#   docker build -t flowmeter .
#   docker run --rm -v flowmeter-data:/data flowmeter flowmeter worker --broker kafka://HOST:9092
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

# Defaults for `flowmeter worker` in a container: the DuckDB file on the volume,
# and the HTTP server bound to all interfaces (127.0.0.1 would be unreachable
# from other containers).
ENV FLOWMETER_DB=/data/flowmeter.duckdb \
    FLOWMETER_WEB_HOST=0.0.0.0

USER 10001:10001
WORKDIR /home/flowmeter
# 6066: worker HTTP (status, read-only SQL); 8501: Streamlit dashboard.
EXPOSE 6066 8501
CMD ["flowmeter", "worker"]
