# Every SQL block of README.md runs as written: each in a new database,
# the Quickstart's own with nothing before it, the others with the
# extension created and, when they read the Quickstart's sensor_events,
# after the Quickstart.  Any error fails the test; where a block states
# the columns a view gets ("-- columns: ..."), the view has exactly those,
# and where it shows a notification arriving, psql prints that one.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $readme = "$FindBin::Bin/../../README.md";
open(my $fh, '<', $readme) or die "could not open $readme: $!";
my (@blocks, $block, $section, $quickstart);
while (my $line = <$fh>)
{
	if (defined $block)
	{
		if ($line =~ /^```\s*$/)
		{
			push @blocks, { sql => $block, section => $section };
			$quickstart //= $block if $section eq 'Quickstart';
			undef $block;
		}
		else
		{
			$block .= $line;
		}
	}
	elsif ($line =~ /^```sql\s*$/)
	{
		$block = '';
	}
	elsif ($line =~ /^#+\s+(.*?)\s*$/)
	{
		$section = $1;
	}
}
close($fh);
ok(@blocks >= 10, 'README has its SQL blocks (' . scalar(@blocks) . ')');
ok(defined $quickstart, 'README has a Quickstart');

my $node = stream_ext_node('readme', qq{
stream_ext.idle_interval = '100ms'
});

my $n = 0;
for my $b (@blocks)
{
	$n++;
	my $db = "readme_$n";
	my $sql = $b->{sql};
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	my $before = '';
	if ($sql !~ /CREATE EXTENSION/)
	{
		$before = $sql =~ /\bsensor_events\b/ ? $quickstart : "CREATE EXTENSION stream_ext;\n";
	}
	my ($rc, $out, $err) = $node->psql($db, $before . $sql, on_error_stop => 1);
	is($rc . ($err =~ /(ERROR|WARNING):.*/ ? " $&" : ''), '0',
		"block $n ($b->{section}) runs as written");

	# A notification the block says arrives.
	if ($sql =~ /-- (Asynchronous notification "[^"]+" with payload)\n-- ("\{.*?\}") received/)
	{
		my $expected = "$1 $2 received";
		ok(index($out, $expected) >= 0, "block $n: psql shows the notification the README says")
		  or diag("expected: $expected\ngot: $out");
	}

	# Stated columns of the view the block creates.
	if ($sql =~ /create_continuous_view\('(\w+)'.*?-- columns: ([\w, ]+)/s)
	{
		my ($view, $columns) = ($1, $2);
		is( $node->safe_psql($db, qq{
SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute
 WHERE attrelid = '$view'::regclass AND attnum > 0 AND NOT attisdropped
   AND attname NOT LIKE 'stream\\_ext\\_%'}),
			$columns, "block $n: $view has the columns the README says");
	}
	# Its worker goes with it: each database has one while it has the extension.
	$node->safe_psql('postgres', "DROP DATABASE $db");
}

$node->stop;
done_testing();
