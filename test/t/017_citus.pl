# stream_ext beside Citus: a coordinator and two workers on loopback,
# each with shared_preload_libraries = 'citus,stream_ext'.  CREATE
# EXTENSION stream_ext on the coordinator reaches the workers; a stream and
# its views on the coordinator take events from several sessions, with
# rollbacks, and equal the oracle; handing one of stream_ext's tables to
# Citus (create_distributed_table() and the like), or a table Citus
# manages to stream_ext (as a stream, a source, a transform's target, or
# read by a view), is refused with stream_ext's error before anything is
# made, and the views go on exactly.  Skipped where Citus is not
# installed (../shared/citus/install.sh builds it).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use StreamExtTest;

my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
plan skip_all => "Citus is not installed ($sharedir/extension/citus.control is missing;"
  . " ../shared/citus/install.sh builds it, or install Citus's packages)"
  unless -f "$sharedir/extension/citus.control";

# Citus must be loaded first; its nodes reach each other over TCP.
my $conf = qq{shared_preload_libraries = 'citus,stream_ext'
listen_addresses = '127.0.0.1'
max_prepared_transactions = 20
max_worker_processes = 24
citus.node_conninfo = 'sslmode=disable'
};
my @nodes = map { stream_ext_node($_, $conf) } qw(coordinator worker1 worker2);
my ($coordinator, @workers) = @nodes;

$_->safe_psql('postgres', 'CREATE EXTENSION citus') for @nodes;
$coordinator->safe_psql('postgres', "SELECT citus_set_coordinator_host('127.0.0.1', "
	  . $coordinator->port . ")");
$coordinator->safe_psql('postgres', "SELECT citus_add_node('127.0.0.1', " . $_->port . ")")
  for @workers;
is($coordinator->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'),
	'2', 'a Citus cluster of a coordinator and two workers');

$coordinator->safe_psql('postgres', 'CREATE EXTENSION stream_ext');
is($_->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'stream_ext'"),
	$coordinator->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'stream_ext'"),
	'CREATE EXTENSION stream_ext on the coordinator reached ' . $_->name)
  for @workers;

