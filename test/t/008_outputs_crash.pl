# Outputs stay exact across crashes.  A minute view writes its batches'
# deltas into an output stream that an hour view combines, and appends
# every closed minute to a table; events are written while the worker
# runs, then the worker is killed with SIGKILL and the server is shut down
# immediately.  After each: the hour view equals the batch query over all
# events (the chain is exactly once end to end), and the append table holds
# every closed minute exactly once per revision, its latest revision equal
# to the minute's result row.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('outputs_crash', qq{
stream_ext.idle_interval = '50ms'
restart_after_crash = on
});

$node->safe_psql('postgres', q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v numeric NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('per_minute', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total,
           avg(v) AS mean, max(v) AS hi
      FROM ev GROUP BY k, minute$$, output_stream => 'minute_deltas', append_to => 'closed_minutes');
SELECT stream_ext.create_continuous_view('per_hour', $$
    SELECT k, stream_ext.tumble(minute, '1 hour') AS hour, stream_ext.combine(n) AS n,
           stream_ext.combine(total) AS total, stream_ext.combine(mean) AS mean,
           stream_ext.combine(hi) AS hi
      FROM minute_deltas GROUP BY k, hour$$);
CREATE VIEW hour_oracle AS
    SELECT k, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS total,
           avg(v) AS mean, max(v) AS hi
      FROM ev GROUP BY k, hour;
});

my $batch = 0;

# Many small transactions, some rolled back, event times mostly in order
# with some out of order (late events correct closed minutes).
sub write_events
{
	my ($n) = @_;
	my $sql = '';
	for (1 .. $n)
	{
		$batch++;
		my $end = $batch % 5 == 0 ? 'ROLLBACK' : 'COMMIT';
		my $back = $batch % 7 == 0 ? 300 : 0;
		$sql .= "BEGIN; INSERT INTO ev SELECT (i * $batch) % 7, i * 1.5 + $batch, "
		  . "'2026-01-01'::timestamptz + ($batch * 20 - $back + i % 20) * interval '1 s' "
		  . "FROM generate_series(1, 40) i; $end;\n";
	}
	return $sql;
}

sub check_exact
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT stream_ext.flush('60 s')");
	is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT k, hour, n, total, mean, hi FROM per_hour EXCEPT ALL SELECT * FROM hour_oracle) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM hour_oracle EXCEPT ALL SELECT k, hour, n, total, mean, hi FROM per_hour) x)}),
		'0 0', "$when: the hour view over the output stream equals the oracle");
	is( $node->safe_psql('postgres', q{
WITH wm AS (SELECT watermark FROM stream_ext.stats WHERE view = 'per_minute'::regclass),
     closed AS (SELECT k, minute, n, total, mean, hi FROM per_minute WHERE minute + interval '1 minute' <= (SELECT watermark FROM wm)),
     latest AS (SELECT DISTINCT ON (k, minute) k, minute, n, total, mean, hi
                  FROM closed_minutes ORDER BY k, minute, revision DESC)
SELECT (SELECT count(*) FROM (SELECT k, minute, revision FROM closed_minutes
                              GROUP BY 1, 2, 3 HAVING count(*) > 1) d)
    || ' ' || (SELECT count(*) FROM (SELECT k, minute FROM closed_minutes GROUP BY 1, 2
                                     HAVING max(revision) <> count(*)) g)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM closed EXCEPT ALL SELECT * FROM latest) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM latest EXCEPT ALL SELECT * FROM closed) x)}),
		'0 0 0 0',
		"$when: every closed minute appended once per revision, the latest equal to its row");
}

$node->safe_psql('postgres', write_events(40));
check_exact('after ingest');
# Late events for minutes closed by now: corrections.
$node->safe_psql('postgres', q{
INSERT INTO ev SELECT i % 7, i, '2026-01-01'::timestamptz + (i * 7) * interval '1 s'
  FROM generate_series(1, 60) i});
check_exact('after late events');
ok( $node->safe_psql('postgres', 'SELECT count(*) FROM closed_minutes') > 0
	  && $node->safe_psql('postgres', 'SELECT count(*) FROM closed_minutes WHERE revision > 1') > 0,
	'closed minutes were appended, some of them corrected by late events');

# kill -9 of the worker while events keep coming.
my $writer = $node->background_psql('postgres', on_error_stop => 0);
$writer->query_until(qr/started/, "\\echo started\n" . write_events(200));
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'");
ok($pid =~ /^\d+$/, 'the worker runs');
kill 'KILL', $pid;
eval { $writer->quit; };
$node->poll_query_until('postgres', 'SELECT 1', '1');
$node->poll_query_until('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'", '1');
$node->safe_psql('postgres', write_events(20));
check_exact('after kill -9 of the worker');

# Immediate shutdown in the middle of ingest and batches.
$writer = $node->background_psql('postgres', on_error_stop => 0);
$writer->query_until(qr/started/, "\\echo started\n" . write_events(200));
$node->stop('immediate');
eval { $writer->quit; };
$node->start;
$node->safe_psql('postgres', write_events(20));
check_exact('after an immediate shutdown');

is($node->safe_psql('postgres', "SELECT string_agg(state, ',') FROM stream_ext.continuous_views"),
	'active,active', 'both views are still active');

$node->stop;
done_testing();
