# A backlog of 10,000,000 events is worked through in bounded batches, with
# progress visible in stream_ext.stats, and the worker's memory is bounded
# by the batch size and work_mem, never by the backlog.
#
# Two continuous views (a GROUP BY over 1,000 keys and a 1-minute tumbling
# window over the same keys, each with count, sum, avg, min and max) are
# created paused; 10 M events are loaded in 20 transactions of 500,000;
# the views are resumed.  While the worker catches up, stream_ext.stats is
# polled (only to observe progress: completion is waited for with
# stream_ext.flush(), running in a second session) and the worker's
# /proc/<pid>/status is sampled every 20 ms by a child process.
#
# What must hold:
# - progress is visible: events_processed is seen at several values
#   strictly between 0 and 10 M, never going back, events_waiting at
#   several values strictly between 10 M and 0, never going up; every
#   value seen is a whole number of transactions (a batch never splits a
#   transaction); at the end batches >= 10 M / the effective batch size
#   (the view's batch_size, else stream_ext.batch_size: 1,000,000 by
#   default), events_processed = 10 M and events_waiting = 0 per view;
# - memory: the peak RssAnon (the worker's private memory; VmRSS also
#   counts the shared buffers it touched, bounded by shared_buffers and
#   common to every backend) stays under a fixed cap of 128 MB.  With
#   stream_ext.work_mem (the worker's work_mem while it applies batches)
#   = 4MB and hash_mem_multiplier = 2, each memory-hungry node of
#   the batch statement (per view: the partial aggregation of the batch,
#   the combination with the stored states; the batch's common table
#   expression) holds at most 8 MB before it spills to disk, at most about
#   50 MB for two views; add the backend's caches, and LLVM's memory
#   (about 30 MB) in a worker that compiles its statements with JIT.  The
#   cap does not depend on the backlog; the backlog does not fit under it
#   (10 M events take about 500 MB on disk, and never less than 36 bytes
#   each, 360 MB, in any form).  And the worker's memory does not follow
#   the backlog as it is worked off: its peak while the first batches ran
#   (most of the 10 M waiting) and its peak while the last ones ran (at
#   most 3 M waiting) differ by less than 32 MB, i.e. less than 4 bytes per
#   event, either way;
# - after flush() both result tables equal the oracle, the same GROUP BY
#   over the stream itself, exactly (EXCEPT ALL both ways, expected row
#   counts).  The oracle is taken while the views are paused and the
#   stream holds all 10 M events: once consumed, they are pruned.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

# Slow: run when PG_TEST_EXTRA names it (.ci/run does; see README, Tests).
plan skip_all => 'the 10 M-event backlog runs when PG_TEST_EXTRA contains stream_ext_backlog'
  unless ($ENV{PG_TEST_EXTRA} // '') =~ /\bstream_ext_backlog\b/;
use Time::HiRes qw(time sleep);
use POSIX ();

my $N = 10_000_000;              # events in the backlog
my $TX = 500_000;                # events per loading transaction
my $MEM_CAP_KB = 128 * 1024;     # fixed cap on the worker's RssAnon
my $MEM_DRIFT_KB = 32 * 1024;    # first batches against last ones
my $t_begin = time;

my $node = stream_ext_node('backlog', qq{
stream_ext.idle_interval = '200ms'
stream_ext.work_mem = '4MB'
hash_mem_multiplier = 2.0
max_wal_size = '4GB'
checkpoint_timeout = '30min'
});

$node->safe_psql('postgres', q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
BEGIN;
SELECT stream_ext.create_continuous_view('per_key', $$
    SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean, min(v) AS lo, max(v) AS hi
      FROM ev GROUP BY k$$, paused => true);
SELECT stream_ext.create_continuous_view('per_minute', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute,
           count(*) AS n, sum(v) AS total, avg(v) AS mean, min(v) AS lo, max(v) AS hi
      FROM ev GROUP BY k, minute$$, paused => true);
COMMIT;
});
my @views = qw(per_key per_minute);

my $bs = $node->safe_psql('postgres', q{
SELECT min(coalesce(batch_size, current_setting('stream_ext.batch_size')::int))
  FROM stream_ext.continuous_views});
my $min_batches = int(($N + $bs - 1) / $bs);
note("effective batch size $bs: at least $min_batches batches");
cmp_ok($min_batches, '>=', 5, 'the backlog needs several batches of the effective batch size');

ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'", '1'),
	'the worker runs');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'");

# The kB fields of /proc/<pid>/status, or undef once the process is gone.
sub proc_status
{
	my ($p) = @_;
	my %m;
	open(my $fh, '<', "/proc/$p/status") or return undef;
	while (my $line = <$fh>) { $m{$1} = $2 if $line =~ /^(\w+):\s+(\d+) kB/; }
	close $fh;
	return \%m;
}
ok(defined proc_status($pid)->{RssAnon}, "the worker's memory can be read from /proc/$pid/status");

