# pg_dump of a database with streams and continuous views, restored into
# other clusters, where the transaction ids stored in events, progress
# and segment bounds mean nothing: one target cluster whose transaction
# counter is far below the source's, one far above.  The source has a
# plain view, a paused windowed view with a backlog (so that views'
# progress differ), a view writing an output stream that a second view
# combines, a transform into a table, segments retired but not yet
# truncated, and a transaction that is still open when the dump is taken
# (its events are not in the dump; its id is in views' progress).
#
# In each target, before stream_ext.finish_restore(): writes to the
# restored streams, flush() and new views on them are refused with a hint,
# the views show state "restoring" and the streams restore_pending, and a
# non-superuser cannot run it.  After it: every view, the chained one and
# the transform equal the same query over the events there (restored and
# new, each counted once), a view created with backfill afterwards too,
# and consumed segments are pruned.  A restore into another database of
# the source cluster needs no renumbering and stays exact as well.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

sub new_node
{
	my ($name) = @_;
	return stream_ext_node($name, qq{
stream_ext.idle_interval = '50ms'
stream_ext.segment_size = '64kB'
});
}

# Moves a cluster's transaction counter forward by n ids (subtransactions
# that each write).
sub burn_xids
{
	my ($node, $n) = @_;
	$node->safe_psql('postgres', qq{
CREATE TEMP TABLE burn (i int);
DO \$\$ BEGIN
    FOR i IN 1 .. $n LOOP
        BEGIN INSERT INTO burn VALUES (i); EXCEPTION WHEN OTHERS THEN NULL; END;
    END LOOP;
END \$\$;
});
}

sub next_xid
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT pg_current_xact_id()') + 0;
}

my $next = 0;

# n transactions of 100 events each, every fourth rolled back.
sub write_events
{
	my ($node, $db, $n) = @_;
	my $sql = '';
	for (1 .. $n)
	{
		$next++;
		my $end = $next % 4 == 0 ? 'ROLLBACK' : 'COMMIT';
		$sql .= "BEGIN; WITH e AS (SELECT (i * $next) % 13 AS k, i + $next AS v, "
		  . "'2026-01-01'::timestamptz + ($next * 30 + i % 30) * interval '1 s' AS ts "
		  . "FROM generate_series(1, 100) i), s AS (INSERT INTO ev SELECT * FROM e) "
		  . "INSERT INTO ev_all SELECT * FROM e; $end;\n";
	}
	$node->safe_psql($db, $sql);
}

# Rows of each view and of the transform's table that differ from the
# same query over every event (ev_all: pruning truncates the stream), by
# name.
my $check_sql = q{
SELECT 'per_k ' || count(*) FROM (
    (SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean FROM ev_all GROUP BY k
     EXCEPT ALL SELECT k, n, total, mean FROM per_k)
    UNION ALL
    (SELECT k, n, total, mean FROM per_k
     EXCEPT ALL SELECT k, count(*), sum(v), avg(v) FROM ev_all GROUP BY k)) d
UNION ALL
SELECT 'per_minute ' || count(*) FROM (
    (SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, max(v) AS hi
       FROM ev_all GROUP BY 1, 2
     EXCEPT ALL SELECT k, minute, n, hi FROM per_minute)
    UNION ALL
    (SELECT k, minute, n, hi FROM per_minute
     EXCEPT ALL SELECT k, stream_ext.tumble(ts, '1 minute'), count(*), max(v) FROM ev_all GROUP BY 1, 2)) d
UNION ALL
SELECT 'per_hour ' || count(*) FROM (
    (SELECT stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS total,
            avg(v) AS mean FROM ev_all GROUP BY 1
     EXCEPT ALL SELECT hour, n, total, mean FROM per_hour)
    UNION ALL
    (SELECT hour, n, total, mean FROM per_hour
     EXCEPT ALL SELECT stream_ext.tumble(ts, '1 hour'), count(*), sum(v), avg(v) FROM ev_all GROUP BY 1)) d
UNION ALL
SELECT 'big ' || count(*) FROM (
    (SELECT k, v, ts FROM ev_all WHERE v > 90 EXCEPT ALL SELECT k, v, ts FROM big)
    UNION ALL
    (SELECT k, v, ts FROM big EXCEPT ALL SELECT k, v, ts FROM ev_all WHERE v > 90)) d
};
my $check_ok = "per_k 0\nper_minute 0\nper_hour 0\nbig 0";

