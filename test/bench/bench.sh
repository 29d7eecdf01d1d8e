#!/usr/bin/env bash
# bench.sh -- the benchmark suite, run by `make bench` (test/tools/run.sh
# bench) against a throwaway server it is given: PGHOST, PGPORT, PGUSER
# set, BENCH_DIR a directory that server can read and this script write.
#
# Every workload and baseline of a data set loads the same seeded events,
# in the same run, repetitions alternating (A B C ... A B C ...), each in a
# fresh database; the tables report medians and min-max.
#
# Data set "1k": sensor over 1,000 keys, one hour in order with a few
# seconds of jitter (about 60,000 sensor-minutes).  Loaded by COPY in
# statements of 100,000 events into:
#   W1  a stream with one continuous view (per sensor per minute: count,
#       sum, avg, min, max)
#   W2  a stream with five views (W1's, a hopping window, other keys and
#       windows, hll and tdigest)
#   B0  a plain table: the ceiling for durable ingest
#   B1  a plain table with a statement-level AFTER trigger over its
#       transition table merging into a result table (ON CONFLICT)
#   B2  the same with a row-level trigger
#   B3  a plain table, then one INSERT ... SELECT ... GROUP BY
# Data set "1m": the same with 1,000,000 keys, each sensor's events five
# consecutive ones (about a million sensor-minutes): W3 (W1's view), B0,
# B1, B3.
# W4: pgbench, 8 clients, 1-10 events per transaction (insert.pgbench),
# into a stream with W1's view and, alternating, into a plain table (P4);
# freshness probed meanwhile (w4.sql).
# W5: bulk load: every event in ONE COPY transaction into W1's stream and
# view, against B3 loaded the same way (B3t), on both data sets (W5m and
# B3tm on "1m").  B35: COPY then W2's five queries (b35.sql), W2's baseline.
# Catch-up (CU1, CU10): W1's view paused over a backlog of events / 5 and
# of twice the events (1 M and 10 M by default), resumed: events/s until
# flush() returns.  Parallel catch-up (PAR1, PAR2): two streams with W1's
# view, each with a backlog of every event, resumed together with
# stream_ext.max_workers_per_database = 1, then 2.
# The engine's overhead factor: the worker's CPU seconds over W1's and W3's
# loads against those of one plain GROUP BY of W1's query over the same
# rows without parallel workers (groupby_cpu.sql, measured after B3t).
#
# End to end: from the start of the load until the results are final
# (streams: flush() returned).  Writer side: until the last COPY returned.
# Worker memory: the stream_ext worker's peak anonymous resident memory
# (RssAnon), sampled every 0.1 s.  Every result is checked against the
# oracle once per workload (the first repetition).
#
# BENCH_EVENTS (5000000), BENCH_REPS (3), BENCH_W4_SECONDS (30);
# BENCH_SCALE=smoke runs 200,000 events once and W4 for 3 s; BENCH_ONLY,
# a list of labels (e.g. "w2 w4"), runs only those workloads (a baseline on
# every data set it has a job on) and the baselines their ratios need (B0
# of the same data set, P4 for W4).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
events=${BENCH_EVENTS:-5000000}
reps=${BENCH_REPS:-3}
w4_seconds=${BENCH_W4_SECONDS:-30}
if [ "${BENCH_SCALE:-}" = smoke ]; then
    events=200000
    reps=1
    w4_seconds=3
fi
chunk=100000
dir=${BENCH_DIR:?}
results=$dir/results.tsv
: >"$results"

psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
nchunks=$(( (events + chunk - 1) / chunk ))

generate() {        # $1: data set, $2: keys, $3: consecutive events per key
    echo "== generating $events events over $2 keys in files of $chunk ($1)"
    mkdir -p "$dir/$1"
    psqlq -d postgres -v events="$events" -v chunk="$chunk" -v keys="$2" -v run="$3" \
        -v dir="$dir/$1" -f "$here/generate.sql"
}

load_script() {     # $1: table, $2: data set
    local i
    for ((i = 0; i < nchunks; i++)); do
        echo "COPY $1 (sensor_id, temp, ts) FROM '$dir/$2/events_$i.csv' (FORMAT csv);"
    done
}

worker_pid() {      # $1: database
    psql -X -At -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker' AND datname = '$1'"
}

