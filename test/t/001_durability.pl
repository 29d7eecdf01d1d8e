# Streams keep exactly their committed events, with their tags, across
#  (a) a fast restart,
#  (b) an immediate shutdown with a writer's transaction open, and
#  (c) kill -9 of a backend in the middle of a COPY into a stream (the
#      postmaster then runs crash recovery),
# and take new events afterwards, tagged with slot 0 and their own
# transaction id (the first write after each start loads the writer's
# slot from stream_ext.stream into shared memory).
#
# Oracles: every event goes, in the same transaction, to a stream and to
# an ordinary table with the same user columns (compared with EXCEPT ALL
# both ways and by count, also against the count this script expects);
# each committed transaction records its id in batch_oracle, and every
# event's tag must equal the id recorded for its batch.  Transactions
# write by INSERT ... SELECT and by COPY from csv files, and include a
# rollback, savepoints rolled back (one holding the transaction's first
# write) and a savepoint released.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('durability', qq{
restart_after_crash = on
});

# sensor_events has an event-time column; clicks gets arrival_time (the
# start of the inserting transaction), which clicks_oracle mimics with
# the same default.
$node->safe_psql('postgres', q{
CREATE EXTENSION stream_ext;
CREATE TABLE sensor_events (id int NOT NULL, batch int NOT NULL, sensor_id int, temp float8,
                            ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('sensor_events', event_time => 'ts');
CREATE TABLE clicks (id int NOT NULL, batch int NOT NULL, page text);
SELECT stream_ext.create_stream('clicks');

CREATE TABLE sensor_oracle (id int NOT NULL, batch int NOT NULL, sensor_id int, temp float8,
                            ts timestamptz NOT NULL);
CREATE TABLE clicks_oracle (id int NOT NULL, batch int NOT NULL, page text,
                            arrival_time timestamptz NOT NULL DEFAULT now());
CREATE TABLE batch_oracle (batch int PRIMARY KEY, xid int8 NOT NULL);
});

my $next_id = 1;       # events get ids 1, 2, ...
my $next_batch = 1;    # one batch number per transaction
my $expected = 0;      # committed events in each stream

# SQL writing $n events of transaction $batch to both streams by $how
# ('insert': INSERT ... SELECT generate_series; 'copy': COPY from csv
# files written into the data directory), and to the oracles when $kept
# (the caller commits them).
sub events
{
	my ($batch, $n, $how, $kept) = @_;
	my ($from, $to) = ($next_id, $next_id + $n - 1);
	my $sql;

	$next_id += $n;
	$expected += $n if $kept;

	if ($how eq 'insert')
	{
		my $sensor = "SELECT i, $batch, i % 7, i / 4.0, "
		  . "'2026-01-01 00:00:00+00'::timestamptz + i * interval '1 s' "
		  . "FROM generate_series($from, $to) i";
		my $click = "SELECT i, $batch, '/page/' || i % 13 FROM generate_series($from, $to) i";
		$sql = "INSERT INTO sensor_events $sensor;\n"
		  . "INSERT INTO clicks (id, batch, page) $click;\n";
		$sql .= "INSERT INTO sensor_oracle $sensor;\n"
		  . "INSERT INTO clicks_oracle (id, batch, page) $click;\n"
		  if $kept;
	}
	else
	{
		my $sensor_file = $node->data_dir . "/sensor_$from.csv";
		my $click_file = $node->data_dir . "/clicks_$from.csv";
		my ($sensor_rows, $click_rows) = ('', '');
		for my $i ($from .. $to)
		{
			my @t = gmtime(1767225600 + 7 * $i);    # from 2026-01-01 00:00:00 UTC
			$sensor_rows .= sprintf("%d,%d,%d,%s,%04d-%02d-%02d %02d:%02d:%02d+00\n",
				$i, $batch, $i % 7, $i / 8,
				$t[5] + 1900, $t[4] + 1, $t[3], $t[2], $t[1], $t[0]);
			$click_rows .= "$i,$batch,/copied/" . ($i % 11) . "\n";
		}
		append_to_file($sensor_file, $sensor_rows);
		append_to_file($click_file, $click_rows);
		# Without a column list: the stream's own columns.
		$sql = "COPY sensor_events FROM '$sensor_file' (FORMAT csv);\n"
		  . "COPY clicks FROM '$click_file' (FORMAT csv);\n";
		$sql .= "COPY sensor_oracle FROM '$sensor_file' (FORMAT csv);\n"
		  . "COPY clicks_oracle (id, batch, page) FROM '$click_file' (FORMAT csv);\n"
		  if $kept;
	}
	return $sql;
}

# SQL recording the id of the current (committing) transaction.
sub record_batch
{
	my ($batch) = @_;
	return "INSERT INTO batch_oracle VALUES ($batch, pg_current_xact_id()::text::int8);\n";
}

# SQL of a few transactions of every kind.
sub workload
{
	my $sql = '';
	my $b;

	# INSERT ... SELECT
	$b = $next_batch++;
	$sql .= "BEGIN;\n" . events($b, 300, 'insert', 1) . record_batch($b) . "COMMIT;\n";

	# COPY
	$b = $next_batch++;
	$sql .= "BEGIN;\n" . events($b, 400, 'copy', 1) . record_batch($b) . "COMMIT;\n";

	# Rolled back: neither its INSERT nor its COPY is kept.
	$b = $next_batch++;
	$sql .= "BEGIN;\n" . events($b, 200, 'insert', 0) . events($b, 200, 'copy', 0) . "ROLLBACK;\n";

	# The first write in a savepoint that is rolled back; the later ones
	# are kept, with one more savepoint rolled back in between.
	$b = $next_batch++;
	$sql .= "BEGIN;\nSAVEPOINT a;\n" . events($b, 150, 'copy', 0) . events($b, 50, 'insert', 0)
	  . "ROLLBACK TO SAVEPOINT a;\n"
	  . events($b, 100, 'insert', 1)
	  . "SAVEPOINT b;\n" . events($b, 70, 'insert', 0) . "ROLLBACK TO SAVEPOINT b;\n"
	  . events($b, 100, 'copy', 1) . record_batch($b) . "COMMIT;\n";

	# A savepoint released: its events are kept.
	$b = $next_batch++;
	$sql .= "BEGIN;\n" . events($b, 80, 'insert', 1)
	  . "SAVEPOINT c;\n" . events($b, 120, 'copy', 1) . "RELEASE SAVEPOINT c;\n"
	  . record_batch($b) . "COMMIT;\n";

	return $sql;
}

# The streams hold exactly the committed events, each tagged with slot 0
# and the id of the transaction that wrote it.
sub check_exact
{
	my ($when) = @_;

	is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT id, batch, sensor_id, temp, ts FROM sensor_events
                              EXCEPT ALL SELECT id, batch, sensor_id, temp, ts FROM sensor_oracle) x)
    || ' ' || (SELECT count(*) FROM (SELECT id, batch, sensor_id, temp, ts FROM sensor_oracle
                              EXCEPT ALL SELECT id, batch, sensor_id, temp, ts FROM sensor_events) x)
    || ' ' || (SELECT count(*) FROM sensor_events) || ' ' || (SELECT count(*) FROM sensor_oracle)}),
		"0 0 $expected $expected",
		"$when: sensor_events holds exactly the committed events");
	is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT id, batch, page, arrival_time FROM clicks
                              EXCEPT ALL SELECT id, batch, page, arrival_time FROM clicks_oracle) x)
    || ' ' || (SELECT count(*) FROM (SELECT id, batch, page, arrival_time FROM clicks_oracle
                              EXCEPT ALL SELECT id, batch, page, arrival_time FROM clicks) x)
    || ' ' || (SELECT count(*) FROM clicks) || ' ' || (SELECT count(*) FROM clicks_oracle)}),
		"0 0 $expected $expected",
		"$when: clicks holds exactly the committed events and their arrival times");
	# Slot 0: the tag is the transaction id itself.
	is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT batch, stream_ext_tx FROM sensor_events
                      UNION ALL SELECT batch, stream_ext_tx FROM clicks) e
                LEFT JOIN batch_oracle b USING (batch)
 WHERE e.stream_ext_tx IS DISTINCT FROM b.xid}),
		'0', "$when: every event carries slot 0 and the id of the transaction that wrote it");
}

