#!/usr/bin/env bash
# Create/refresh .venv-jam/: a separate virtual environment with jira-agile-metrics 0.24,
# the reference implementation tests/jam/oracle.py runs. JAM 0.24 needs pandas<2 and numpy<2,
# which cannot live in the project's .venv. Versions are pinned in tests/jam/requirements.txt.
#
# Idempotent and quiet: when .venv-jam/ already holds exactly that requirements file (a stamp
# records its hash) and JAM imports, it returns at once. Exits non-zero with a message on failure.
#
# Python: pandas 1.5.3 has wheels for CPython <= 3.11 only. Set JAM_PYTHON to choose an
# interpreter; by default the first of python3.11, python3, python3.10, python3.9 that is < 3.12.
# Usage: bash scripts/jam-env.sh        (prints nothing on success)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-jam
req=tests/jam/requirements.txt
stamp=$venv/.requirements.sha256

die() { echo "jam-env: $*" >&2; exit 1; }

[ -f "$req" ] || die "missing $req"
want=$(sha256sum "$req" | cut -d' ' -f1)

check_versions() {  # cheap: package metadata only
  "$venv/bin/python" - <<'EOF' >/dev/null 2>&1
import importlib.metadata as m
assert m.version("jira-agile-metrics") == "0.24"
assert m.version("pandas").startswith("1.") and m.version("numpy").startswith("1.")
EOF
}

check_import() {  # thorough: JAM and the calculators the oracle uses really import
  "$venv/bin/python" - <<'EOF' >/dev/null 2>&1
import importlib.metadata as m
assert m.version("jira-agile-metrics") == "0.24"
import pandas, numpy
assert pandas.__version__.startswith("1.") and numpy.__version__.startswith("1.")
import jira_agile_metrics.calculators.cycletime, jira_agile_metrics.calculators.cfd
import jira_agile_metrics.calculators.throughput, jira_agile_metrics.calculators.wip
EOF
}

# Fast path: already installed from this exact requirements file.
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && check_versions; then
  exit 0
fi

pick_python() {
  local c
  for c in ${JAM_PYTHON:-python3.11 python3 python3.10 python3.9}; do
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] <= (3, 11) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

# A venv made by an unusable interpreter (or half-made) is rebuilt from scratch.
if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] <= (3, 11) else 1)' 2>/dev/null; then
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  py=$(pick_python) || die "need a Python 3.8-3.11 interpreter for jira-agile-metrics 0.24 (pandas 1.5.3 has no wheels for 3.12+); set JAM_PYTHON"
  rm -rf "$venv"
  log=$("$py" -m venv "$venv" 2>&1) || die "'$py -m venv $venv' failed (on Debian: apt-get install python3-venv): $log"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "pip install -r $req into $venv failed (see above)"
fi
check_import || die "jira-agile-metrics 0.24 does not import in $venv after install"
echo "$want" >"$stamp"
