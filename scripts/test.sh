#!/usr/bin/env bash
# Install what the test suite needs on a fresh machine, then run the whole suite: lint and type
# checks (scripts/check) first, then the tests.
# Used as-is by CI (.ci/run). Extra arguments go to pytest, e.g. `bash scripts/test.sh -k store`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages. docker-compose validates docker-compose.yml (`config -q` needs no engine);
# chromium is the browser tests/test_browser.py drives through Playwright (which downloads none).
need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} missing and cannot be installed here (not root/apt); the compose test is" \
         "skipped without docker-compose and the browser test fails without chromium" >&2
  fi
fi

# jira-agile-metrics 0.24, the reference some metric tests compare against, needs pandas<2
# and numpy<2: it gets an environment of its own (.venv-jam). Built on a clean clone it takes about
# a minute and a half, mostly waiting on the package index and unpacking, so it runs in the
# background while the project's packages install and the checks run; the tests wait for it.
jam_log=$(mktemp)
bash scripts/jam-env.sh >"$jam_log" 2>&1 &
jam=$!
trap 'kill "$jam" 2>/dev/null || true; rm -f "$jam_log"' EXIT  # a failed step stops it too

# Python packages, pinned by requirements.lock, in the project's own virtual environment.
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'

# Lint (ruff) and types (mypy), with the pinned tools just installed: a finding fails the run,
# before the slower steps below.
bash scripts/check

# The jira-agile-metrics environment started above: its messages, and its failure fails the run.
jam_status=0
wait "$jam" || jam_status=$?
cat "$jam_log" >&2
rm -f "$jam_log"
trap - EXIT
[ "$jam_status" = 0 ] || exit "$jam_status"

# pytest exits 5 when no test ran: with `set -e` and `exec` that fails the run, as it should.
# Three processes (pytest-xdist), a file's tests kept together: most tests wait on brokers, workers
# and the browser rather than compute, so three keep two cores busier than two did (1,315 tests on a
# clean clone: 6.4 min of pytest with three, 7.7-9.0 with two; 12.7 for ~1,100 in one).
# Files holding tests marked `heavy` are handed out first (tests/README.md#how-the-suite-is-shared-out).
exec .venv/bin/python -m pytest -n 3 --dist loadfile "$@"