# The source: its transaction counter well above a new cluster's.
my $source = new_node('source');
burn_xids($source, 20000);
$source->safe_psql('postgres', q{
CREATE DATABASE src;
});
$source->safe_psql('src', q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
CREATE TABLE ev_all (k int, v int, ts timestamptz);
CREATE TABLE big (k int, v int, ts timestamptz);
-- A stream without views: its events wait for one created with backfill.
CREATE TABLE raw (k int NOT NULL);
SELECT stream_ext.create_stream('raw');
INSERT INTO raw SELECT i % 5 FROM generate_series(1, 300) i;
-- Consumed events stay (until the targets drop the retention), for the
-- backfilled view there.
SELECT stream_ext.set_retention('ev', '100 years');
SELECT stream_ext.create_continuous_view('per_k',
    'SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean FROM ev GROUP BY k');
SELECT stream_ext.create_continuous_view('per_minute', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, max(v) AS hi
      FROM ev GROUP BY k, minute$$);
SELECT stream_ext.create_continuous_view('per_minute_all', $$
    SELECT stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total,
           avg(v) AS mean
      FROM ev GROUP BY minute$$, output_stream => 'minute_deltas');
SELECT stream_ext.create_continuous_view('per_hour', $$
    SELECT stream_ext.tumble(minute, '1 hour') AS hour, stream_ext.combine(n) AS n,
           stream_ext.combine(total) AS total, stream_ext.combine(mean) AS mean
      FROM minute_deltas GROUP BY hour$$);
SELECT stream_ext.create_transform('big_events', 'SELECT k, v, ts FROM ev WHERE v > 90', 'big');
});

write_events($source, 'src', 40);
$source->safe_psql('src', 'SELECT stream_ext.flush()');

# per_minute falls behind; the stream rotates and its retired segments
# wait for it.
$source->safe_psql('src', q{SELECT stream_ext.pause_continuous_view('per_minute')});
for (1 .. 3)
{
	write_events($source, 'src', 40);
	$source->safe_psql('src', 'SELECT stream_ext.prune(); SELECT stream_ext.prune()');
}
$source->safe_psql('src', 'SELECT stream_ext.flush()');
cmp_ok(
	$source->safe_psql('src',
		"SELECT count(*) FROM stream_ext.segment WHERE stream = 'ev'::regclass AND retired_before IS NOT NULL"),
	'>=', 1, 'source: retired segments wait for the paused view');

# A transaction open while the dump is taken, and seen open by a batch.
my $open = $source->background_psql('src', on_error_stop => 1);
$open->query_safe(
	"BEGIN; WITH e AS (SELECT 1 AS k, 1000000 AS v, '2026-01-01 00:00:00+00'::timestamptz AS ts"
	  . " FROM generate_series(1, 7)), s AS (INSERT INTO ev SELECT * FROM e) INSERT INTO ev_all SELECT * FROM e");
write_events($source, 'src', 4);
$source->safe_psql('src', 'SELECT stream_ext.flush()');
cmp_ok(
	$source->safe_psql('src',
		"SELECT max(cardinality(ARRAY(SELECT pg_snapshot_xip(progress)))) FROM stream_ext.continuous_view"),
	'>=', 1, "source: the open transaction is in the views' progress");
is( $source->safe_psql('src',
		"SELECT string_agg(x, ',') FROM ($check_sql) c(x) WHERE x NOT LIKE 'per_minute %'"
		  . " UNION ALL SELECT 'waiting ' || (count(*) > 0)::text FROM ev"
		  . " WHERE NOT stream_ext.seen(stream_ext_tx, (SELECT progress FROM stream_ext.continuous_view"
		  . "                                             WHERE result = 'per_minute'::regclass))"),
	"per_k 0,per_hour 0,big 0\nwaiting true",
	'source: the active views are exact, the paused one has a backlog');
