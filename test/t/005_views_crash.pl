# Continuous views stay exact across crashes: events are written while the
# worker applies batches; the worker is killed with SIGKILL (the postmaster
# then restarts every process), the server is shut down immediately, a
# worker is terminated; after each, flush() and compare the result table
# with the view's query run over all events (the oracle).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('views_crash', qq{
stream_ext.idle_interval = '50ms'
restart_after_crash = on
});

$node->safe_psql('postgres', q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v numeric NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('per_key', $$
    SELECT k, date_bin('10 minutes', ts, '2026-01-01') AS bucket,
           count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi
      FROM ev GROUP BY k, bucket$$);
CREATE VIEW oracle AS
    SELECT k, date_bin('10 minutes', ts, '2026-01-01') AS bucket,
           count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi
      FROM ev GROUP BY k, bucket;
});

my $batch = 0;

# Write events in many small transactions (some rolled back) from a
# background session while the worker runs.
sub write_events
{
	my ($n) = @_;
	my $sql = '';
	for (1 .. $n)
	{
		$batch++;
		my $end = $batch % 5 == 0 ? 'ROLLBACK' : 'COMMIT';
		$sql .= "BEGIN; INSERT INTO ev SELECT (i * $batch) % 13, i * 1.5 + $batch, "
		  . "'2026-01-01'::timestamptz + (i * 37 + $batch) * interval '1 s' "
		  . "FROM generate_series(1, 50) i; $end;\n";
	}
	return $sql;
}

sub check_exact
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT stream_ext.flush('60 s')");
	is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT k, bucket, n, total, lo, hi FROM per_key EXCEPT ALL SELECT * FROM oracle) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM oracle EXCEPT ALL SELECT k, bucket, n, total, lo, hi FROM per_key) x)}),
		'0 0', "$when: the view equals the oracle");
}

$node->safe_psql('postgres', write_events(40));
check_exact('after ingest');

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

# pg_terminate_backend of the worker.
$pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker'");
$node->safe_psql('postgres', write_events(30) . "SELECT pg_terminate_backend($pid);");
$node->safe_psql('postgres', write_events(10));
check_exact('after the worker was terminated');

is($node->safe_psql('postgres', "SELECT state FROM stream_ext.continuous_views"),
	'active', 'the view is still active');

# A view whose batch stops the worker every time: the attempts counter,
# kept in the catalog across the worker's lives, puts it in error after
# stream_ext.max_batch_attempts (3) tries instead of stopping the worker
# forever; the other view of the stream goes on, exact.
$node->safe_psql('postgres', q{
CREATE FUNCTION stop_worker(k int) RETURNS int STABLE LANGUAGE plpgsql AS $$
BEGIN
    IF k = 999 THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
        PERFORM pg_sleep(60);   -- ends at once: the worker is terminated
    END IF;
    RETURN k;
END $$;
SELECT stream_ext.create_continuous_view('fragile',
    'SELECT public.stop_worker(k) AS k, count(*) AS n FROM ev GROUP BY 1');
});
$node->safe_psql('postgres', write_events(5) . "INSERT INTO ev VALUES (999, 1, '2026-01-01');");
ok( $node->poll_query_until('postgres',
		"SELECT state FROM stream_ext.continuous_view WHERE result = 'fragile'::regclass", 'error'),
	'a view whose batches keep stopping the worker goes into error');
like($node->safe_psql('postgres',
		"SELECT last_error FROM stream_ext.continuous_view WHERE result = 'fragile'::regclass"),
	qr/begun 3 times without finishing/, 'its last error says why');
$node->safe_psql('postgres', write_events(5));
$node->safe_psql('postgres', "SELECT stream_ext.drop_continuous_view('fragile')");
check_exact('after a view crashed the worker three times');

$node->stop;
done_testing();