worker_cpu() {      # $1: pid or empty -> utime+stime in clock ticks
    if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
        awk '{print $14 + $15}' "/proc/$1/stat"
    else
        echo 0
    fi
}

sample_memory() {   # $1: pid, $2: file; writes the peak RssAnon (kB) until killed
    local peak=0 kb
    while [ -r "/proc/$1/status" ]; do
        kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
        if [ "${kb:-0}" -gt "$peak" ]; then peak=$kb; echo "$peak" >"$2"; fi
        sleep 0.1
    done
}

phase() {           # $1: workload script, $2: database, $3: phase -> output
    local p args=()
    for p in setup finish storage verify; do
        if [ "$p" = "$3" ]; then args+=(-v "$p=true"); else args+=(-v "$p=false"); fi
    done
    psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 "${args[@]}" -d "$2" -f "$here/$1.sql"
}

verdict() {         # stdin: "table wrong rows" lines -> one word for the table
    awk 'BEGIN { bad = ""; rows = 0; n = 0 }
         { n++; rows += $3; if ($2 != 0) bad = bad " " $1 "(" $2 " rows differ)" }
         END { if (n == 0) print "-"; else if (bad != "") print "WRONG:" bad;
               else printf "verified (%d rows in %d table%s)\n", rows, n, (n > 1) ? "s" : "" }'
}

start_workload() {  # $1: script, $2: database; sets pid, memfile, sampler, cpu0, wal0
    PGOPTIONS="-c client_min_messages=warning" psqlq -d postgres -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2"
    phase "$1" "$2" setup >/dev/null
    psqlq -d "$2" -c "CHECKPOINT"
    pid=$(worker_pid "$2")
    memfile=$dir/memory.$2
    echo 0 >"$memfile"
    sampler=
    if [ -n "$pid" ]; then
        sample_memory "$pid" "$memfile" &
        sampler=$!
    fi
    cpu0=$(worker_cpu "$pid")
    wal0=$(psql -X -At -d "$2" -c "SELECT pg_current_wal_lsn()")
}

stop_sampler() {
    if [ -n "${sampler:-}" ]; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; fi
    sampler=
}
trap stop_sampler EXIT

run_one() {         # $1: label, $2: workload script, $3: data set, $4: repetition, $5: "onetx"
    local label=$1 w=$2 set=$3 rep=$4 db=bench_$1_$4 t0 t1 t2 wal1 cpu1 storage verified=- groupby=0
    start_workload "$w" "$db"
    if [ "${5:-}" = onetx ]; then
        { echo "BEGIN;"; load_script ev "$set"; echo "COMMIT;"; } >"$dir/load_$db.sql"
    else
        load_script ev "$set" >"$dir/load_$db.sql"
    fi
    t0=$(now)
    psqlq -d "$db" -f "$dir/load_$db.sql"
    t1=$(now)
    phase "$w" "$db" finish >/dev/null
    t2=$(now)
    wal1=$(psql -X -At -d "$db" -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal0')")
    cpu1=$(worker_cpu "$pid")
    stop_sampler
    storage=$(phase "$w" "$db" storage)
    if [ "${5:-}" = onetx ] && [ "$w" = b3 ]; then
        groupby=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -f "$here/groupby_cpu.sql")
    fi
    if [ "$rep" -eq 1 ] && [ "$w" != b0 ]; then
        psqlq -d "$db" -c "CREATE TABLE oracle_events (sensor_id int, temp float8, ts timestamptz)"
        load_script oracle_events "$set" | psqlq -d "$db"
        verified=$(phase "$w" "$db" verify | verdict)
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$set" "$rep" \
        "$(python3 -c "print($events / ($t2 - $t0))")" "$(python3 -c "print($events / ($t1 - $t0))")" \
        "$(python3 -c "print($wal1 / $events)")" "$(( cpu1 - cpu0 ))" "$(cat "$memfile")" \
        "${storage:-0}" "$verified" "${groupby:-0}" >>"$results"
    psqlq -d postgres -c "DROP DATABASE $db"
}

set_workers() {     # $1: stream_ext.max_workers_per_database
    psqlq -d postgres -c "ALTER SYSTEM SET stream_ext.max_workers_per_database = $1" \
        -c "SELECT pg_reload_conf()" >/dev/null
}