$source->safe_psql('src', q{SELECT stream_ext.resume_continuous_view('per_minute'); SELECT stream_ext.flush()});
$source->safe_psql('src', q{SELECT stream_ext.pause_continuous_view('per_minute')});
write_events($source, 'src', 8);
$source->safe_psql('src', 'SELECT stream_ext.flush()');

my $dump = $source->basedir . '/src.dump';
$source->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $source->connstr('src') ], 'pg_dump');
$open->query_safe('COMMIT');
$open->quit;
my $source_xid = next_xid($source);

# Restores into another cluster and checks it (see the top).
sub restore_and_check
{
	my ($target, $label) = @_;

	$target->safe_psql('postgres', 'CREATE ROLE alice LOGIN; CREATE DATABASE dst');
	{
		local $ENV{PGOPTIONS} = '-c stream_ext.restoring=on';
		$target->command_ok([ 'pg_restore', '-d', $target->connstr('dst'), $dump ],
			"$label: pg_restore");
	}

	is( $target->safe_psql('dst',
			"SELECT string_agg(stream || ' ' || restore_pending, ', ' ORDER BY stream::text) FROM stream_ext.streams"),
		'ev true, minute_deltas true, raw true',
		"$label: the restored streams wait for finish_restore");
	is( $target->safe_psql('dst',
			"SELECT string_agg(DISTINCT state, ',') FROM stream_ext.stats"),
		'restoring', "$label: their views show it");

	my ($ret, $out, $err) = $target->psql('dst', 'INSERT INTO ev VALUES (1, 1, now())');
	like($err, qr/stream "ev" was restored from another cluster and is not rebased yet.*HINT:  Once pg_restore is done, run SELECT \* FROM stream_ext.finish_restore\(\)/s,
		"$label: writing before finish_restore is refused with a hint");
	($ret, $out, $err) = $target->psql('dst', 'SELECT stream_ext.flush()');
	like($err, qr/was restored from another cluster/, "$label: flush() too");
	($ret, $out, $err) = $target->psql('dst',
		"SELECT stream_ext.create_continuous_view('late', 'SELECT count(*) FROM ev', backfill => true)");
	like($err, qr/was restored from another cluster/, "$label: a new view too");
	($ret, $out, $err) = $target->psql('dst', 'SET ROLE alice; SELECT * FROM stream_ext.finish_restore()');
	like($err, qr/permission denied to finish a restore/, "$label: a non-superuser cannot finish the restore");

	# The events as restored, to compare after the renumbering.
	my $events_before = $target->safe_psql('dst', 'SELECT count(*) FROM ev');
	is( $target->safe_psql('dst',
			'SELECT stream::text, events, views FROM stream_ext.finish_restore() ORDER BY 1'),
		"ev|$events_before|4\nminute_deltas|"
		  . $target->safe_psql('dst', 'SELECT count(*) FROM minute_deltas') . "|1\nraw|300|0",
		"$label: finish_restore renumbers the three streams");
	is( $target->safe_psql('dst',
			"SELECT count(*) FROM stream_ext.stream WHERE system_identifier <> (pg_control_system()).system_identifier"),
		'0', "$label: nothing waits any more");
	is($target->safe_psql('dst', 'SELECT * FROM stream_ext.finish_restore()'), '',
		"$label: a second finish_restore has nothing to do");

	# Processing resumes: the backlog of the paused view, then new events.
	$target->safe_psql('dst', q{SELECT stream_ext.resume_continuous_view('per_minute')});
	$target->safe_psql('dst', 'SELECT stream_ext.flush()');
	is($target->safe_psql('dst', $check_sql), $check_ok, "$label: exact after the restore");
	write_events($target, 'dst', 30);
	$target->safe_psql('dst', 'SELECT stream_ext.flush()');
	is($target->safe_psql('dst', $check_sql), $check_ok, "$label: exact with new events");
	is( $target->safe_psql('dst',
			"SELECT watermark = (SELECT max(ts) FROM ev_all) FROM stream_ext.stats"
			  . " WHERE view = 'per_minute'::regclass"),
		't', "$label: the windowed view's watermark follows the new events");
	is( $target->safe_psql('dst',
			"SELECT count(*) FROM stream_ext.continuous_view c WHERE c.events <> (SELECT count(*) FROM ev_all)"
			  . " AND c.stream = 'ev'::regclass"),
		'0', "$label: each view counted every event once");

	# A view created now reads everything once (the retention kept it all).
	is($target->safe_psql('dst', 'SELECT (SELECT count(*) FROM ev) = (SELECT count(*) FROM ev_all)'),
		't', "$label: the stream holds every event");
	$target->safe_psql('dst', q{
SELECT stream_ext.create_continuous_view('late', 'SELECT k, count(*) AS n FROM ev GROUP BY k',
                                         backfill => true);
SELECT stream_ext.flush();
});
	is( $target->safe_psql('dst', q{
SELECT count(*) FROM ((SELECT k, count(*) AS n FROM ev GROUP BY k EXCEPT ALL SELECT k, n FROM late)
                      UNION ALL (SELECT k, n FROM late EXCEPT ALL SELECT k, count(*) FROM ev GROUP BY k)) d}),
		'0', "$label: a backfilled new view is exact");

	# The stream without views: a view created now with backfill counts its
	# restored events and a new one, each once.
	$target->safe_psql('dst', q{
INSERT INTO raw VALUES (7);
SELECT stream_ext.create_continuous_view('raw_per_k', 'SELECT k, count(*) AS n FROM raw GROUP BY k',
                                         backfill => true);
SELECT stream_ext.flush();
});
	is( $target->safe_psql('dst', q{
SELECT count(*) FROM ((SELECT k, count(*) AS n FROM raw GROUP BY k EXCEPT ALL SELECT k, n FROM raw_per_k)
                      UNION ALL (SELECT k, n FROM raw_per_k EXCEPT ALL SELECT k, count(*) FROM raw GROUP BY k)) d}
		  . " UNION ALL SELECT sum(n) FROM raw_per_k"),
		"0\n301", "$label: a stream without views keeps its restored events for a backfilled view");

	# Every segment consumed: pruning truncates all but the current one (a
	# segment retired by a pass gets its bound then, and is truncated by a
	# pass after the views' next batch).
	$target->safe_psql('dst', "SELECT stream_ext.set_retention('ev', NULL)");
	my $left;
	for (1 .. 6)
	{
		$target->safe_psql('dst', 'SELECT stream_ext.prune(wait => true); SELECT stream_ext.flush()');
		$left = $target->safe_psql('dst',
			"SELECT count(*) FROM stream_ext.segment g JOIN stream_ext.stream s ON s.relid = g.stream"
			  . " WHERE g.stream = 'ev'::regclass AND g.slot <> s.current_slot"
			  . " AND pg_relation_size(g.partition) > 0");
		last if $left eq '0';
	}
	is($left, '0', "$label: consumed segments are pruned");
	write_events($target, 'dst', 5);
	$target->safe_psql('dst', 'SELECT stream_ext.flush()');
	is($target->safe_psql('dst', $check_sql), $check_ok, "$label: exact after pruning");
}

