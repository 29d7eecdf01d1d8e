# What the TAP tests of stream_ext share: a node with the extension's
# library preloaded, the oracle comparison, and waiting out a crash
# restart.
package StreamExtTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(stream_ext_node oracle_mismatches wait_for_crash_restart);

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

1;