# A stream of the coordinator, with an oracle written in the same
# transactions, and two views.
$coordinator->safe_psql('postgres', q{
CREATE TABLE events (k int NOT NULL, v int, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('events', event_time => 'ts');
CREATE TABLE shadow (k int, v int, ts timestamptz);
CREATE SEQUENCE b;
CREATE FUNCTION put(b bigint) RETURNS void LANGUAGE sql AS $$
    WITH e AS (SELECT (b * 7 + i) % 13 AS k, i AS v,
                      '2026-01-01'::timestamptz + (b * 10 + i) * interval '1 s' AS ts
                 FROM generate_series(1, 10) i),
         w AS (INSERT INTO events SELECT * FROM e)
    INSERT INTO shadow SELECT * FROM e
$$;
SELECT stream_ext.create_continuous_view('per_k',
    $$SELECT k, count(*) AS n, sum(v) AS total FROM events GROUP BY k$$);
SELECT stream_ext.create_continuous_view('per_minute',
    $$SELECT stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, max(v) AS top
        FROM events GROUP BY minute$$);
});

my %oracle = (
	per_k => [
		'SELECT k, n, total FROM per_k',
		'SELECT k, count(*), sum(v) FROM shadow GROUP BY k'
	],
	per_minute => [
		'SELECT minute, n, top FROM per_minute',
		"SELECT stream_ext.tumble(ts, '1 minute'), count(*), max(v) FROM shadow GROUP BY 1"
	]);

sub write_and_compare
{
	my ($label) = @_;
	my @sessions = map { $coordinator->background_psql('postgres') } 1 .. 3;

	for my $round (1 .. 4)
	{
		$_->query_safe(put_transactions(3)) for @sessions;
	}
	$_->quit for @sessions;
	# And by COPY, in a transaction that writes the oracle too.
	my $rows = join('', map { sprintf("%d\t%d\t2026-01-02 00:%02d:00+00\n", $_ % 13, $_, $_ % 60) }
		  1 .. 200);
	$coordinator->safe_psql('postgres',
		"BEGIN;\nCOPY events (k, v, ts) FROM STDIN;\n$rows\\.\nCOPY shadow FROM STDIN;\n$rows\\.\nCOMMIT;");
	$coordinator->safe_psql('postgres', 'SELECT stream_ext.flush(strict => true)');
	for my $view (sort keys %oracle)
	{
		is(oracle_mismatches($coordinator, 'postgres', @{ $oracle{$view} }),
			'0', "$label: $view equals the oracle");
	}
}

write_and_compare('before');

# stream_ext's tables are not handed to Citus: each call is refused with
# stream_ext's error, whatever citus.enable_unsafe_triggers says.
my @refused = (
	[
		q{SELECT create_distributed_table('events', 'k')},
		qr/create_distributed_table\(\) cannot take "events": it is a stream/,
		'distributing a stream'
	],
	[
		q{SELECT create_reference_table('per_k')},
		qr/create_reference_table\(\) cannot take "per_k": it is the result table of continuous view per_k/,
		'a result table as a reference table'
	],
	[
		q{SELECT citus_add_local_table_to_metadata('events')},
		qr/citus_add_local_table_to_metadata\(\) cannot take "events": it is a stream/,
		'a stream in Citus\'s metadata'
	],
	[
		q{SELECT create_distributed_table(s.partition, 'k') FROM stream_ext.segment s
		   WHERE s.stream = 'events'::regclass LIMIT 1},
		qr/cannot|not supported|partition/,
		'distributing a segment'
	]);
for my $case (@refused)
{
	my ($sql, $pattern, $label) = @$case;
	my ($ret, $out, $err) = $coordinator->psql('postgres',
		"SET citus.enable_unsafe_triggers = on; $sql");
	isnt($ret, 0, "$label is refused");
	like($err, $pattern, "$label: the error says why");
}
my (undef, undef, $hint_err) =
  $coordinator->psql('postgres', q{SELECT create_distributed_table('events', 'k')});
like($hint_err, qr/HINT:  Keep stream_ext's tables on this node/,
	'the refusal hints at the README');

# Tables Citus manages are not stream_ext's: a distributed table as a
# stream, a source or a transform's target, a reference table read by a
# view.
$coordinator->safe_psql('postgres', q{
CREATE TABLE orders (k int NOT NULL, v int, ts timestamptz NOT NULL);
SELECT create_distributed_table('orders', 'k');
CREATE TABLE names (k int PRIMARY KEY, name text);
SELECT create_reference_table('names');
INSERT INTO names SELECT i, 'k' || i FROM generate_series(0, 12) i;
CREATE TABLE copies (k int NOT NULL, v int);
SELECT create_distributed_table('copies', 'k');
});
my @foreign = (
	[
		q{SELECT stream_ext.create_stream('orders', event_time => 'ts')},
		qr/table "orders" is a Citus table and cannot be a stream/,
		'a distributed table as a stream'
	],
	[
		q{SELECT stream_ext.attach_source('orders', 'events')},
		qr/table "orders" is a Citus table and cannot be a source/,
		'a distributed table as a source'
	],
	[
		q{SELECT stream_ext.create_continuous_view('per_name',
		    $$SELECT n.name, count(*) FROM events JOIN names n USING (k) GROUP BY n.name$$)},
		qr/table "names" is a Citus table and cannot be read by a continuous view/,
		'a reference table read by a view'
	],
	[
		q{SELECT stream_ext.create_transform('copy', $$SELECT k, v FROM events$$, 'copies')},
		qr/table "copies" is a Citus table and cannot be the target of a transform/,
		'a distributed table as a transform\'s target'
	]);
for my $case (@foreign)
{
	my ($sql, $pattern, $label) = @$case;
	my ($ret, $out, $err) = $coordinator->psql('postgres', $sql);
	isnt($ret, 0, "$label is refused");
	like($err, $pattern, "$label: the error says why");
	like($err, qr/HINT:  Use a table of this node/, "$label: the hint says what to do");
}

# With citus.use_citus_managed_tables, Citus takes every table created by
# a statement of the user's: a table made so is refused as a stream, while
# the tables stream_ext makes for a stream and a view stay the node's.
my (undef, undef, $managed_err) = $coordinator->psql('postgres', q{
SET citus.use_citus_managed_tables = on;
CREATE TABLE managed (k int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('managed', event_time => 'ts');});
like($managed_err, qr/table "managed" is a Citus table and cannot be a stream/,
	'a table Citus took at its creation is refused as a stream');
$coordinator->safe_psql('postgres', q{
CREATE TABLE local_events (k int NOT NULL, ts timestamptz NOT NULL);
SET citus.use_citus_managed_tables = on;
SELECT stream_ext.create_stream('local_events', event_time => 'ts');
SELECT stream_ext.create_continuous_view('local_counts',
    $$SELECT k, count(*) AS n FROM local_events GROUP BY k$$);
INSERT INTO local_events SELECT i % 5, '2026-01-01' FROM generate_series(1, 100) i;
SELECT stream_ext.flush(strict => true);});
is( $coordinator->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pg_dist_partition p
         WHERE p.logicalrelid IN (SELECT relid FROM stream_ext.stream
                                  UNION ALL SELECT partition FROM stream_ext.segment
                                  UNION ALL SELECT result FROM stream_ext.continuous_view))
    || '|' || (SELECT string_agg(k || ':' || n, ' ' ORDER BY k) FROM local_counts)}),
	'0|0:20 1:20 2:20 3:20 4:20',
	'with citus.use_citus_managed_tables, stream_ext\'s own tables stay the node\'s, and the view counts');
