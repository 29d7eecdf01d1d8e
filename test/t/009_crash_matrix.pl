# The crash matrix: the worker is stopped at each named injection point of
# its batch cycle (stream_ext.injection_point) -- with the batch's bounds
# chosen, with states, results and outputs written but not its progress,
# with its progress written but not committed, just after the commit, and
# after a segment was truncated but before that commit -- and there it is
# killed with SIGKILL, or the server is shut down immediately.  After the
# restart, every view equals the batch query over all committed events,
# and the append table holds every closed window once per revision.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('crash_matrix', qq{
stream_ext.idle_interval = '50ms'
stream_ext.segment_size = '16kB'
restart_after_crash = on
});

$node->safe_psql('postgres', q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v numeric NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE ev_all (LIKE ev);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('per_minute', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
      FROM ev GROUP BY k, minute$$, output_stream => 'minute_deltas', append_to => 'closed_minutes');
SELECT stream_ext.create_continuous_view('per_hour', $$
    SELECT k, stream_ext.tumble(minute, '1 hour') AS hour, stream_ext.combine(n) AS n,
           stream_ext.combine(total) AS total
      FROM minute_deltas GROUP BY k, hour$$);
-- Events into the stream and the oracle alike, in one statement.
CREATE FUNCTION put(b int) RETURNS bigint LANGUAGE sql AS $$
    WITH e AS (SELECT (i * b) % 5 AS k, i + b AS v,
                      '2026-01-01'::timestamptz + (b * 11 - (b % 4) * 30 + i) * interval '1 s' AS ts
                 FROM generate_series(1, 30) i),
         s AS (INSERT INTO ev SELECT * FROM e)
    INSERT INTO ev_all SELECT * FROM e RETURNING 1 $$;
CREATE SEQUENCE b;
});

sub check_exact
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT stream_ext.flush('60 s')");
	is( $node->safe_psql('postgres', q{
WITH m AS (SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
             FROM ev_all GROUP BY 1, 2),
     h AS (SELECT k, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS total
             FROM ev_all GROUP BY 1, 2)
SELECT (SELECT count(*) FROM (SELECT * FROM m EXCEPT ALL SELECT k, minute, n, total FROM per_minute) x)
    + (SELECT count(*) FROM (SELECT k, minute, n, total FROM per_minute EXCEPT ALL SELECT * FROM m) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM h EXCEPT ALL SELECT k, hour, n, total FROM per_hour) x)
    + (SELECT count(*) FROM (SELECT k, hour, n, total FROM per_hour EXCEPT ALL SELECT * FROM h) x)
    || ' ' || (SELECT count(*) FROM (SELECT k, minute, revision FROM closed_minutes
                                     GROUP BY 1, 2, 3 HAVING count(*) > 1) d)
    + (SELECT count(*) FROM (SELECT k, minute FROM closed_minutes GROUP BY 1, 2
                             HAVING max(revision) <> count(*)) g)}),
		'0 0 0', "$when: views equal the oracle, closed windows once per revision");
}

$node->safe_psql('postgres', put_transactions(20));
check_exact('before');

for my $point (qw(batch-bounds batch-applied batch-progress batch-committed prune-truncated))
{
	for my $mode ('kill -9', 'immediate shutdown')
	{
		crash_at_injection_point($node, $point, $mode);
		$node->poll_query_until('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'
   AND query NOT LIKE '%injection point%'}, '1');
		$node->safe_psql('postgres', put_transactions(3));
		check_exact("$point, $mode");
	}
}

is($node->safe_psql('postgres', "SELECT string_agg(state, ',') FROM stream_ext.continuous_views"),
	'active,active', 'both views are still active');
ok($node->safe_psql('postgres', q{SELECT count(*) FROM ev}) <
	$node->safe_psql('postgres', q{SELECT count(*) FROM ev_all}),
	'segments were truncated along the way');

$node->stop;
done_testing();
