# The soak: `make soak` (not part of make test).  For SOAK_SECONDS (600)
# events are written at a sustained rate -- COPY of 1,000 rows, small transactions,
# some rolled back, some with savepoints rolled back or released -- while
# every SOAK_CRASH_EVERY seconds (30) the worker is killed with SIGKILL or
# the server is shut down immediately, alternately.  At the end: every
# view equals the batch query over all committed events (each event is
# also written to a plain table), the append table holds every closed
# window once per revision, the worker's memory did not grow over the run,
# and the result and state tables stayed within a small factor of a fresh
# copy of them.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use POSIX qw(strftime);
use Time::HiRes qw(time);

my $seconds = $ENV{SOAK_SECONDS} // 600;
my $crash_every = $ENV{SOAK_CRASH_EVERY} // 30;

my $node = PostgreSQL::Test::Cluster->new('soak');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'stream_ext'
restart_after_crash = on
stream_ext.segment_size = '1MB'
autovacuum_naptime = '5s'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE ev_all (LIKE ev);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('per_minute', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total, max(v) AS hi
      FROM ev GROUP BY k, minute$$, output_stream => 'minute_deltas', append_to => 'closed_minutes');
SELECT stream_ext.create_continuous_view('per_hour', $$
    SELECT k, stream_ext.tumble(minute, '1 hour') AS hour, stream_ext.combine(n) AS n,
           stream_ext.combine(total) AS total
      FROM minute_deltas GROUP BY k, hour$$);
SELECT stream_ext.create_continuous_view('per_key', 'SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k');
CREATE SEQUENCE clock START 1000000;
-- The oracle: every row any statement adds to the stream, in the same
-- transaction (a statement-level trigger over its transition table).
CREATE FUNCTION to_oracle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ev_all SELECT k, v, ts FROM added;
    RETURN NULL;
END $$;
CREATE TRIGGER to_oracle AFTER INSERT ON ev REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION to_oracle();
-- n events at the next seconds of event time.
CREATE FUNCTION put(n int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO ev
    SELECT (i * 7919 + c) % 200, (i + c)::int % 1000,
           '2026-01-01'::timestamptz + (c * 3 + i % 5) * interval '1 s'
      FROM (SELECT nextval('clock') AS c) t, generate_series(1, n) i $$;
});

# One round of mixed ingest, as SQL.
my $round = 0;
sub ingest
{
	$round++;
	# A COPY of 1,000 events, generated on the server.
	my $sql = sprintf('COPY ev (k, v, ts) FROM PROGRAM $q$awk \'BEGIN { for (i = 1; i <= 1000; i++)'
		  . ' printf "%%d,%%d,%s\\n", (i * 7919 + %d) %% 200, (i + %d) %% 1000 }\'$q$ (FORMAT csv);' . "\n",
		strftime('%Y-%m-%d %H:%M:%S+00', gmtime(1767225600 + $round * 3)), $round, $round);
	for my $t (1 .. 20)
	{
		my $r = ($round * 20 + $t) % 10;
		if ($r == 0) { $sql .= "BEGIN; SELECT put(5); ROLLBACK;\n"; }
		elsif ($r == 1)
		{
			$sql .= "BEGIN; SELECT put(3); SAVEPOINT s; SELECT put(4); ROLLBACK TO s; SELECT put(2); COMMIT;\n";
		}
		elsif ($r == 2)
		{
			$sql .= "BEGIN; SELECT put(3); SAVEPOINT s; SELECT put(4); RELEASE s; COMMIT;\n";
		}
		else { $sql .= "SELECT put(" . (1 + $r) . ");\n"; }
	}

	# A sustained rate, about 15,000 events a second, that the views keep
	# up with between crashes (an overload only measures the backlog).
	return $sql . "SELECT pg_sleep(0.05);\n";
}

sub worker_pid
{
	# Not safe_psql: the server may be restarting after a crash.
	my ($ret, $out) = $node->psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'");
	return $ret == 0 ? $out : '';
}

sub worker_memory_kb
{
	my $pid = worker_pid();
	return undef unless $pid =~ /^\d+$/ && open(my $fh, '<', "/proc/$pid/status");
	while (<$fh>) { return $1 if /^RssAnon:\s+(\d+)/; }
	return undef;
}