$coordinator->safe_psql('postgres', q{
SELECT stream_ext.drop_stream('local_events', cascade => true);
DROP TABLE managed;});

# Nothing was half made: Citus manages none of stream_ext's tables,
# stream_ext holds no Citus table, and no other view, source or transform
# exists.
is( $coordinator->safe_psql('postgres', q{
SELECT count(*) FROM pg_dist_partition p
 WHERE p.logicalrelid IN (SELECT relid FROM stream_ext.stream
                          UNION ALL SELECT partition FROM stream_ext.segment
                          UNION ALL SELECT result FROM stream_ext.continuous_view)
    OR p.logicalrelid::text IN ('per_name', 'copy')}),
	'0', 'no table of stream_ext is Citus\'s');
is( $coordinator->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM stream_ext.continuous_view) || '|'
    || (SELECT count(*) FROM stream_ext.source) || '|'
    || (SELECT count(*) FROM stream_ext.stream)}),
	'2|0|1', 'the catalog holds the two views and the stream, nothing else');

write_and_compare('after the refusals');

# A stream Citus took by a way the planner hook cannot see (simulated: its
# row of pg_dist_partition written by hand): the views' next batch puts
# them in error with the reason, their events kept; once the stream is
# the node's again and the views resumed, they are exact.
$coordinator->safe_psql('postgres', q{
SELECT stream_ext.pause_continuous_view('per_k');
SELECT stream_ext.pause_continuous_view('per_minute');
});
$coordinator->safe_psql('postgres', put_transactions(5));
$coordinator->safe_psql('postgres', q{
INSERT INTO pg_dist_partition (logicalrelid, partmethod, partkey, colocationid, repmodel, autoconverted)
VALUES ('events', 'n', NULL, 0, 's', false);
SELECT stream_ext.resume_continuous_view('per_k');
SELECT stream_ext.resume_continuous_view('per_minute');
});
my (undef, undef, $flush_err) = $coordinator->psql('postgres', 'SELECT stream_ext.flush()');
like($flush_err, qr/WARNING:  a continuous view is in error/, 'flush() reports the views in error');
is( $coordinator->safe_psql('postgres', q{
SELECT string_agg(view || ': ' || state || ': ' || last_error, E'\n' ORDER BY view::text) FROM stream_ext.stats}),
	qq{per_k: error: table "events" is a Citus table and cannot be a stream\n}
	  . q{per_minute: error: table "events" is a Citus table and cannot be a stream},
	'a stream taken by Citus puts its views in error, with the reason');
$coordinator->safe_psql('postgres', q{
DELETE FROM pg_dist_partition WHERE logicalrelid = 'events'::regclass;
SELECT stream_ext.resume_continuous_view('per_k');
SELECT stream_ext.resume_continuous_view('per_minute');
});
write_and_compare('resumed once the stream is the node\'s again');

$_->stop for @nodes;
done_testing();
