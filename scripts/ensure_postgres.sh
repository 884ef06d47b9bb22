#!/bin/sh
# `make test` runs the suite on SQLite and on a throwaway PostgreSQL server (tests/pg_server.py).
# Install the server binaries when they are missing and we can (root with apt); never fail: without
# them the postgres tests skip with the reason (and fail under CI=true).
for dir in "$QUEUECTL_PG_BIN" /usr/lib/postgresql/*/bin; do
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && exit 0
done
command -v initdb >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: no PostgreSQL server binaries and no way to install them: the postgres tests will skip"
    exit 0
fi
echo "installing the PostgreSQL server for the tests (apt-get install postgresql-15)..."
# The tests start their own server: the package need not create and start a cluster of its own.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/queuectl-tests.conf
export DEBIAN_FRONTEND=noninteractive
install() {
    apt-get install -y -q --no-install-recommends "$@" >/tmp/queuectl-apt.log 2>&1
}
install postgresql-15 || { apt-get update -q >/tmp/queuectl-apt.log 2>&1; install postgresql-15 || install postgresql; } ||
    echo "note: could not install PostgreSQL (see /tmp/queuectl-apt.log): the postgres tests will skip"
exit 0
