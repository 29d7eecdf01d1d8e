# pg_dump -Fc / pg_restore of a database with two streams (one with an
# event-time column, one with the added arrival_time column).  Restored
# with PGOPTIONS='-c stream_ext.restoring=on', the new database has the
# same catalog rows (stream_ext.stream, stream_ext.segment,
# stream_ext.streams), the same events with the same tags (compared with
# EXCEPT ALL both ways against a copy of the source's rows), the streams
# are still partitioned on stream_ext_tx with their segments, still
# append-only and tag-checked, and take new events tagged with the new
# transaction.  Restored without the setting, pg_restore reports an error
# for each segment that holds events and loads none of them.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('dump_restore');

my $dir = $node->basedir;

# The source database.  The rolled-back transaction and savepoint must
# leave nothing behind, in the source and so in the dump.
$node->safe_psql('postgres', q{
CREATE DATABASE source;
});
$node->safe_psql('source', q{
CREATE EXTENSION stream_ext;
CREATE TABLE sensor_events (sensor_id int NOT NULL, temp float8, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('sensor_events', event_time => 'ts');
-- Declared by DDL: the same stream as create_stream('clicks') makes.
CREATE TABLE clicks (page text, user_id int) WITH (stream_ext.stream);

BEGIN;
INSERT INTO sensor_events
  SELECT i % 10, i / 4.0, '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 s'
    FROM generate_series(1, 500) i;
INSERT INTO clicks SELECT '/page/' || (i % 7), i FROM generate_series(1, 200) i;
COMMIT;

BEGIN;
COPY sensor_events FROM STDIN (FORMAT csv);
101,21.5,2026-01-02 10:00:01+00
102,19.25,2026-01-02 10:00:07+00
103,,2026-01-02 10:00:09+00
\.
COPY clicks FROM STDIN (FORMAT csv);
/copied,
/copied,7
\.
SAVEPOINT s;
INSERT INTO sensor_events VALUES (-1, -1, now());
ROLLBACK TO SAVEPOINT s;
COMMIT;

BEGIN;
INSERT INTO sensor_events VALUES (-2, -2, now());
INSERT INTO clicks VALUES ('/rolled-back', -2);
ROLLBACK;

INSERT INTO clicks VALUES ('/last', 300);

-- A continuous view made by DDL, caught up before the dump.
CREATE MATERIALIZED VIEW page_hits WITH (stream_ext.continuous, stream_ext.backfill = true) AS
    SELECT page, count(*) AS hits, max(user_id) AS last_user FROM clicks GROUP BY page;
SELECT stream_ext.flush();
});

# Sanity of the source: the events that committed, in three transactions.
is( $node->safe_psql('source', q{
SELECT (SELECT count(*) FROM sensor_events) || ' ' || (SELECT count(*) FROM clicks)
    || ' ' || (SELECT count(*) FROM sensor_events WHERE sensor_id < 0)
    || ' ' || (SELECT count(*) FROM clicks WHERE user_id < 0)
    || ' ' || (SELECT count(DISTINCT stream_ext_tx) FROM
                 (SELECT stream_ext_tx FROM sensor_events UNION ALL SELECT stream_ext_tx FROM clicks) t)}),
	'503 203 0 0 3', 'the source holds the committed events of three transactions');

# What the restored database must show: the catalog and the events with
# their tags, copied out of the source.
my $catalog_sql = q{
SELECT line FROM (
    SELECT 1, format('%s %s %s %s %s %s', relid, event_time, arrival_column, segments,
                     current_slot, created_at)
      FROM stream_ext.stream
    UNION ALL
    SELECT 2, format('%s %s %s', stream, slot, partition) FROM stream_ext.segment
) c (kind, line)
ORDER BY kind, line};
my $source_catalog = $node->safe_psql('source', $catalog_sql);
my $streams_sql = q{
SELECT stream, event_time, arrival_column, segments, created_at, events_stored
  FROM stream_ext.streams ORDER BY stream::text};
my $source_streams = $node->safe_psql('source', $streams_sql);
like($source_catalog,
	qr/^clicks arrival_time arrival_time 3 0 .+\nsensor_events ts  3 0 .+\nclicks 0 stream_ext\.clicks_seg0\n(?:.+\n){4}sensor_events 2 stream_ext\.sensor_events_seg2$/,
	'the source catalog lists both streams and their segments');

$node->safe_psql('source', qq{
COPY (SELECT sensor_id, temp, ts, stream_ext_tx FROM sensor_events) TO '$dir/sensor_events.src' (FORMAT binary);
COPY (SELECT page, user_id, arrival_time, stream_ext_tx FROM clicks) TO '$dir/clicks.src' (FORMAT binary);
});

my $dump = "$dir/source.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('source') ],
	'pg_dump -Fc of the database with streams');

