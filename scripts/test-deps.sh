#!/usr/bin/env bash
# Installs what the test suite needs and this machine lacks: PostgreSQL (the store tests start
# a throwaway cluster of their own with initdb; nothing is started here).
set -euo pipefail

have_pg() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_pg; then
  echo "test-deps: installing PostgreSQL"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  # initdb refuses to run as root; the tests run it as this user.
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
echo "test-deps: PostgreSQL $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | head -n1 || command -v initdb)"
