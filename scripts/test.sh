#!/usr/bin/env bash
# What `make test` runs: dev install, ruff, mypy, the security checks (bandit, pip-audit), then
# pytest on SQLite and on PostgreSQL.
#
#   scripts/test.sh                   everything
#   scripts/test.sh --lint-only       ruff and mypy only (`make lint`)
#   scripts/test.sh --security-only   bandit and pip-audit only (`make check`)
#   scripts/test.sh -- -k queue   extra arguments after `--` go to both pytest runs
#
# PostgreSQL: $YUQING_TEST_POSTGRES_URL, else postgres://root@127.0.0.1:5432/test. When it
# cannot be reached the PostgreSQL run is skipped with a message, except with CI=true, where
# that is a failure. Redis and Chromium follow the same rule inside the suite.
#
# pip-audit needs its vulnerability database (OSV) from the network. When that cannot be
# reached the step says so and is skipped, in CI too, because the machines this runs on reach
# package registries only; set YUQING_REQUIRE_PIP_AUDIT=1 where the network is there to make
# an unreachable database a failure. bandit runs offline and fails on any high-severity finding.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
BIN=$VENV/bin
LINT_ONLY=false
SECURITY_ONLY=false
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --lint-only) LINT_ONLY=true ;;
    --security-only) SECURITY_ONLY=true ;;
    --) shift; PYTEST_ARGS=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

is_ci() { case "${CI:-}" in 1 | true | TRUE | True | yes) return 0 ;; esac; return 1; }

TIMINGS=()
step() {
  local name=$1; shift
  printf '\n=== %s\n' "$name"
  local start=$SECONDS
  "$@"
  TIMINGS+=("$(printf '%-28s %4ss' "$name" $((SECONDS - start)))")
}

ensure_venv() {
  if [ ! -x $BIN/python ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || { echo "Yuqing needs Python 3.11 or newer (set PYTHON=python3.11)" >&2; exit 1; }
    "$PYTHON" -m venv $VENV
  fi
  if [ ! -f $VENV/.installed-dev ] || [ pyproject.toml -nt $VENV/.installed-dev ]; then
    $BIN/pip install --quiet -e '.[dev]'
    touch $VENV/.installed-dev $VENV/.installed
  fi
}

# Settings write a secret key into the data dir on import; keep the checks out of var/.
SCRATCH=$(mktemp -d -t yuqing-make-test-XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

lint() {
  $BIN/ruff check .
  $BIN/ruff format --check .
}
types() { YUQING_DATA_DIR=$SCRATCH/mypy $BIN/mypy yuqing; }

# High-severity findings fail; medium and low ones are reviewed by hand (`# nosec` with a
# reason where a finding is a false alarm).
static_security() {
  $BIN/bandit -q -r yuqing -x '*/migrations/*' --severity-level high
  echo "bandit: no high-severity findings"
}

# The default PyPI service answers "not found on PyPI" for every package when it cannot reach
# its JSON API and still exits 0, which would read as "no known vulnerabilities"; the OSV
# service fails loudly instead, so an unreachable database is told apart from a clean audit.
dependency_audit() {
  local out status=0
  out=$($BIN/pip-audit --progress-spinner off --skip-editable -s osv 2>&1) || status=$?
  if [ $status -eq 0 ]; then
    printf '%s\n' "$out" | tail -n 20
    return 0
  fi
  if grep -qE 'ConnectionError|NameResolutionError|Failed to resolve|Max retries exceeded|Connection refused|timed out' <<<"$out"; then
    local why
    why=$(grep -oE "Failed to resolve '[^']*'|Connection refused|timed out" <<<"$out" | head -n 1)
    if [ "${YUQING_REQUIRE_PIP_AUDIT:-0}" = 1 ]; then
      echo "pip-audit cannot reach its vulnerability database (OSV): ${why:-network error}" >&2
      return 1
    fi
    echo "SKIPPED: pip-audit cannot reach its vulnerability database (OSV): ${why:-network error}."
    echo "         The dependencies were NOT audited; run 'make check' where the network is there."
    return 0
  fi
  printf '%s\n' "$out"
  return 1
}

# -n 2: the machines this runs on have two cores. Browser tests share one live server, so they
# stay together on one worker (xdist_group + loadgroup). $1 is DATABASE_URL, empty for SQLite.
# pytest's exit code 5 (nothing collected) fails the run like any other non-zero code.
pytest_run() {
  env -u REDIS_URL DATABASE_URL="$1" \
    $BIN/pytest -n "${YUQING_TEST_WORKERS:-2}" --dist loadgroup -p no:cacheprovider \
    ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"}
}

PG_URL=${YUQING_TEST_POSTGRES_URL:-postgres://root@127.0.0.1:5432/test}
postgres_reachable() {
  $BIN/python - "$PG_URL" <<'PY'
import sys
import psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as exc:  # any reason counts: the run is skipped (or fails in CI)
    print(" ".join(str(exc).split()), file=sys.stderr)
    sys.exit(1)
PY
}
postgres_suite() {
  if ! postgres_reachable; then
    if is_ci; then
      echo "PostgreSQL at $PG_URL is required in CI (CI=true) but cannot be reached" >&2
      return 1
    fi
    echo "SKIPPED: PostgreSQL at $PG_URL cannot be reached; the suite ran on SQLite only."
    TIMINGS+=("pytest (PostgreSQL)         skipped")
    return 0
  fi
  pytest_run "$PG_URL"
}

step "install (.venv, dev extras)" ensure_venv
if $SECURITY_ONLY; then
  step "bandit" static_security
  step "pip-audit" dependency_audit
  printf '\n=== timings\n'
  printf '%s\n' "${TIMINGS[@]}"
  exit 0
fi
step "ruff" lint
step "mypy" types
if ! $LINT_ONLY; then
  step "bandit" static_security
  step "pip-audit" dependency_audit
  step "pytest (SQLite)" pytest_run ""
  step "pytest (PostgreSQL)" postgres_suite
fi
printf '\n=== timings\n'
printf '%s\n' "${TIMINGS[@]}"
