#!/usr/bin/env bash
# Install and start what the browser and database tests need: Debian's Chromium and PostgreSQL.
# Idempotent; without root it only reports what is missing (those tests then skip, except in CI).
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-liberation)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: not root; missing ${need[*]} (browser/PostgreSQL tests will skip)" >&2
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "$(id -u)" -eq 0 ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  version=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster "$version" main status >/dev/null 2>&1 || pg_ctlcluster "$version" main start
  # A password-protected role and database for the tests (INKWELL_TEST_POSTGRES_URL below).
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='inkwell'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE inkwell LOGIN PASSWORD 'inkwell' CREATEDB\""
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='inkwell_test'\"" | grep -q 1 ||
    su postgres -c "createdb -O inkwell inkwell_test"
fi