# The first transaction to write after a start: its events get slot 0 and
# its own id.  It commits, and the oracles get its events too.
sub first_write
{
	my ($when) = @_;
	my $b = $next_batch++;

	is( $node->safe_psql('postgres', "BEGIN;\n" . events($b, 10, 'insert', 1)
			. events($b, 10, 'copy', 1) . record_batch($b) . qq{
SELECT count(*) FILTER (WHERE stream_ext_tx >> 48 = 0
                          AND stream_ext_tx & ((1::int8 << 48) - 1) = pg_current_xact_id()::text::int8)
       || '/' || count(*)
  FROM (SELECT batch, stream_ext_tx FROM sensor_events
        UNION ALL SELECT batch, stream_ext_tx FROM clicks) e
 WHERE batch = $b;
COMMIT;}),
		'40/40', "$when: new events carry slot 0 and their transaction's id");
}

# Catalog rows, and the streams as stream_ext.streams shows them.
my $catalog_sql = q{
SELECT line FROM (
    SELECT 1, format('%s %s %s %s %s %s', relid, event_time, arrival_column, segments,
                     current_slot, created_at)
      FROM stream_ext.stream
    UNION ALL
    SELECT 2, format('%s %s %s', stream, slot, partition) FROM stream_ext.segment
) c (kind, line)
ORDER BY kind, line};
my $streams_sql = q{
SELECT string_agg(format('%s %s %s %s', stream, event_time, arrival_column, events_stored), ', '
                  ORDER BY stream::text)
  FROM stream_ext.streams WHERE stream::text <> 'probe'};

