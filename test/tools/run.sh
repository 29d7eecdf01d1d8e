#!/usr/bin/env bash
# run.sh test|demo -- what `make test` and `make demo` do.
#
# On a fresh Debian 12 machine with PostgreSQL 15 (run as root):
#   1. installs the Debian packages that are missing,
#   2. copies the tree to a directory the postgres OS user can write
#      (the clone may sit in root's home, which postgres cannot read),
#   3. builds there with -Werror and installs the extension,
#   4. test: runs the regression, isolation and TAP suites as postgres,
#      each against a temporary instance, and ends with "N passed, N failed";
#      demo: starts a throwaway cluster, runs test/tools/demo.sql, stops it;
#      bench: starts a throwaway cluster and runs test/bench/bench.sh.
#
# Run as another user, it skips step 1 and expects PostgreSQL's directories
# to be writable by that user.  Concurrent runs on one machine wait for
# each other (flock), since each installs into the same directories.
set -euo pipefail

mode=${1:-test}

# One run at a time per machine: every run installs the extension into
# PostgreSQL's shared directories and starts servers on the same ports.
if [ -z "${STREAM_EXT_RUN_LOCKED:-}" ] && command -v flock >/dev/null; then
    export STREAM_EXT_RUN_LOCKED=1
    exec flock "${TMPDIR:-/tmp}/stream_ext-run.lock" bash "${BASH_SOURCE[0]}" "$@"
fi
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
packages="make gcc postgresql-15 postgresql-client-15 postgresql-server-dev-15 libipc-run-perl postgresql-15-hll postgresql-15-tdigest"

log() { printf '== %s\n' "$*"; }

