#!/usr/bin/env bash
# bench.sh -- the benchmark suite, run by `make bench` (test/tools/run.sh
# bench) against a throwaway server it is given: PGHOST, PGPORT, PGUSER
# set, BENCH_DIR a directory that server can read and this script write.
#
# Every workload and baseline loads the same seeded events, in the same
# run, repetitions alternating (A B C D A B C D ...), each in a fresh
# database; the table reports medians and min-max.
#
#   W1  stream + one continuous view (per sensor per minute: count, sum,
#       avg, min, max), events loaded by COPY in statements of 100,000
#   B0  COPY into a plain table: the ceiling for durable ingest
#   B1  COPY into a plain table with a statement-level AFTER trigger over
#       its transition table merging into a result table (ON CONFLICT)
#   B3  COPY into a plain table, then one INSERT ... SELECT ... GROUP BY
#
# End to end: from the start of the load until the results are final
# (W1: flush() returned).  Writer side: until the last COPY returned.
# Every result table is checked against the oracle (the GROUP BY over
# the loaded events) once per workload.
#
# BENCH_EVENTS (5000000), BENCH_REPS (3); BENCH_SCALE=smoke runs 200,000
# events once, in seconds.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
events=${BENCH_EVENTS:-5000000}
reps=${BENCH_REPS:-3}
if [ "${BENCH_SCALE:-}" = smoke ]; then
    events=200000
    reps=1
fi
chunk=100000
dir=${BENCH_DIR:?}
results=$dir/results.tsv
: >"$results"

psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }

# Seeded data: sensor_id over 1,000 keys, temp, ts spanning one hour in
# order with a few seconds of jitter; one csv file per COPY statement.
echo "== generating $events events in files of $chunk"
psqlq -d postgres -v events="$events" -v chunk="$chunk" -v dir="$dir" -f "$here/generate.sql"
nchunks=$(( (events + chunk - 1) / chunk ))

load_script() {     # $1: table
    local i
    for ((i = 0; i < nchunks; i++)); do
        echo "COPY $1 (sensor_id, temp, ts) FROM '$dir/events_$i.csv' (FORMAT csv);"
    done
}

worker_cpu() {      # $1: database -> utime+stime of its stream_ext worker, in clock ticks
    local pid
    pid=$(psql -X -At -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker' AND datname = '$1'")
    if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
        awk '{print $14 + $15}' "/proc/$pid/stat"
    else
        echo 0
    fi
}

phase() {           # $1: workload, $2: database, $3: phase -> output
    local p args=()
    for p in setup finish storage; do
        if [ "$p" = "$3" ]; then args+=(-v "$p=true"); else args+=(-v "$p=false"); fi
    done
    psql -X -q -At -v ON_ERROR_STOP=1 "${args[@]}" -d "$2" -f "$here/$1.sql"
}

run_one() {         # $1: workload, $2: repetition
    local w=$1 rep=$2 db=bench_$1_$2 t0 t1 t2 wal0 wal1 cpu0 cpu1 storage verified=-
    psqlq -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    phase "$w" "$db" setup >/dev/null
    psqlq -d "$db" -c "CHECKPOINT"
    load_script ev >"$dir/load_$w.sql"
    cpu0=$(worker_cpu "$db")
    wal0=$(psql -X -At -d "$db" -c "SELECT pg_current_wal_lsn()")
    t0=$(now)
    psqlq -d "$db" -f "$dir/load_$w.sql"
    t1=$(now)
    phase "$w" "$db" finish >/dev/null
    t2=$(now)
    wal1=$(psql -X -At -d "$db" -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal0')")
    cpu1=$(worker_cpu "$db")
    storage=$(phase "$w" "$db" storage)
    if [ "$rep" -eq 1 ] && [ "$w" != b0 ]; then
        psqlq -d "$db" -c "CREATE TABLE oracle_events (sensor_id int, temp float8, ts timestamptz)"
        load_script oracle_events | psqlq -d "$db"
        verified=$(psql -X -At -d "$db" -f "$here/verify.sql")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$rep" \
        "$(python3 -c "print($t2 - $t0)")" "$(python3 -c "print($t1 - $t0)")" "$wal1" \
        "$(( cpu1 - cpu0 ))" "$storage" "$verified" >>"$results"
    psqlq -d postgres -c "DROP DATABASE $db"
}

for ((rep = 1; rep <= reps; rep++)); do
    for w in b0 w1 b1 b3; do
        echo "== repetition $rep: $w"
        run_one "$w" "$rep"
    done
done

python3 "$here/report.py" "$results" "$events" "$(getconf CLK_TCK)"