run_catchup() {     # $1: label, $2: events in the backlog, $3: repetition
    local label=$1 n=$2 rep=$3 db=bench_$1_$3 t0 t1 cpu1 i loaded=0 verified=-
    start_workload w1 "$db"
    psqlq -d "$db" -c "SELECT stream_ext.pause_continuous_view('result')" >/dev/null
    : >"$dir/load_$db.sql"
    while [ "$loaded" -lt "$n" ]; do
        for ((i = 0; i < nchunks && loaded < n; i++)); do
            echo "COPY ev (sensor_id, temp, ts) FROM '$dir/1k/events_$i.csv' (FORMAT csv);" >>"$dir/load_$db.sql"
            loaded=$((loaded + chunk))
        done
    done
    psqlq -d "$db" -f "$dir/load_$db.sql"
    psqlq -d "$db" -c "CHECKPOINT"
    pid=$(worker_pid "$db")
    cpu0=$(worker_cpu "$pid")
    t0=$(now)
    psqlq -d "$db" -c "SELECT stream_ext.resume_continuous_view('result')" -c "SELECT stream_ext.flush('1 hour')" >/dev/null
    t1=$(now)
    cpu1=$(worker_cpu "$pid")
    stop_sampler
    if [ "$rep" -eq 1 ]; then
        verified=$(psql -X -At -d "$db" -c "SELECT 'result', (SELECT sum(n) FROM result) - $loaded, (SELECT count(*) FROM result)" | tr '|' ' ' | verdict)
    fi
    printf '%s\tcatchup\t%s\t%s\t%s\t0\t%s\t%s\t0\t%s\t0\n' "$label" "$rep" \
        "$(python3 -c "print($loaded / ($t1 - $t0))")" "$loaded" "$(( cpu1 - cpu0 ))" "$(cat "$memfile")" \
        "$verified" >>"$results"
    psqlq -d postgres -c "DROP DATABASE $db"
}

run_parallel() {    # $1: label, $2: workers per database, $3: repetition
    local label=$1 workers=$2 rep=$3 db=bench_$1_$3 t0 t1 verified=-
    set_workers "$workers"
    start_workload w1 "$db"
    psqlq -d "$db" -c "CREATE TABLE ev2 (sensor_id int NOT NULL, temp float8 NOT NULL, ts timestamptz NOT NULL)" \
        -c "SELECT stream_ext.create_stream('ev2', event_time => 'ts')" \
        -c "SELECT stream_ext.create_continuous_view('result2', \$\$
              SELECT sensor_id, stream_ext.tumble(ts, '1 minute') AS minute,
                     count(*) AS n, sum(temp) AS total, avg(temp) AS avg_temp, min(temp) AS lo, max(temp) AS hi
                FROM ev2 GROUP BY sensor_id, minute\$\$, paused => true)" \
        -c "SELECT stream_ext.pause_continuous_view('result')" >/dev/null
    { load_script ev 1k; load_script ev2 1k; } | psqlq -d "$db"
    psqlq -d "$db" -c "CHECKPOINT"
    t0=$(now)
    psqlq -d "$db" -c "SELECT stream_ext.resume_continuous_view('result'), stream_ext.resume_continuous_view('result2')" \
        -c "SELECT stream_ext.flush('1 hour')" >/dev/null
    t1=$(now)
    stop_sampler
    if [ "$rep" -eq 1 ]; then
        verified=$(psql -X -At -d "$db" -c "SELECT 'result', (SELECT sum(n) FROM result) + (SELECT sum(n) FROM result2) - 2 * $events, (SELECT count(*) FROM result) + (SELECT count(*) FROM result2)" | tr '|' ' ' | verdict)
    fi
    printf '%s\tparallel\t%s\t%s\t%s\t0\t0\t0\t0\t%s\t0\n' "$label" "$rep" \
        "$(python3 -c "print(2 * $events / ($t1 - $t0))")" "$workers" "$verified" >>"$results"
    psqlq -d postgres -c "DROP DATABASE $db"
    set_workers 1
}

