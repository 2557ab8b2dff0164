# PostgreSQL 15 (Debian package `postgresql`) for the database probe tests, on 127.0.0.1.
#
# Prepares, under one folder the `postgres` user can reach ($BURNWATCH_TEST_PG_ROOT):
# - template/: an initdb'd data directory (scram-sha-256 over TCP, a random superuser
#   password) that tests copy to start their own clusters quickly (max_connections=3,
#   ssl=off, hung postmaster, ...), so tests that change server settings never interfere;
# - tls/: a test CA and a server certificate for localhost/127.0.0.1, generated now;
# - shared/: a running cluster with TLS on, for the tests that only need a normal server.
# PostgreSQL refuses to run as root, so when this runs as root (CI) the servers run as the
# `postgres` user (created if missing).
if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
  PG_BIN=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
else
  apt_install postgresql
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
command -v openssl >/dev/null 2>&1 || apt_install openssl

PG_RUNAS=
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  PG_RUNAS=postgres
fi
pg_as() { if [ -n "$PG_RUNAS" ]; then runuser -u "$PG_RUNAS" -- "$@"; else "$@"; fi; }

# /tmp rather than target/: the postgres user must be able to traverse every parent.
PG_ROOT=/tmp/burnwatch-pg-$(printf '%s' "$BURNWATCH_TEST_DIR" | md5sum | cut -c1-10)
if [ -f "$PG_ROOT/shared/postmaster.pid" ]; then
  pg_as "$PG_BIN/pg_ctl" -D "$PG_ROOT/shared" stop -m immediate >/dev/null 2>&1 || true
fi
for d in "$PG_ROOT"/clusters/*/; do
  [ -f "$d/postmaster.pid" ] && pg_as "$PG_BIN/pg_ctl" -D "$d" stop -m immediate >/dev/null 2>&1
done
rm -rf "$PG_ROOT"
mkdir -p "$PG_ROOT/tls" "$PG_ROOT/clusters"
chmod 755 "$PG_ROOT"

PG_PASSWORD=$(openssl rand -hex 16)
printf '%s\n' "$PG_PASSWORD" >"$PG_ROOT/pwfile"

# Test CA and server certificate (SAN localhost and 127.0.0.1), made at test time.
(
  cd "$PG_ROOT/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=burnwatch test CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >ext.cnf
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 200 \
    -extfile ext.cnf -out server.crt 2>/dev/null
  chmod 600 server.key
)
if [ -n "$PG_RUNAS" ]; then chown -R "$PG_RUNAS:" "$PG_ROOT"; fi

pg_as "$PG_BIN/initdb" -D "$PG_ROOT/template" -U postgres --pwfile="$PG_ROOT/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-instructions >"$PG_ROOT/initdb.log" 2>&1 \
  || { cat "$PG_ROOT/initdb.log" >&2; return 1; }
cat >>"$PG_ROOT/template/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF

pg_as cp -a "$PG_ROOT/template" "$PG_ROOT/shared"
PG_PORT=$(free_port)
pg_as "$PG_BIN/pg_ctl" -D "$PG_ROOT/shared" -l "$PG_ROOT/shared.log" -w -t 60 start \
  -o "-p $PG_PORT -k $PG_ROOT/shared -c ssl=on -c ssl_cert_file=$PG_ROOT/tls/server.crt -c ssl_key_file=$PG_ROOT/tls/server.key" >/dev/null \
  || { cat "$PG_ROOT/shared.log" >&2; return 1; }
BURNWATCH_TEST_PIDS+=("$(head -1 "$PG_ROOT/shared/postmaster.pid")")

export BURNWATCH_TEST_PG_HOST=127.0.0.1
export BURNWATCH_TEST_PG_PORT=$PG_PORT
export BURNWATCH_TEST_PG_USER=postgres
export BURNWATCH_TEST_PG_PASSWORD=$PG_PASSWORD
export BURNWATCH_TEST_PG_CA=$PG_ROOT/tls/ca.crt
export BURNWATCH_TEST_PG_SERVER_CERT=$PG_ROOT/tls/server.crt
export BURNWATCH_TEST_PG_SERVER_KEY=$PG_ROOT/tls/server.key
export BURNWATCH_TEST_PG_BIN=$PG_BIN
export BURNWATCH_TEST_PG_ROOT=$PG_ROOT
export BURNWATCH_TEST_PG_RUNAS=$PG_RUNAS
echo "postgres $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (TLS), template $PG_ROOT/template"