ensure_packages() {
    local missing=""
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages:$missing (run as root, or install them)" >&2
        exit 1
    fi
    log "installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

# The user that runs initdb and the servers.
if [ "$(id -u)" -eq 0 ]; then
    runas=postgres
    as_runner() { runuser -u postgres -- "$@"; }
else
    runas=$(id -un)
    as_runner() { "$@"; }
fi

ensure_packages

PG_CONFIG=${PG_CONFIG:-pg_config}
bindir=$("$PG_CONFIG" --bindir)

# A private copy of the tree that $runas can write.
work=${STREAM_EXT_WORKDIR:-${TMPDIR:-/tmp}/stream_ext-$(id -un)-$(printf '%s' "$top" | cksum | cut -d' ' -f1)}
rm -rf "$work"
mkdir -p "$work"
tar -C "$top" --exclude=.git --exclude=.demo --exclude='tmp_check*' --exclude=results -cf - . | tar -C "$work" -xf -
[ "$(id -u)" -eq 0 ] && chown -R "$runas" "$work"

log "building in $work"
make -C "$work" -s clean >/dev/null
make -C "$work" -s PG_CONFIG="$PG_CONFIG" STREAM_EXT_CFLAGS=-Werror
make -C "$work" -s PG_CONFIG="$PG_CONFIG" install >/dev/null

# Version 0.1.0, for the update test (test/t/014_upgrade.pl): the tree as
# it was before the commit that added version 0.2.0's install script (since
# built from sql/install), from the git history (a tree without it skips
# that test).
if [ "$mode" = test ] && v010=$(git -C "$top" log --diff-filter=A --format=%H -1 -- sql/stream_ext--0.2.0.sql 2>/dev/null) &&
    [ -n "$v010" ] && git -C "$top" cat-file -e "$v010^" 2>/dev/null; then
    log "building version 0.1.0 (${v010:0:7}^) for the update test"
    mkdir -p "$work/.v0.1.0"
    git -C "$top" archive "$v010^" | tar -C "$work/.v0.1.0" -xf -
    make -C "$work/.v0.1.0" -s PG_CONFIG="$PG_CONFIG" >/dev/null
    export STREAM_EXT_V010_DIR="$work/.v0.1.0"
fi
[ "$(id -u)" -eq 0 ] && chown -R "$runas" "$work"

run_tests() {
    local out=$work/test-output.log rc=0
    local passed=0 failed=0 n m
    : >"$out"

    log "regression tests"
    if ! as_runner make -C "$work" -s PG_CONFIG="$PG_CONFIG" installcheck ISOLATION= TAP_TESTS= 2>&1 | tee -a "$out" | tee "$work/regress.log"; then rc=1; fi
    log "isolation tests"
    if ! as_runner make -C "$work" -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= TAP_TESTS= 2>&1 | tee -a "$out" | tee "$work/isolation.log"; then rc=1; fi
    log "TAP tests"
    if ! as_runner make -C "$work" -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= ISOLATION= PROVE_FLAGS=-v 2>&1 | tee -a "$out" >"$work/tap.log"; then rc=1; fi
    grep -E '^(t/|ok |not ok |Files=|Result:|#   Failed)' "$work/tap.log" || true

    # pg_regress: "All N tests passed." or "N of M tests failed."
    for f in "$work/regress.log" "$work/isolation.log"; do
        if n=$(grep -oE 'All [0-9]+ tests passed' "$f" | grep -oE '[0-9]+'); then
            passed=$((passed + n))
        elif m=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$f"); then
            n=$(echo "$m" | cut -d' ' -f1); m=$(echo "$m" | cut -d' ' -f3)
            passed=$((passed + m - n)); failed=$((failed + n))
        else
            failed=$((failed + 1))     # the suite did not run to its end
        fi
    done
    # TAP: count assertions; a script that died counts as one failure.
    n=$(grep -cE '^ok ' "$work/tap.log" || true)
    m=$(grep -cE '^not ok ' "$work/tap.log" || true)
    passed=$((passed + n)); failed=$((failed + m))
    if ! grep -q '^Result: PASS' "$work/tap.log" && [ "$m" -eq 0 ]; then
        failed=$((failed + 1))
    fi

    for d in "$work/regression.diffs" "$work/output_iso/regression.diffs"; do
        if [ -s "$d" ]; then
            log "$d"
            cat "$d"
        fi
    done
    if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
        for f in "$work"/tmp_check/log/*.log "$work"/tmp_check_iso/log/*.log "$work"/tmp_check/log/regress_log_*; do
            [ -f "$f" ] || continue
            log "tail of $f"
            tail -n 40 "$f"
        done
        rc=1
    fi
    echo "$passed passed, $failed failed"
    return $rc
}

run_demo() {
    local port=54329
    # "Inside the project directory" when postgres can write there.
    if as_runner test -w "$top" 2>/dev/null && as_runner test -x "$top" 2>/dev/null; then
        dir=$top/.demo
    else
        dir=$work/.demo
    fi
    rm -rf "$dir"
    as_runner mkdir -p "$dir"
    # A directory the cluster's user can enter: psql and pg_ctl run there.
    cd "$dir"
    log "starting a throwaway cluster in $dir (port $port)"
    as_runner "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    cat >>"$dir/data/postgresql.conf" <<EOF
shared_preload_libraries = 'stream_ext'
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
EOF
    as_runner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
    demo_data=$dir/data
    trap 'as_runner "$bindir/pg_ctl" -D "$demo_data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
    # A listener in a second session: psql prints the notifications that
    # arrived after each of its (empty, sleeping) commands, about a minute.
    { echo 'LISTEN "closed minutes";'
      for _ in $(seq 1 300); do echo 'SELECT WHERE pg_catalog.pg_sleep(0.2) IS NOT NULL;'; done
    } >"$dir/listen.sql"
    chmod a+r "$dir/listen.sql"
    as_runner "$bindir/psql" -X -q -At -h "$dir" -p "$port" -U postgres -d postgres \
        -f "$dir/listen.sql" 2>/dev/null &
    listener=$!
    sleep 0.5
    # The README's Quickstart, as written, runs first.
    awk '/^## Quickstart/ { q = 1 } q && /^```sql/ { f = 1; next } f && /^```/ { exit } f' \
        "$top/README.md" >"$dir/quickstart.sql"
    chmod a+r "$dir/quickstart.sql"
    as_runner "$bindir/psql" -X -h "$dir" -p "$port" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -v datadir="$work/test/tools" -v quickstart="$dir/quickstart.sql" \
        -e -f "$work/test/tools/demo.sql"
    kill "$listener" 2>/dev/null || true
    wait "$listener" 2>/dev/null || true
    log "stopping the cluster; the server log is $dir/server.log"
    as_runner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    trap - EXIT
}

run_bench() {
    local port=54330 dir=$work/.bench
    rm -rf "$dir"
    as_runner mkdir -p "$dir"
    # A directory the cluster's user can enter: psql and pg_ctl run there.
    cd "$dir"
    log "starting a throwaway cluster in $dir (port $port)"
    as_runner "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    cat >>"$dir/data/postgresql.conf" <<EOF
shared_preload_libraries = 'stream_ext'
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
shared_buffers = '2GB'
max_wal_size = '8GB'
checkpoint_timeout = '30min'
track_commit_timestamp = on
EOF
    log "server: default durability (fsync and synchronous_commit on), shared_buffers 2GB, max_wal_size 8GB, track_commit_timestamp on"
    as_runner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
    bench_data=$dir/data
    trap 'as_runner "$bindir/pg_ctl" -D "$bench_data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
    as_runner env PGHOST="$dir" PGPORT="$port" PGUSER=postgres PATH="$bindir:$PATH" \
        BENCH_DIR="$dir" BENCH_EVENTS="${BENCH_EVENTS:-}" BENCH_REPS="${BENCH_REPS:-}" \
        BENCH_SCALE="${BENCH_SCALE:-}" BENCH_ONLY="${BENCH_ONLY:-}" BENCH_W4_SECONDS="${BENCH_W4_SECONDS:-}" \
        bash "$work/test/bench/bench.sh"
    as_runner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    trap - EXIT
}

# The soak (test/soak/soak.pl): SOAK_SECONDS (600) of ingest and crashes,
# then the oracle, memory and bloat checks; its own temporary instance.
run_soak() {
    log "soak: ${SOAK_SECONDS:-600} s, a crash every ${SOAK_CRASH_EVERY:-30} s"
    as_runner env SOAK_SECONDS="${SOAK_SECONDS:-600}" SOAK_CRASH_EVERY="${SOAK_CRASH_EVERY:-30}" \
        make -C "$work" -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= ISOLATION= \
        PROVE_TESTS=test/soak/soak.pl PROVE_FLAGS=-v
}

case "$mode" in
    test) run_tests ;;
    demo) run_demo ;;
    bench) run_bench ;;
    soak) run_soak ;;
    *) echo "usage: $0 test|demo|bench|soak" >&2; exit 2 ;;
esac