# The backlog: 10 M events over 1,000 keys and one hour (60,000
# key-minutes), in transactions of $TX.
my $t0 = time;
my $load = '';
for (my $lo = 1; $lo <= $N; $lo += $TX)
{
	my $hi = $lo + $TX - 1;
	$load .= "INSERT INTO ev SELECT i % 1000, ((i::bigint * 7919) % 100003 - 50000)::int,"
	  . " '2026-01-01'::timestamptz + (i / 2778) * interval '1 s'"
	  . " FROM generate_series($lo, $hi) i;\n";
}
$node->safe_psql('postgres', $load);
my $t_load = time - $t0;

# Paused views have consumed nothing and see the whole backlog waiting.
is( $node->safe_psql('postgres', q{
SELECT string_agg(concat_ws(' ', view::text, state, batches, events_processed, events_waiting), ', '
                  ORDER BY view::text)
  FROM stream_ext.stats}),
	"per_key paused 0 0 $N, per_minute paused 0 0 $N",
	'while paused, both views wait for the whole backlog');
note('backlog on disk: ' . $node->safe_psql('postgres', q{
SELECT pg_size_pretty(sum(pg_relation_size(partition))) FROM stream_ext.segment}));

# The oracle, while the stream still holds every event.
$t0 = time;
$node->safe_psql('postgres', q{
CREATE TABLE oracle_per_key AS
    SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean, min(v) AS lo, max(v) AS hi
      FROM ev GROUP BY k;
CREATE TABLE oracle_per_minute AS
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute,
           count(*) AS n, sum(v) AS total, avg(v) AS mean, min(v) AS lo, max(v) AS hi
      FROM ev GROUP BY k, minute;
});
is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM oracle_per_key) || ' ' || (SELECT count(*) FROM oracle_per_minute)
    || ' ' || (SELECT sum(n) FROM oracle_per_minute)}),
	"1000 60000 $N", 'the oracle covers 1,000 keys, 60,000 key-minutes, every event');
my $t_oracle = time - $t0;

# The memory sampler: a child process that appends "time RssAnon VmRSS"
# every 20 ms until it is terminated (it exits without running the
# parent's END blocks).
my $memfile = $node->basedir . '/worker_memory.txt';
my $sampler = fork();
die "fork: $!" unless defined $sampler;
if ($sampler == 0)
{
	open(my $out, '>', $memfile) or POSIX::_exit(1);
	$out->autoflush(1);
	while (my $m = proc_status($pid))
	{
		printf $out "%.3f %d %d\n", time, $m->{RssAnon} // 0, $m->{VmRSS} // 0;
		sleep 0.02;
	}
	POSIX::_exit(0);
}

# Resume, and wait for completion with flush() in a second session.
$t0 = time;
$node->safe_psql('postgres', q{
BEGIN;
SELECT stream_ext.resume_continuous_view('per_key');
SELECT stream_ext.resume_continuous_view('per_minute');
COMMIT;
});
my ($flush_in, $flush_out, $flush_err) = ('', '', '');
my $flusher = IPC::Run::start(
	[
		$node->installed_command('psql'), '-XAtq', '-v', 'ON_ERROR_STOP=1',
		'-d', $node->connstr('postgres'),
		'-c', "SELECT stream_ext.flush('300 s')", '-c', "SELECT 'flushed'"
	],
	'<', \$flush_in, '>', \$flush_out, '2>', \$flush_err);

# Observe progress while flush() waits: [time, {view => [batches,
# processed, waiting]}] per poll.
my @polls;
while ($flusher->pumpable)
{
	$flusher->pump_nb;
	my %row;
	for my $line (split /\n/, $node->safe_psql('postgres', q{
SELECT view::text, batches, events_processed, events_waiting FROM stream_ext.stats}))
	{
		my ($view, @values) = split /\|/, $line;
		$row{$view} = \@values;
	}
	push @polls, [ time, \%row ];
	sleep 1;
}
ok($flusher->finish && $flush_out =~ /flushed/, 'flush() returns once the backlog is worked through')
  or diag("flush: $flush_out $flush_err");
my $t_flushed = time;
my $t_catchup = $t_flushed - $t0;
kill 'TERM', $sampler;
waitpid($sampler, 0);
note(sprintf('%d polls of stream_ext.stats in %.1f s', scalar @polls, $t_catchup));

is( $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'"),
	$pid, 'one worker process did all the batches');