my $start = time;
my $crashes = 0;
my @memory;
while (time - $start < $seconds)
{
	# Ingest in a psql of its own that is still writing when the crash
	# comes (its script is longer than a crash interval).
	my $script = "$PostgreSQL::Test::Utils::tmp_check/soak_ingest.sql";
	open(my $fh, '>', $script) or die "could not write $script: $!";
	print $fh join('', map { ingest() } 1 .. 2000);
	close($fh);
	my $writer = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $script ],
		'>', '/dev/null', '2>', '/dev/null');
	my $crash_at = time + $crash_every;
	while (time < $crash_at && time - $start < $seconds)
	{
		my $kb = worker_memory_kb();
		push @memory, [ time - $start, $kb ] if defined $kb;
		Time::HiRes::sleep(2);
	}
	$crashes++;
	if ($crashes % 2)
	{
		my $pid = worker_pid();
		kill 'KILL', $pid if $pid =~ /^\d+$/;
		$writer->kill_kill;
		eval { $writer->finish; };
		# Until the restarted server has a new worker (errors while it
		# recovers are retried).
		$node->poll_query_until('postgres', qq{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext worker' AND pid <> 0$pid}, '1');
	}
	else
	{
		$node->stop('immediate');
		$writer->kill_kill;
		eval { $writer->finish; };
		$node->start;
		$node->poll_query_until('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'}, '1');
	}
}

$node->safe_psql('postgres', "SELECT stream_ext.flush('900 s')");
my $events = $node->safe_psql('postgres', 'SELECT count(*) FROM ev_all');
note("$events events, $crashes crashes in " . int(time - $start) . " s");
ok($crashes >= int(0.8 * $seconds / $crash_every), "crashed $crashes times");
is( $node->safe_psql('postgres', q{
WITH m AS (SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total, max(v) AS hi
             FROM ev_all GROUP BY 1, 2),
     h AS (SELECT k, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS total
             FROM ev_all GROUP BY 1, 2),
     p AS (SELECT k, count(*) AS n, sum(v) AS total FROM ev_all GROUP BY 1)
SELECT (SELECT count(*) FROM (SELECT * FROM m EXCEPT ALL SELECT k, minute, n, total, hi FROM per_minute) x)
     + (SELECT count(*) FROM (SELECT k, minute, n, total, hi FROM per_minute EXCEPT ALL SELECT * FROM m) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM h EXCEPT ALL SELECT k, hour, n, total FROM per_hour) x)
     + (SELECT count(*) FROM (SELECT k, hour, n, total FROM per_hour EXCEPT ALL SELECT * FROM h) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM p EXCEPT ALL SELECT k, n, total FROM per_key) x)
     + (SELECT count(*) FROM (SELECT k, n, total FROM per_key EXCEPT ALL SELECT * FROM p) x)}),
	'0 0 0', 'every view equals the batch query over all committed events');
is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT k, minute, revision FROM closed_minutes GROUP BY 1, 2, 3
                              HAVING count(*) > 1) d)
     + (SELECT count(*) FROM (SELECT k, minute FROM closed_minutes GROUP BY 1, 2
                              HAVING max(revision) <> count(*)) g)}),
	'0', 'the append table holds every closed window once per revision');

# Memory: the worker's peak in the last third of the run is within 1.5
# times (and 16 MB) of its peak in the first third after warm-up.
my @first = map { $_->[1] } grep { $_->[0] > 30 && $_->[0] < $seconds / 3 } @memory;
my @last = map { $_->[1] } grep { $_->[0] > 2 * $seconds / 3 } @memory;
my ($peak_first) = sort { $b <=> $a } @first;
my ($peak_last) = sort { $b <=> $a } @last;
note('worker RssAnon samples (s, kB): ' . join(' ', map { int($_->[0]) . ':' . $_->[1] } @memory));
ok( defined $peak_first && defined $peak_last
	  && $peak_last <= 1.5 * $peak_first + 16384,
	"worker memory does not grow (first third $peak_first kB, last third $peak_last kB)");

# Bloat: each result and state table's heap within 3 times (and 1 MB) of
# a fresh copy of its rows.
$node->safe_psql('postgres', 'VACUUM');
my $bloat = $node->safe_psql('postgres', q{
CREATE FUNCTION soak_fresh_size(t regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    size bigint;
BEGIN
    EXECUTE format('CREATE TEMP TABLE soak_copy AS SELECT * FROM %s', t);
    size := pg_relation_size('soak_copy');
    DROP TABLE soak_copy;
    RETURN size;
END $$;
SELECT coalesce(string_agg(format('%s: %s bytes, fresh %s', t, pg_relation_size(t), f), '; ')
                FILTER (WHERE pg_relation_size(t) > 3 * f + 1048576), '')
  FROM (SELECT result AS t FROM stream_ext.continuous_view
        UNION ALL SELECT state_table FROM stream_ext.continuous_view WHERE state_table IS NOT NULL) x,
       LATERAL (SELECT soak_fresh_size(t) AS f) z});
is($bloat, '', 'result and state tables stay within 3x of a fresh copy');
note($node->safe_psql('postgres', q{
SELECT string_agg(format('%s %s rows %s', t, (SELECT reltuples::bigint FROM pg_class WHERE oid = t),
                         pg_size_pretty(pg_relation_size(t))), '; ')
  FROM (SELECT result AS t FROM stream_ext.continuous_view
        UNION ALL SELECT state_table FROM stream_ext.continuous_view WHERE state_table IS NOT NULL) x}));

$node->stop;
done_testing();
