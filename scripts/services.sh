# Sourced by scripts/test.sh and bench/*.sh: installs PostgreSQL and Redis when missing, starts
# a private PostgreSQL cluster and a Redis server on free 127.0.0.1 ports under a temporary
# folder, exports the environment fluxa reads, and sets a trap that stops both and removes the
# folder on exit. Extra `postgres -c` settings come from the array PG_EXTRA (set it before
# sourcing): tests turn durability off for speed, benchmarks keep it and size the caches.
#
# Sets: ROOT, TMP, PG_PORT, REDIS_PORT, pg_bin, as_pg (array), DATABASE_URL, CELERY_BROKER_URL,
# CACHE_URL, REDIS_URL, SECRET_KEY, FLUXA_ENCRYPTION_KEYS, FLUXA_DATA_DIR, BCL_DATA_DIR.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_EXTRA=("${PG_EXTRA[@]+"${PG_EXTRA[@]}"}")

need_apt=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v curl >/dev/null || need_apt+=(curl)        # the README's signed-request example
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "services.sh: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

free_port() { "$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

TMP=$(mktemp -d -t fluxa-services-XXXXXX)
chmod 755 "$TMP"
PG_PORT=$(free_port)
REDIS_PORT=$(free_port)
# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_pg=(runuser -u postgres --)
fi
mkdir -p "$TMP/pg"
[ "$(id -u)" -ne 0 ] || chown postgres "$TMP/pg"

services_stop() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$TMP/pg/data" -m fast stop >/dev/null 2>&1 || true
  if [ -f "$TMP/redis.pid" ]; then kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap services_stop EXIT

pg_opts="-p $PG_PORT -k $TMP/pg -c listen_addresses=127.0.0.1"
for setting in "${PG_EXTRA[@]+"${PG_EXTRA[@]}"}"; do pg_opts+=" -c $setting"; done
"${as_pg[@]}" "$pg_bin/initdb" -D "$TMP/pg/data" -U fluxa --auth=trust -E UTF8 --no-locale >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/log" -w -o "$pg_opts" start >/dev/null
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize yes --pidfile "$TMP/redis.pid" --dir "$TMP" --logfile "$TMP/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U fluxa fluxa

export DATABASE_URL="postgres://fluxa@127.0.0.1:$PG_PORT/fluxa"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CACHE_URL="rediscache://127.0.0.1:$REDIS_PORT/1"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/2"
export SECRET_KEY="local-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FLUXA_ENCRYPTION_KEYS=$("$ROOT/.venv/bin/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export FLUXA_DATA_DIR="$TMP/data"
export BCL_DATA_DIR="$TMP/bitcoinlib"
mkdir -p "$FLUXA_DATA_DIR/staticfiles" "$BCL_DATA_DIR"