# Progress, per view.
for my $view (@views)
{
	my @seen = map { [ $_->[0], @{ $_->[1]{$view} // [] } ] } @polls;
	note("$view (s, batches, processed, waiting): "
		  . join('; ', map { sprintf('%.1f %s %s %s', $_->[0] - $t0, @$_[1 .. 3]) } @seen));
	my (%processed, %waiting);
	my ($backwards, $split, $over, $exact) = (0, 0, 0, 0);
	for my $i (0 .. $#seen)
	{
		my (undef, $batches, $p, $w) = @{ $seen[$i] };
		$processed{$p} = 1 if $p > 0 && $p < $N;
		$waiting{$w} = 1 if $w > 0 && $w < $N;
		$split++ if $p % $TX != 0;
		$over++ if $p + $w > $N;
		$exact++ if $p + $w == $N;
		next if $i == 0;
		my (undef, $batches0, $p0, $w0) = @{ $seen[ $i - 1 ] };
		$backwards++ if $p < $p0 || $w > $w0 || $batches < $batches0;
	}
	cmp_ok(scalar keys %processed, '>=', 3,
		"$view: events_processed seen at several values strictly between 0 and $N");
	cmp_ok(scalar keys %waiting, '>=', 3,
		"$view: events_waiting seen at several values strictly between $N and 0");
	is($backwards, 0,
		"$view: events_processed and batches never go back, events_waiting never goes up");
	is($split, 0, "$view: every batch ends at a transaction's end");
	# Not always equal: a poll whose snapshot predates a batch's commit can
	# count a segment that the batch's pruning then truncated (TRUNCATE is
	# not MVCC-safe) as empty.
	is($over, 0, "$view: no event is counted both as processed and as waiting");
	note("$view: processed + waiting = $N in $exact of " . scalar(@seen) . ' polls');

	my ($batches, $processed, $waiting) = split /\|/, $node->safe_psql('postgres',
		"SELECT batches, events_processed, events_waiting FROM stream_ext.stats WHERE view = '$view'::regclass");
	is("$processed $waiting", "$N 0", "$view: after flush(), events_processed = $N, events_waiting = 0");
	cmp_ok($batches, '>=', $min_batches, "$view: $batches batches, at least $N / $bs");
	note("$view: $batches batches, " . int($processed / $batches) . ' events per batch on average');
}

# Memory.
my @mem;
open(my $fh, '<', $memfile) or die "could not read $memfile: $!";
while (my $line = <$fh>) { push @mem, [ split ' ', $line ]; }
close $fh;
@mem = grep { $_->[0] >= $t0 && $_->[0] <= $t_flushed } @mem;
cmp_ok(scalar @mem, '>=', 100, 'the worker\'s memory was sampled during the catch-up');

sub peak
{
	my ($col, @samples) = @_;
	my $max = 0;
	for (@samples) { $max = $_->[$col] if $_->[$col] > $max; }
	return $max;
}
my $peak_anon = peak(1, @mem);
my $peak_rss = peak(2, @mem);
cmp_ok($peak_anon, '<', $MEM_CAP_KB,
	"peak RssAnon of the worker ${peak_anon} kB, under the fixed cap of $MEM_CAP_KB kB");

# The first batches: until a poll showed 20 % of the backlog processed
# (most of it was waiting while they ran).  The last batches: from the
# first poll that showed 70 % processed with events left (at most 3 M
# waiting) until flush() returned.
my ($early_end, $late_start);
for my $poll (@polls)
{
	my $p = $poll->[1]{per_key}[1] // 0;
	$early_end //= $poll->[0] if $p >= 0.2 * $N;
	$late_start //= $poll->[0] if $p >= 0.7 * $N && $p < $N;
}
my @early = grep { defined $early_end && $_->[0] < $early_end } @mem;
my @late = grep { defined $late_start && $_->[0] >= $late_start } @mem;
ok(@early && @late, 'memory was sampled while the first and while the last batches ran');
my $early = peak(1, @early);
my $late = peak(1, @late);
note("RssAnon peak: first batches $early kB, last batches $late kB");
ok(@early && @late && $late <= $early + $MEM_DRIFT_KB,
	'memory does not grow with the events processed: last batches within 32 MB of the first');
ok(@early && @late && $early <= $late + $MEM_DRIFT_KB,
	'memory does not grow with the events waiting: first batches within 32 MB of the last');

# The results, exactly.
is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT k, n, total, mean, lo, hi FROM per_key EXCEPT ALL SELECT * FROM oracle_per_key) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM oracle_per_key EXCEPT ALL SELECT k, n, total, mean, lo, hi FROM per_key) x)
    || ' ' || (SELECT count(*) FROM per_key)}),
	'0 0 1000', 'per_key equals the oracle');
is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT k, minute, n, total, mean, lo, hi FROM per_minute EXCEPT ALL SELECT * FROM oracle_per_minute) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM oracle_per_minute EXCEPT ALL SELECT k, minute, n, total, mean, lo, hi FROM per_minute) x)
    || ' ' || (SELECT count(*) FROM per_minute)}),
	'0 0 60000', 'per_minute equals the oracle');

my $end = proc_status($pid);
note(sprintf('load %.1f s, oracle %.1f s, catch-up %.1f s, total %.1f s; worker peak RssAnon %d kB,'
	  . ' peak VmRSS %d kB, VmHWM %d kB, RssShmem at the end %d kB',
	$t_load, $t_oracle, $t_catchup, time - $t_begin, $peak_anon, $peak_rss,
	$end->{VmHWM}, $end->{RssShmem}));

$node->stop;
done_testing();
