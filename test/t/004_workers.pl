# The launcher and the per-database workers: a worker starts for each
# database that has the extension once CREATE EXTENSION commits, shows in
# pg_stat_activity, is started again when it dies, stops on DROP EXTENSION
# and with stream_ext.enabled = off, and never stands in the way of DROP
# DATABASE, ALTER DATABASE ... RENAME or CREATE DATABASE ... TEMPLATE.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('workers', qq{
stream_ext.idle_interval = '200ms'
});

# The pid of the worker of a database, or '' when there is none.
sub worker_pid
{
	my ($dbname) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
		  WHERE backend_type = 'stream_ext worker' AND datname = '$dbname'");
}

sub wait_for_worker
{
	my ($dbname, $present, $what) = @_;
	my $cond = $present ? '1' : '0';
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) FROM pg_stat_activity
			  WHERE backend_type = 'stream_ext worker' AND datname = '$dbname'",
			$cond),
		$what);
}

ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext launcher'", '1'),
	'the launcher runs');
is(worker_pid('postgres'), '', 'no worker where the extension is not installed');

$node->safe_psql('postgres', 'CREATE DATABASE app');
# A CREATE EXTENSION that rolls back starts nothing.
$node->safe_psql('app', 'BEGIN; CREATE EXTENSION stream_ext; ROLLBACK;');
$node->safe_psql('app', 'CREATE EXTENSION stream_ext');
wait_for_worker('app', 1, 'a worker starts after CREATE EXTENSION commits');
is( $node->safe_psql('postgres',
		"SELECT application_name FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'"),
	'stream_ext worker', 'the worker names itself in pg_stat_activity');

# Only the database with the extension has a worker.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('postgres', "SELECT pg_reload_conf()");
is(worker_pid('other'), '', 'no worker in a database without the extension');

# A worker that dies is started again.
my $pid = worker_pid('app');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity
		  WHERE backend_type = 'stream_ext worker' AND datname = 'app' AND pid <> $pid", '1'),
	'a terminated worker is started again');

# So is the launcher, and it leaves one worker per database.
my $launcher = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext launcher'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity
		  WHERE backend_type = 'stream_ext launcher' AND pid <> $launcher", '1'),
	'a terminated launcher is started again');
wait_for_worker('app', 1, 'the new launcher starts the worker');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'"),
	'1', 'exactly one worker per database');

# stream_ext.enabled = off stops the workers; on starts them again.
$node->append_conf('postgresql.conf', "stream_ext.enabled = off");
$node->reload;
wait_for_worker('app', 0, 'stream_ext.enabled = off stops the worker');
$node->append_conf('postgresql.conf', "stream_ext.enabled = on");
$node->reload;
wait_for_worker('app', 1, 'stream_ext.enabled = on starts it again');

# Database commands that need the database to themselves.
$node->safe_psql('postgres', 'ALTER DATABASE app RENAME TO app2');
is($node->safe_psql('postgres', q{SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'app%'}),
	'app2', 'ALTER DATABASE ... RENAME succeeds while a worker runs');
wait_for_worker('app2', 1, 'the worker comes back for the renamed database');
$node->safe_psql('postgres', 'CREATE DATABASE app3 TEMPLATE app2');
is($node->safe_psql('app3', q{SELECT count(*) FROM stream_ext.continuous_view}),
	$node->safe_psql('app2', q{SELECT count(*) FROM stream_ext.continuous_view}),
	'CREATE DATABASE ... TEMPLATE succeeds while a worker runs, with the views of its template');
wait_for_worker('app3', 1, 'the copy of the database gets its own worker');
$node->safe_psql('postgres', 'DROP DATABASE app3');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'app3'}),
	'0', 'DROP DATABASE succeeds while a worker runs');
wait_for_worker('app3', 0, 'the dropped database has no worker');

# DROP EXTENSION stops the worker, and leaves the user's tables as plain
# tables with their data: the stream (its segments moved beside it), the
# result table, the transform's target, the source table.
$node->safe_psql('app2', q{
CREATE TABLE ev (k int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('counts', 'SELECT k, count(*) AS n FROM ev GROUP BY k');
SELECT stream_ext.create_continuous_view('recent', 'SELECT count(*) AS n FROM ev', sliding => '1 hour');
CREATE TABLE copied (k int);
SELECT stream_ext.create_transform('copier', 'SELECT k FROM ev', 'copied');
CREATE TABLE app_rows (k int, ts timestamptz);
SELECT stream_ext.attach_source('app_rows', 'ev');
INSERT INTO app_rows SELECT i % 3, now() FROM generate_series(1, 30) i;
INSERT INTO ev SELECT i % 3, now() FROM generate_series(1, 30) i;
SELECT stream_ext.flush();
});
$node->safe_psql('app2', 'DROP EXTENSION stream_ext');
wait_for_worker('app2', 0, 'DROP EXTENSION stops the worker');
is($node->safe_psql('app2', q{
SELECT (SELECT count(*) FROM ev) || ' ' || (SELECT sum(n) FROM counts) || ' '
    || (SELECT count(*) FROM copied) || ' ' || (SELECT count(*) FROM app_rows)}),
	'60 60 60 30', 'after DROP EXTENSION: stream, result table, target and source keep their rows');
$node->safe_psql('app2', q{
UPDATE ev SET k = 7 WHERE k = 0;
INSERT INTO counts VALUES (9, 1);
INSERT INTO app_rows VALUES (5, now());
});
is($node->safe_psql('app2', q{
SELECT (SELECT count(*) FROM ev WHERE k = 7) || ' ' || (SELECT count(*) FROM ev) || ' '
    || (SELECT count(*) FROM pg_class WHERE relnamespace = 'stream_ext'::regnamespace) || ' '
    || (SELECT count(*) FROM pg_class WHERE relname = 'recent')}),
	'20 60 0 0', 'they are plain tables now: writable, no triggers; nothing is left in schema stream_ext, the sliding view is gone');
$node->safe_psql('app2', 'DROP VIEW copier; DROP TABLE ev, counts, copied, app_rows');
$node->safe_psql('app2', 'CREATE EXTENSION stream_ext');
wait_for_worker('app2', 1, 'CREATE EXTENSION starts it again');

# Workers survive an immediate shutdown and come back with the server.
$node->stop('immediate');
$node->start;
wait_for_worker('app2', 1, 'the worker runs again after an immediate shutdown');

$node->stop;
done_testing();
