# on_error => 'skip' across crashes: a view's batch that fails on some of
# its events is tried on halves of the batch (each try rolled back) to
# find them, then applied without them, their dead letters written in the
# same transaction.  The worker is stopped where the dead letters are
# written but not committed, and where the batch is applied but not its
# progress, and killed with SIGKILL or the server shut down immediately.
# After the restart the view equals its query over the events it does not
# fail on, the dead letters hold each event it fails on exactly once, and
# a view without bad events is untouched.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('dead_letters', qq{
stream_ext.idle_interval = '50ms'
restart_after_crash = on
});

$node->safe_psql('postgres', q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE ev_all (LIKE ev);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('ratio', $$
    SELECT k, count(*) AS n, sum(100 / v) AS total FROM ev GROUP BY k$$, on_error => 'skip');
SELECT stream_ext.create_continuous_view('plain', $$
    SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k$$);
-- Thirty events into the stream and the oracle alike; v = 0 now and then.
CREATE FUNCTION put(b int) RETURNS bigint LANGUAGE sql AS $$
    WITH e AS (SELECT (i * b) % 7 AS k, CASE WHEN (i + b) % 23 = 0 THEN 0 ELSE (i + b) % 9 + 1 END AS v,
                      '2026-01-01'::timestamptz + (b * 30 + i) * interval '1 s' AS ts
                 FROM generate_series(1, 30) i),
         s AS (INSERT INTO ev SELECT * FROM e)
    INSERT INTO ev_all SELECT * FROM e RETURNING 1 $$;
CREATE SEQUENCE b;
});

sub check_exact
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT stream_ext.flush('60 s', strict => true)");
	is( $node->safe_psql('postgres', q{
WITH r AS (SELECT k, count(*) AS n, sum(100 / v) AS total FROM ev_all WHERE v <> 0 GROUP BY k),
     p AS (SELECT k, count(*) AS n, sum(v) AS total FROM ev_all GROUP BY k),
     d AS (SELECT (event->>'k')::int AS k, (event->>'v')::int AS v, (event->>'ts')::timestamptz AS ts
             FROM stream_ext.dead_letters WHERE view = 'ratio'::regclass)
SELECT (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM ratio) x)
     + (SELECT count(*) FROM (SELECT * FROM ratio EXCEPT ALL SELECT * FROM r) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM p EXCEPT ALL SELECT * FROM plain) x)
     + (SELECT count(*) FROM (SELECT * FROM plain EXCEPT ALL SELECT * FROM p) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM d EXCEPT ALL SELECT * FROM ev_all WHERE v = 0) x)
     + (SELECT count(*) FROM (SELECT * FROM ev_all WHERE v = 0 EXCEPT ALL SELECT * FROM d) x)
    || ' ' || ((SELECT events_skipped FROM stream_ext.stats WHERE view = 'ratio'::regclass)
               = (SELECT count(*) FROM ev_all WHERE v = 0))}),
		'0 0 0 true', "$when: views equal the oracle, each bad event a dead letter once");
}

$node->safe_psql('postgres', put_transactions(10));
check_exact('before');
ok($node->safe_psql('postgres', 'SELECT count(*) FROM stream_ext.dead_letters') > 0,
	'there are dead letters');

for my $point (qw(batch-skipped batch-applied))
{
	for my $mode ('kill -9', 'immediate shutdown')
	{
		crash_at_injection_point($node, $point, $mode);
		$node->safe_psql('postgres', put_transactions(3));
		check_exact("$point, $mode");
	}
}

is($node->safe_psql('postgres', "SELECT string_agg(state, ',' ORDER BY name::text) FROM stream_ext.continuous_views"),
	'active,active', 'both views are still active');

$node->stop;
done_testing();
