#!/usr/bin/env bash
# What `make test` runs: dev install, ruff, mypy, then pytest on SQLite and on PostgreSQL.
#
#   scripts/test.sh               everything
#   scripts/test.sh --lint-only   ruff and mypy only (`make lint`)
#   scripts/test.sh -- -k queue   extra arguments after `--` go to both pytest runs
#
# PostgreSQL: $YUQING_TEST_POSTGRES_URL, else postgres://root@127.0.0.1:5432/test. When it
# cannot be reached the PostgreSQL run is skipped with a message, except with CI=true, where
# that is a failure. Redis and Chromium follow the same rule inside the suite.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
BIN=$VENV/bin
LINT_ONLY=false
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --lint-only) LINT_ONLY=true ;;
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
step "ruff" lint
step "mypy" types
if ! $LINT_ONLY; then
  step "pytest (SQLite)" pytest_run ""
  step "pytest (PostgreSQL)" postgres_suite
fi
printf '\n=== timings\n'
printf '%s\n' "${TIMINGS[@]}"
