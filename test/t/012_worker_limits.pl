# Not enough workers: with max_worker_processes exhausted, and then with
# every stream_ext.max_workers slot taken, a database whose worker cannot
# start says so (stream_ext.worker_state(), the worker column of
# stream_ext.stats, flush()'s timeout error, the server log, each naming
# the setting to raise) instead of stalling silently; once a worker slot is
# free, its worker starts and its view catches up exactly.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

# Background workers: the launcher and one more.
my $node = stream_ext_node('worker_limits', qq{
stream_ext.idle_interval = '50ms'
max_worker_processes = 2
max_logical_replication_workers = 0
max_parallel_workers = 0
});

my @dbs = ('one', 'two');
for my $db (@dbs)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v int NOT NULL);
CREATE TABLE ev_all (k int, v int);
SELECT stream_ext.create_stream('ev');
SELECT stream_ext.create_continuous_view('per_k', 'SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k');
});
}

sub write_events
{
	my ($db, $n) = @_;
	$node->safe_psql($db, qq{
WITH e AS (SELECT i % 7 AS k, i AS v FROM generate_series(1, $n) i),
     s AS (INSERT INTO ev SELECT * FROM e)
INSERT INTO ev_all SELECT * FROM e});
}

sub exact
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
SELECT count(*) FROM ((SELECT k, count(*) AS n, sum(v) AS total FROM ev_all GROUP BY k
                       EXCEPT ALL SELECT k, n, total FROM per_k)
                      UNION ALL (SELECT k, n, total FROM per_k
                                 EXCEPT ALL SELECT k, count(*), sum(v) FROM ev_all GROUP BY k)) d});
}

# Which database got the one worker, and which waits (the launcher goes
# through the databases in catalog order, with retries).
my ($running, $waiting);
sub settle
{
	my ($reason) = @_;
	($running, $waiting) = (undef, undef);
	for (1 .. 600)
	{
		my %state = map { $_ => $node->safe_psql($_, 'SELECT stream_ext.worker_state()') } @dbs;
		my @r = grep { $state{$_} eq 'running' } @dbs;
		my @w = grep { $state{$_} eq $reason } @dbs;
		if (@r == 1 && @w == 1)
		{
			($running, $waiting) = ($r[0], $w[0]);
			return 1;
		}
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

my $procs = 'waiting: no background worker slot is free (max_worker_processes)';
ok(settle($procs), 'max_worker_processes: one database runs its worker, the other waits and says why');

write_events($_, 500) for @dbs;
$node->safe_psql($running, 'SELECT stream_ext.flush()');
is(exact($running), '0', 'the database with a worker is served');
is($node->safe_psql($waiting, 'SELECT DISTINCT worker FROM stream_ext.stats'),
	$procs, 'stats show the waiting state');
my ($ret, $out, $err) = $node->psql($waiting, q{SELECT stream_ext.flush(timeout => '300ms')});
like($err, qr/timed out with 1 continuous view\(s\) behind.*DETAIL:  The worker of this database: \Q$procs\E\./s,
	'flush() times out naming the cause');
ok( $node->wait_for_log(qr/cannot start the workers of 1 database\(s\): no background worker slot is free.*\n.*DETAIL:  max_worker_processes is 2/),
	'the launcher logs it, with the setting');
isnt(exact($waiting), '0', 'the waiting database is behind');

# The slot frees up: the waiting database gets its worker and catches up.
my $log_offset = -s $node->logfile;
$node->safe_psql($running, 'DROP EXTENSION stream_ext CASCADE');
$node->poll_query_until($waiting, q{SELECT stream_ext.worker_state() = 'running'})
  or die 'the waiting database did not get its worker';
$node->safe_psql($waiting, 'SELECT stream_ext.flush()');
is(exact($waiting), '0', 'once a slot is free, its view catches up exactly');
ok($node->wait_for_log(qr/every database with the extension has its worker again/, $log_offset),
	'the launcher logs that it has');

# The same with stream_ext.max_workers: one slot for two databases.
$node->safe_psql($running, q{
DROP TABLE ev, per_k;
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v int NOT NULL);
SELECT stream_ext.create_stream('ev');
SELECT stream_ext.create_continuous_view('per_k', 'SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k');
TRUNCATE ev_all;
});
$node->append_conf('postgresql.conf', qq{
max_worker_processes = 8
stream_ext.max_workers = 1
});
$node->restart;
my $slots = 'waiting: every stream_ext.max_workers slot is taken';
ok(settle($slots), 'stream_ext.max_workers: one database runs its worker, the other waits and says why');
write_events($_, 300) for @dbs;
($ret, $out, $err) = $node->psql($waiting, q{SELECT stream_ext.flush(timeout => '300ms')});
like($err, qr/DETAIL:  The worker of this database: \Q$slots\E\./, 'flush() names that cause');
ok($node->wait_for_log(qr/all 1 stream_ext.max_workers slots are taken/),
	'the launcher logs it');
$node->safe_psql($running, 'DROP EXTENSION stream_ext CASCADE');
$node->poll_query_until($waiting, q{SELECT stream_ext.worker_state() = 'running'})
  or die 'the waiting database did not get its worker';
$node->safe_psql($waiting, 'SELECT stream_ext.flush()');
is(exact($waiting), '0', 'and catches up once the slot is free');

# stream_ext.enabled off: said too.
$node->append_conf('postgresql.conf', "stream_ext.enabled = off\n");
$node->reload;
ok( $node->poll_query_until($waiting,
		q{SELECT stream_ext.worker_state() = 'disabled: stream_ext.enabled is off'}),
	'a disabled engine is shown as such');

done_testing();
