# Sourced by bench/run.sh and bench/run_webhooks.sh: the private servers of scripts/services.sh
# with PostgreSQL's durable defaults (fsync, synchronous_commit and full_page_writes on:
# commits cost what they cost in production) and memory sized for a 1,000,000-order table.
# pg_stat_statements is not loaded (it would tax both sides).
PG_EXTRA=(max_connections=100 shared_buffers=1GB effective_cache_size=4GB work_mem=16MB
          maintenance_work_mem=512MB max_wal_size=4GB checkpoint_timeout=15min)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/services.sh"
export BENCH_TMP="$TMP" BENCH_PG_BIN="$pg_bin" BENCH_PG_PORT="$PG_PORT"