# Restore with stream_ext.restoring.
$node->safe_psql('postgres', 'CREATE DATABASE restored');
{
	local $ENV{PGOPTIONS} = '-c stream_ext.restoring=on';
	$node->command_ok(
		[ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
		'pg_restore with stream_ext.restoring=on succeeds');
}

is($node->safe_psql('restored', $catalog_sql),
	$source_catalog, 'stream_ext.stream and stream_ext.segment are restored as they were');
is($node->safe_psql('restored', $streams_sql),
	$source_streams, 'stream_ext.streams lists the restored streams with their events');

# The events, with their tags, equal the source's.
$node->safe_psql('restored', qq{
CREATE TABLE sensor_events_src (sensor_id int, temp float8, ts timestamptz, stream_ext_tx int8);
COPY sensor_events_src FROM '$dir/sensor_events.src' (FORMAT binary);
CREATE TABLE clicks_src (page text, user_id int, arrival_time timestamptz, stream_ext_tx int8);
COPY clicks_src FROM '$dir/clicks.src' (FORMAT binary);
});
is( $node->safe_psql('restored', q{
SELECT (SELECT count(*) FROM (SELECT sensor_id, temp, ts, stream_ext_tx FROM sensor_events
                              EXCEPT ALL SELECT * FROM sensor_events_src) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM sensor_events_src
                              EXCEPT ALL SELECT sensor_id, temp, ts, stream_ext_tx FROM sensor_events) x)
    || ' ' || (SELECT count(*) FROM sensor_events) || ' ' || (SELECT count(*) FROM sensor_events_src)}),
	'0 0 503 503', 'the events of sensor_events and their tags are restored exactly');
is( $node->safe_psql('restored', q{
SELECT (SELECT count(*) FROM (SELECT page, user_id, arrival_time, stream_ext_tx FROM clicks
                              EXCEPT ALL SELECT * FROM clicks_src) x)
    || ' ' || (SELECT count(*) FROM (SELECT * FROM clicks_src
                              EXCEPT ALL SELECT page, user_id, arrival_time, stream_ext_tx FROM clicks) x)
    || ' ' || (SELECT count(*) FROM clicks) || ' ' || (SELECT count(*) FROM clicks_src)}),
	'0 0 203 203', 'the events of clicks, arrival times and tags are restored exactly');

# Still streams: partitioned on the tag, the segments are its partitions
# (and the ones the catalog names), events stay in segment 0.
for my $stream ('sensor_events', 'clicks')
{
	is( $node->safe_psql('restored', qq{
SELECT c.relkind::text || ' ' || pg_get_partkeydef(c.oid) || ' '
       || (SELECT string_agg(i.inhrelid::regclass::text, ',' ORDER BY i.inhrelid::regclass::text)
             FROM pg_inherits i WHERE i.inhparent = c.oid)
  FROM pg_class c WHERE c.oid = '$stream'::regclass}),
		"p RANGE (stream_ext_tx) stream_ext.${stream}_seg0,stream_ext.${stream}_seg1,stream_ext.${stream}_seg2",
		"$stream is still partitioned on stream_ext_tx into its segments");
}
is( $node->safe_psql('restored', q{
SELECT count(*) FROM stream_ext.segment g
 WHERE NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = g.partition AND i.inhparent = g.stream)}),
	'0', 'every segment in the restored catalog is a partition of its stream');

# Protections still hold in the restored database (no restoring setting
# in these sessions).
my ($ret, $stdout, $stderr) = $node->psql('restored', q{
\set VERBOSITY verbose
INSERT INTO sensor_events (sensor_id, temp, ts, stream_ext_tx) VALUES (1, 1, now(), 42);});
like($stderr, qr/ERROR:  428C9: cannot insert a value into column "stream_ext_tx" of stream "sensor_events"/,
	'the restored stream refuses a tag given by the writer');
