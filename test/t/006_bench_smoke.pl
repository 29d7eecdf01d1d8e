# The benchmark suite in its smoke scale (BENCH_SCALE=smoke: 200,000
# events per data set, one repetition, W4 for 3 s), so that it keeps
# working: every workload runs to its end and every result table equals
# its oracle.  Nothing here is timed; `make bench` measures.
use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

# Slow: run when PG_TEST_EXTRA names it (.ci/run does; see README, Tests).
plan skip_all => 'the benchmark suite in smoke scale runs when PG_TEST_EXTRA contains stream_ext_bench'
  unless ($ENV{PG_TEST_EXTRA} // '') =~ /\bstream_ext_bench\b/;

my $node = stream_ext_node('bench', qq{
track_commit_timestamp = on
});

my $dir = PostgreSQL::Test::Utils::tempdir;
my $bench = dirname(__FILE__) . '/../bench/bench.sh';
local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
local $ENV{BENCH_DIR} = $dir;
local $ENV{BENCH_SCALE} = 'smoke';
my ($stdout, $stderr);
my $ok = IPC::Run::run([ 'bash', $bench ], '>', \$stdout, '2>', \$stderr);
ok($ok, 'bench.sh runs to its end in smoke scale') or diag($stderr);
note($stdout);

# A table row per workload and data set; its last column is the
# verification.
my %verdicts;
for my $line (split /\n/, $stdout)
{
	next unless $line =~ /^\| ([A-Z]\d) .*\| ([^|]*) \|$/;
	push @{ $verdicts{$1} }, $2;
}
for my $w (qw(W1 W2 W3 W4 B1 B2 B3))
{
	my @v = @{ $verdicts{$w} // [] };
	ok(@v && !grep({ !/^verified \(\d+ rows? in \d+ tables?\)$/ } @v),
		"$w: the results equal the oracle") or diag(join("\n", @v));
}
is(scalar @{ $verdicts{B1} // [] }, 2, 'B1 ran on both data sets');
like($verdicts{W2}[0] // '', qr/in 5 tables/, 'W2: all five views were checked');
unlike($stdout, qr/WRONG/, 'no workload reports wrong results');

$node->stop;
done_testing();
