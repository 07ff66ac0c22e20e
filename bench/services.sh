# Sourced by bench/run.sh: a private PostgreSQL cluster and a Redis server on free 127.0.0.1
# ports under a temporary folder (the approach of scripts/test.sh, copied so that the test
# runner stays untouched), the environment fluxa reads, and a trap that stops both and removes
# the folder. Unlike the test servers, PostgreSQL keeps its durable defaults (fsync,
# synchronous_commit and full_page_writes on): commits cost what they cost in production.
#
# Sets: ROOT, TMP, PG_PORT, REDIS_PORT, pg_bin, as_pg (array), DATABASE_URL and the rest.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

need_apt=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bench: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

free_port() { "$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

TMP=$(mktemp -d -t fluxa-bench-XXXXXX)
chmod 755 "$TMP"
PG_PORT=$(free_port)
REDIS_PORT=$(free_port)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_pg=(runuser -u postgres --)
  mkdir -p "$TMP/pg" && chown postgres "$TMP/pg"
fi

bench_services_stop() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$TMP/pg/data" -m fast stop >/dev/null 2>&1 || true
  if [ -f "$TMP/redis.pid" ]; then kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap bench_services_stop EXIT

# Memory settings for a 1,000,000-order table on a machine with a few GB to spare; everything
# else is PostgreSQL's default. pg_stat_statements is not loaded (it would tax both sides).
PG_OPTS="-p $PG_PORT -k $TMP/pg -c listen_addresses=127.0.0.1 -c max_connections=100"
PG_OPTS+=" -c shared_buffers=1GB -c effective_cache_size=4GB -c work_mem=16MB"
PG_OPTS+=" -c maintenance_work_mem=512MB -c max_wal_size=4GB -c checkpoint_timeout=15min"

"${as_pg[@]}" "$pg_bin/initdb" -D "$TMP/pg/data" -U fluxa --auth=trust -E UTF8 --no-locale >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/log" -w -o "$PG_OPTS" start >/dev/null
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize yes --pidfile "$TMP/redis.pid" --dir "$TMP" --logfile "$TMP/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U fluxa fluxa

export DATABASE_URL="postgres://fluxa@127.0.0.1:$PG_PORT/fluxa"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CACHE_URL="rediscache://127.0.0.1:$REDIS_PORT/1"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/2"
export SECRET_KEY="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FLUXA_ENCRYPTION_KEYS=$("$ROOT/.venv/bin/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export FLUXA_DATA_DIR="$TMP/data"
export BCL_DATA_DIR="$TMP/bitcoinlib"
export BENCH_TMP="$TMP" BENCH_PG_BIN="$pg_bin" BENCH_PG_PORT="$PG_PORT"
mkdir -p "$FLUXA_DATA_DIR/staticfiles" "$BCL_DATA_DIR"