($ret, $stdout, $stderr) = $node->psql('restored', q{
\set VERBOSITY verbose
DELETE FROM clicks;});
like($stderr, qr/ERROR:  0A000: cannot DELETE stream public\.clicks/,
	'the restored stream is still append-only');

# New events, by INSERT and by COPY without a column list, carry slot 0
# and the id of the transaction that wrote them.
is( $node->safe_psql('restored', q{
BEGIN;
INSERT INTO sensor_events VALUES (500, 30.5, '2026-02-01 00:00:00+00');
COPY sensor_events FROM STDIN (FORMAT csv);
501,31.5,2026-02-01 00:00:01+00
\.
INSERT INTO clicks VALUES ('/after-restore', 500);
COPY clicks FROM STDIN (FORMAT csv);
/after-restore,501
\.
SELECT count(*) FILTER (WHERE stream_ext_tx >> 48 = 0
                          AND stream_ext_tx & ((1::int8 << 48) - 1) = pg_current_xact_id()::text::int8)
       || '/' || count(*)
  FROM (SELECT stream_ext_tx FROM sensor_events WHERE sensor_id >= 500
        UNION ALL
        SELECT stream_ext_tx FROM clicks WHERE user_id >= 500
          AND arrival_time = now()) t;
COMMIT;}),
	'4/4', 'new events in the restored streams carry slot 0 and their own transaction');
is( $node->safe_psql('restored', q{
SELECT string_agg(stream || ' ' || events_stored, ', ' ORDER BY stream::text) FROM stream_ext.streams}),
	'clicks 205, sensor_events 505', 'the restored streams count the new events');

# The DDL-made view is restored with its results and goes on from them;
# the stream keeps every event here (its segments never fill).
$node->safe_psql('restored', 'SELECT stream_ext.flush()');
is( $node->safe_psql('restored', q{
SELECT (SELECT count(*) FROM (SELECT * FROM page_hits EXCEPT ALL
                              SELECT page, count(*), max(user_id) FROM clicks GROUP BY page) x)
    || ' ' || (SELECT count(*) FROM (SELECT page, count(*), max(user_id) FROM clicks GROUP BY page
                                     EXCEPT ALL SELECT * FROM page_hits) x)
    || ' ' || (SELECT sum(hits) FROM page_hits)
    || ' ' || (SELECT state FROM stream_ext.continuous_views WHERE name = 'page_hits'::regclass)}),
	'0 0 205 active', 'the view made by CREATE MATERIALIZED VIEW is restored and applies the new events');

# Restore without stream_ext.restoring: pg_restore goes on after errors
# and reports one for each segment that holds events (the other
# segments are empty).  Segment data loaded after stream_ext.stream's has
# its stored tags refused (428C9).  pg_dump orders the data of
# stream_ext.stream just before stream_ext.continuous_view's (which has a
# foreign key to it), so the data of segments whose names sort before
# "continuous_view", such as clicks_seg0, is loaded before the stream is
# in the catalog, and fails with "is not a stream" instead.
$node->safe_psql('postgres', 'CREATE DATABASE restored_plain');
$node->command_checks_all(
	[ 'pg_restore', '-d', $node->connstr('restored_plain'), $dump ],
	1,
	[qr/^$/],
	[
		qr/COPY failed for table "sensor_events_seg0": ERROR:  cannot insert a value into column "stream_ext_tx" of stream "sensor_events"/,
		qr/COPY failed for table "clicks_seg0": ERROR:  (?:cannot insert a value into column "stream_ext_tx" of stream "clicks"|relation "clicks" is not a stream)/,
		qr/errors ignored on restore: 2$/m,
	],
	'pg_restore without stream_ext.restoring fails on the events of each segment');
is( $node->safe_psql('restored_plain', q{
SELECT (SELECT count(*) FROM stream_ext.stream) || ' ' || (SELECT count(*) FROM sensor_events)
    || ' ' || (SELECT count(*) FROM clicks)}),
	'2 0 0', 'without the setting the streams are restored empty');

$node->stop;
done_testing();
