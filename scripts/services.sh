#!/usr/bin/env bash
# Starts the local services the tests use when they are down (the machine usually has them
# running already) and creates what the tests need. Idempotent.
set -u

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 1; done; echo "service on port $1 did not start" >&2; return 1; }

if ! up 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for 5432
fi
if ! up 3306; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_for 3306
fi
if ! up 6379; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_for 6379
fi
if ! up 5672; then
  rabbitmq-server -detached || true
  wait_for 5672
fi

# The console's browser tests drive Debian's chromium (Playwright never downloads one).
command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
  || echo "chromium is missing and could not be installed: the browser tests will fail" >&2

# What the tests need: the `test` databases, and LOAD DATA LOCAL INFILE on MariaDB.
psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test; SET GLOBAL local_infile = 1;" \
  || mysql -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test; SET GLOBAL local_infile = 1;"
exit 0
