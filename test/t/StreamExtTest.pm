# What the TAP tests of stream_ext share: a node with the extension's
# library preloaded, the oracle comparison, waiting out a crash restart,
# transactions of a test's put() function with rollbacks, and stopping the
# worker at an injection point to kill it there.
package StreamExtTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More ();

our @EXPORT = qw(stream_ext_node oracle_mismatches wait_for_crash_restart put_transactions
  crash_at_injection_point);

# A started node named $name with stream_ext in shared_preload_libraries
# and the lines of $conf in postgresql.conf; %params go to
# PostgreSQL::Test::Cluster->new (install_path, ...).
sub stream_ext_node
{
	my ($name, $conf, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, %params);

	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'stream_ext'\n" . ($conf // ''));
	$node->start;
	return $node;
}

# The rows in which the results of queries $a and $b differ, counted with
# EXCEPT ALL both ways: 0 when they hold the same rows as often.
sub oracle_mismatches
{
	my ($node, $db, $a, $b) = @_;

	return $node->safe_psql($db, qq{
SELECT (SELECT count(*) FROM (($a) EXCEPT ALL ($b)) x)
     + (SELECT count(*) FROM (($b) EXCEPT ALL ($a)) y)});
}

# After a process of $node was killed with SIGKILL: waits until the
# postmaster has begun its restart (logged after $log_offset), then until
# it accepts connections again.
sub wait_for_crash_restart
{
	my ($node, $log_offset) = @_;

	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	$node->poll_query_until('postgres', 'SELECT true')
	  or die 'the server did not come back after the crash';
}

# The SQL of $n transactions, each calling put(nextval('b')) (the test's
# function that writes a batch of events into the stream and its oracle
# alike), every fifth one, counted over the whole test, rolled back.
my $transactions = 0;
sub put_transactions
{
	my ($n) = @_;
	my $sql = '';

	for (1 .. $n)
	{
		$transactions++;
		$sql .= "BEGIN; SELECT count(*) FROM put(nextval('b')::int); "
		  . ($transactions % 5 == 0 ? 'ROLLBACK' : 'COMMIT') . ";\n";
	}
	return $sql;
}

# Stops the worker of $node at injection point $point while put() keeps
# writing, writes a few more transactions, then kills the worker with
# SIGKILL ($mode 'kill -9') or shuts the server down immediately and
# starts it again; returns when it accepts connections.
sub crash_at_injection_point
{
	my ($node, $point, $mode) = @_;

	$node->safe_psql('postgres',
		"ALTER SYSTEM SET stream_ext.injection_point = '$point'; SELECT pg_reload_conf();");
	# Events keep coming until a worker waits at the point.
	Test::More::ok(
		$node->poll_query_until('postgres', qq{
SELECT count(*) FROM put(nextval('b')::int),
       LATERAL (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'
                   AND query = 'stream_ext: waiting at injection point $point') w}, '1'),
		"$point, $mode: the worker waits there");
	my $pid = $node->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'
   AND query LIKE 'stream_ext: waiting at injection point%'});
	# Released on restart only: the waiting worker does not reload.
	$node->safe_psql('postgres',
		"ALTER SYSTEM RESET stream_ext.injection_point; SELECT pg_reload_conf();");
	$node->safe_psql('postgres', put_transactions(3));
	if ($mode eq 'kill -9')
	{
		my $log_offset = -s $node->logfile;
		kill 'KILL', $pid;
		wait_for_crash_restart($node, $log_offset);
	}
	else
	{
		$node->stop('immediate');
		$node->start;
	}
}

1;