run_w4() {          # $1: p4 or w4, $2: repetition
    local w=$1 rep=$2 db=bench_$1_$2 out tps fresh verified=- p50=- p99=- cpu1 probe=
    start_workload "$w" "$db"
    if [ "$w" = w4 ]; then
        psqlq -d "$db" -c "CALL probe($w4_seconds - 1)" &
        probe=$!
    fi
    out=$(pgbench -n -c 8 -j 2 -T "$w4_seconds" -f "$here/insert.pgbench" "$db" 2>&1) || { echo "$out" >&2; return 1; }
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')
    if [ -n "$probe" ]; then wait "$probe"; fi
    phase "$w" "$db" finish >/dev/null
    cpu1=$(worker_cpu "$pid")
    stop_sampler
    if [ "$w" = w4 ]; then
        fresh=$(phase "$w" "$db" verify)
        verified=$(echo "$fresh" | grep -v '^freshness' | verdict)
        p50=$(echo "$fresh" | awk '$1 == "freshness" {print $2}')
        p99=$(echo "$fresh" | awk '$1 == "freshness" {print $3}')
    fi
    printf '%s\tpgbench\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$rep" "$tps" "$p50" "$p99" \
        "$(( cpu1 - cpu0 ))" "$(cat "$memfile")" "$w4_seconds" "$verified" >>"$results"
    psqlq -d postgres -c "DROP DATABASE $db"
}

# Whether a job runs: every one, or those BENCH_ONLY names, with B0 on the
# data sets they use and P4 with W4.
only=${BENCH_ONLY:-}
selected() {        # $1: label, $2: data set
    [ -z "$only" ] && return 0
    local l
    for l in $only; do
        [ "$l" = "$1" ] && return 0
        [ "$1" = b0 ] && [ "$l" != w4 ] && [ "$l" != p4 ] && [ "$(set_of "$l")" = "$2" ] && return 0
        [ "$1" = b3t ] && [ "$l" = w5 ] && return 0
        [ "$1" = b3tm ] && [ "$l" = w5m ] && return 0
        [ "$1" = b35 ] && [ "$l" = w2 ] && return 0
        [ "$1" = cu1 ] && [ "$l" = cu10 ] && return 0
        [ "$1" = par1 ] && [ "$l" = par2 ] && return 0
        [ "$1" = p4 ] && [ "$l" = w4 ] && return 0
    done
    return 1
}
set_of() { case "$1" in w3|w5m|b3tm) echo 1m ;; *) echo 1k ;; esac; }
uses_set() {        # $1: data set
    [ -z "$only" ] && return 0
    local l
    for l in $only; do
        case "$l" in w4|p4) ;; cu*|par*) [ "$1" = 1k ] && return 0 ;; *) [ "$(set_of "$l")" = "$1" ] && return 0 ;; esac
    done
    return 1
}

uses_set 1k && generate 1k 1000 1
uses_set 1m && generate 1m 1000000 5

for ((rep = 1; rep <= reps; rep++)); do
    for job in b0:b0:1k w1:w1:1k w2:w2:1k b1:b1:1k b2:b2:1k b3:b3:1k b35:b35:1k \
               w5:w1:1k:onetx b3t:b3:1k:onetx \
               b0:b0:1m w3:w1:1m b1:b1:1m b3:b3:1m w5m:w1:1m:onetx b3tm:b3:1m:onetx; do
        IFS=: read -r label w set mode <<<"$job"
        selected "$label" "$set" || continue
        echo "== repetition $rep: $label on $set${mode:+ ($mode)}"
        run_one "$label" "$w" "$set" "$rep" "$mode"
    done
    for job in cu1:$((events / 5)) cu10:$((events * 2)); do
        IFS=: read -r label n <<<"$job"
        selected "$label" - || continue
        echo "== repetition $rep: $label (catch-up of $n events)"
        run_catchup "$label" "$n" "$rep"
    done
    for job in par1:1 par2:2; do
        IFS=: read -r label workers <<<"$job"
        selected "$label" - || continue
        echo "== repetition $rep: $label (two streams' backlogs, $workers worker(s))"
        run_parallel "$label" "$workers" "$rep"
    done
    for w in p4 w4; do
        selected "$w" - || continue
        echo "== repetition $rep: $w (pgbench, $w4_seconds s)"
        run_w4 "$w" "$rep"
    done
done

python3 "$here/report.py" "$results" "$events" "$(getconf CLK_TCK)"