$node->safe_psql('postgres', workload() . workload());
check_exact('before any restart');

#
# (a) Fast restart.
#

# A probe of the reload path: a stream whose catalog says its writers use
# slot 1 (written here by hand, as superuser; stream_ext itself does not
# rotate yet).  After the restart, its first writer must read slot 1 from
# the catalog.
$node->safe_psql('postgres', q{
CREATE TABLE probe (n int);
SELECT stream_ext.create_stream('probe');
INSERT INTO probe VALUES (0);
UPDATE stream_ext.stream SET current_slot = 1 WHERE relid = 'probe'::regclass;
});

my $catalog_before = $node->safe_psql('postgres', $catalog_sql);
like($catalog_before,
	qr/^clicks arrival_time arrival_time 3 0 .+\nprobe arrival_time arrival_time 3 1 .+\nsensor_events ts  3 0 .+\nclicks 0 stream_ext\.clicks_seg0\n(?:.+\n){7}sensor_events 2 stream_ext\.sensor_events_seg2$/,
	'the catalog lists the streams and their segments');

$node->restart;

first_write('after a fast restart');
check_exact('after a fast restart');
is($node->safe_psql('postgres', $catalog_sql),
	$catalog_before, 'stream_ext.stream and stream_ext.segment survive the restart');
is($node->safe_psql('postgres', $streams_sql),
	"clicks arrival_time arrival_time $expected, sensor_events ts  $expected",
	'stream_ext.streams shows the streams with all their events');
is( $node->safe_psql('postgres', q{
INSERT INTO probe VALUES (1);
SELECT string_agg(n || ':' || (stream_ext_tx >> 48) || ':' || tableoid::regclass, ' ' ORDER BY n)
  FROM probe;}),
	'0:0:stream_ext.probe_seg0 1:1:stream_ext.probe_seg1',
	'after the restart, writers take their slot from the catalog');

$node->safe_psql('postgres', workload());
check_exact('writing after the fast restart');

#
# (b) Immediate shutdown with a transaction open.
#

my $open = $node->background_psql('postgres', on_error_stop => 0);
my $doomed = $next_batch++;
$open->query_safe("BEGIN;\n" . events($doomed, 500, 'insert', 0) . events($doomed, 500, 'copy', 0));
is( $open->query_safe(
		"SELECT (SELECT count(*) FROM sensor_events WHERE batch = $doomed) || ' ' || "
		  . "(SELECT count(*) FROM clicks WHERE batch = $doomed)"),
	'1000 1000', 'the open transaction has written its events');

# Transactions that commit while it is open; nothing is checkpointed.
$node->safe_psql('postgres', workload());
$node->stop('immediate');
eval { $open->quit; };
$node->start;

first_write('after an immediate shutdown');
check_exact('after an immediate shutdown');
is( $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM sensor_events WHERE batch = $doomed) || ' ' || "
		  . "(SELECT count(*) FROM clicks WHERE batch = $doomed)"),
	'0 0', 'the events of the open transaction are gone');
$node->safe_psql('postgres', workload());
check_exact('writing after the immediate shutdown');

#
# (c) kill -9 of a backend in the middle of a COPY into a stream.
#

my $writer = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $writer->query_safe('SELECT pg_backend_pid()');
$doomed = $next_batch++;
$writer->query_safe("BEGIN;\n" . events($doomed, 300, 'insert', 0));

# A COPY FROM STDIN whose end never comes.  Its rows (under 60 kB) fit
# at once in the pipe to psql, which passes them on but for at most 16 kB
# (its own buffer and libpq's): the backend gets well over 1000 rows, so
# at least one batch of them reaches the segment before the kill.
my $rows = '';
while (length($rows) < 58000)
{
	$rows .= "$next_id,$doomed,,,2026-06-01\n";
	$next_id++;
}
$writer->query_until(qr/copying/,
	"\\echo copying\nCOPY sensor_events FROM STDIN (FORMAT csv);\n$rows");
ok( $node->poll_query_until('postgres',
		"SELECT tuples_processed > 1000 FROM pg_stat_progress_copy WHERE pid = $pid"),
	'the backend is in the middle of its COPY');
note 'rows copied before the kill: ',
  $node->safe_psql('postgres', "SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = $pid");

# Transactions that commit meanwhile.
$node->safe_psql('postgres', workload());

my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
like(
	slurp_file($node->logfile, $log_offset),
	qr/server process \(PID $pid\) was terminated by signal 9.*all server processes terminated; reinitializing/s,
	'the postmaster ran crash recovery after the kill');
eval { $writer->quit; };

first_write('after kill -9 of a backend');
check_exact('after kill -9 of a backend');
is( $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM sensor_events WHERE batch = $doomed) || ' ' || "
		  . "(SELECT count(*) FROM clicks WHERE batch = $doomed)"),
	'0 0', 'the events of the killed transaction are gone');
$node->safe_psql('postgres', workload());
check_exact('writing after kill -9 of a backend');

$node->stop;
done_testing();
