# Several workers per database share its streams, exactly once.
#
# With stream_ext.max_workers_per_database = 2 and small batches, two
# streams with backlogs (views paused while events are loaded, some
# transactions rolled back) make the database's first worker ask for an
# extra one: stream_ext.worker_state() shows both.  While both apply
# batches and a session keeps writing, one worker is killed with SIGKILL
# (the postmaster then restarts every process).  After more events and
# flush(), every view equals its oracle, the same query over a shadow table
# written in the same transactions as the stream (the stream itself is
# pruned as its events are consumed), and counts each event once.  Then:
# the extra worker exits once idle; DROP DATABASE of a database whose two
# workers are busy stops both and succeeds.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('parallel_workers', qq{
stream_ext.idle_interval = '100ms'
stream_ext.max_workers_per_database = 2
stream_ext.batch_size = 20000
restart_after_crash = on
});

my @streams = ('a', 'b', 'c');
my %query = (
	a => 'SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean, min(v) AS lo, max(v) AS hi FROM %s GROUP BY k',
	b => "SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total, max(v) AS hi FROM %s GROUP BY k, minute",
	c => 'SELECT k % 7 AS k7, count(*) AS n, sum(v) AS total FROM %s GROUP BY k7',
);

sub setup
{
	my ($db) = @_;
	my $sql = "CREATE EXTENSION stream_ext;\n";
	for my $s (@streams)
	{
		$sql .= "CREATE TABLE $s (k int NOT NULL, v numeric NOT NULL, ts timestamptz NOT NULL);\n"
		  . "CREATE TABLE shadow_$s (LIKE $s);\n"
		  . "SELECT stream_ext.create_stream('$s', event_time => 'ts');\n"
		  . "SELECT stream_ext.create_continuous_view('v$s', \$\$" . sprintf($query{$s}, $s)
		  . "\$\$, paused => " . ($s eq 'c' ? 'false' : 'true') . ");\n";
	}
	$node->safe_psql($db, $sql);
}

my $tx = 0;

# $n transactions of $rows events into each stream and its shadow, every
# fifth rolled back.
sub write_events
{
	my ($n, $rows, @to) = @_;
	my $sql = '';
	for (1 .. $n)
	{
		$tx++;
		my $end = $tx % 5 == 0 ? 'ROLLBACK' : 'COMMIT';
		$sql .= 'BEGIN; ';
		for my $s (@to)
		{
			$sql .= "WITH e AS (INSERT INTO $s SELECT (i * $tx) % 101, i * 0.5 + $tx, "
			  . "'2026-01-01'::timestamptz + ((i * 37 + $tx) % 7200) * interval '1 s' "
			  . "FROM generate_series(1, $rows) i RETURNING k, v, ts) INSERT INTO shadow_$s SELECT * FROM e; ";
		}
		$sql .= "$end;\n";
	}
	return $sql;
}

sub check_exact
{
	my ($db, $when) = @_;
	$node->safe_psql($db, "SELECT stream_ext.flush('120 s')");
	for my $s (@streams)
	{
		my $oracle = sprintf($query{$s}, "shadow_$s");
		my $cols = $s eq 'a' ? 'k, n, total, mean, lo, hi' : $s eq 'b' ? 'k, minute, n, total, hi' : 'k7, n, total';
		is(oracle_mismatches($node, $db, "SELECT $cols FROM v$s", $oracle),
			'0', "$when: v$s equals its oracle");
		is( $node->safe_psql($db, qq{
SELECT (SELECT events_processed FROM stream_ext.stats WHERE view = 'v$s'::regclass)
       = (SELECT count(*) FROM shadow_$s)}),
			't', "$when: v$s counted each event once");
	}
}

setup('postgres');

# Backlogs of several batches on a and b.
$node->safe_psql('postgres', write_events(30, 5000, 'a', 'b'));
$node->safe_psql('postgres', write_events(5, 100, 'c'));
$node->safe_psql('postgres',
	"SELECT stream_ext.resume_continuous_view('va'), stream_ext.resume_continuous_view('vb')");
ok($node->poll_query_until('postgres', "SELECT stream_ext.worker_state()", 'running: 2 workers'),
	'two streams with backlogs: the database runs two workers');

# kill -9 of a worker while both apply batches and a session writes.
$node->safe_psql('postgres',
	"SELECT stream_ext.pause_continuous_view('va'), stream_ext.pause_continuous_view('vb')");
$node->safe_psql('postgres', write_events(20, 5000, 'a', 'b'));
$node->safe_psql('postgres',
	"SELECT stream_ext.resume_continuous_view('va'), stream_ext.resume_continuous_view('vb')");
my $writer = $node->background_psql('postgres', on_error_stop => 0);
$writer->query_until(qr/started/, "\\echo started\n" . write_events(100, 50, 'a', 'b', 'c'));
ok( $node->poll_query_until('postgres', q{
SELECT count(*) >= 1 FROM pg_stat_activity
 WHERE backend_type = 'stream_ext worker' AND query LIKE 'stream_ext: applying a batch%'}),
	'a worker applies a batch');
my $pid = $node->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'
 ORDER BY query LIKE 'stream_ext: applying a batch%' DESC LIMIT 1});
ok($pid =~ /^\d+$/, 'a worker to kill');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
eval { $writer->quit; };
# The postmaster restarts every process: wait for it to have begun, then
# for the server to accept connections again.
wait_for_crash_restart($node, $log_offset);
$node->safe_psql('postgres', write_events(10, 5000, 'a', 'b'));
$node->safe_psql('postgres', write_events(5, 100, 'c'));
check_exact('postgres', 'after kill -9 of one of two workers');

ok($node->poll_query_until('postgres', "SELECT stream_ext.worker_state()", 'running'),
	'the extra worker exits once idle');
$node->safe_psql('postgres', write_events(3, 1000, 'a', 'b', 'c'));
check_exact('postgres', 'with one worker again');

# DROP DATABASE while both workers of that database are busy.
$node->safe_psql('postgres', 'CREATE DATABASE other');
setup('other');
$node->safe_psql('other', write_events(40, 5000, 'a', 'b'));
$node->safe_psql('other',
	"SELECT stream_ext.resume_continuous_view('va'), stream_ext.resume_continuous_view('vb')");
ok($node->poll_query_until('other', "SELECT stream_ext.worker_state()", 'running: 2 workers'),
	'the other database runs two workers too');
$node->safe_psql('postgres', 'DROP DATABASE other');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext worker' AND datname = 'other'}),
	'0', 'DROP DATABASE stopped both of its workers');
check_exact('postgres', 'after DROP DATABASE of another database');

$node->stop;
done_testing();