# A new cluster: its ids are far below the source's, so without the
# renumbering new events would look seen by the restored progress.
my $low = new_node('target_low');
cmp_ok(next_xid($low) + 1000, '<', $source_xid, 'the low target is behind the source');
restore_and_check($low, 'low target');

# A cluster far ahead: restored events would look old and committed.
my $high = new_node('target_high');
burn_xids($high, $source_xid + 20000);
cmp_ok(next_xid($high), '>', $source_xid + 10000, 'the high target is ahead of the source');
restore_and_check($high, 'high target');

# Into another database of the source cluster: the ids stay meaningful.
$source->safe_psql('postgres', 'CREATE DATABASE copy');
{
	local $ENV{PGOPTIONS} = '-c stream_ext.restoring=on';
	$source->command_ok([ 'pg_restore', '-d', $source->connstr('copy'), $dump ],
		'same cluster: pg_restore');
}
is($source->safe_psql('copy', 'SELECT count(*) FROM stream_ext.streams WHERE restore_pending'),
	'0', 'same cluster: nothing to renumber');
$source->safe_psql('copy', q{SELECT stream_ext.resume_continuous_view('per_minute')});
write_events($source, 'copy', 10);
$source->safe_psql('copy', 'SELECT stream_ext.flush()');
is($source->safe_psql('copy', $check_sql), $check_ok, 'same cluster: exact');

done_testing();
