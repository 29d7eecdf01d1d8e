# Streams and their committed events survive a fast restart, an immediate
# shutdown with a writer in flight, and pg_dump/pg_restore; an ordinary
# table that received the same events is the oracle.  Loading the
# extension without shared_preload_libraries fails with a hint.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('streams');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'stream_ext'");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION stream_ext;
CREATE TABLE ev (k int NOT NULL, v float8, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
CREATE TABLE clicks (page text);
SELECT stream_ext.create_stream('clicks');
CREATE TABLE oracle (k int, v float8, ts timestamptz);
});

# Committed events go to both; rolled-back ones to neither.
sub write_events
{
	my ($from, $to) = @_;
	$node->safe_psql('postgres', qq{
BEGIN;
INSERT INTO ev SELECT i % 10, i / 3.0, '2026-01-01'::timestamptz + i * interval '1 s'
  FROM generate_series($from, $to) i;
INSERT INTO oracle SELECT i % 10, i / 3.0, '2026-01-01'::timestamptz + i * interval '1 s'
  FROM generate_series($from, $to) i;
SAVEPOINT s;
INSERT INTO ev VALUES (-1, -1, now());
ROLLBACK TO s;
COMMIT;
BEGIN;
INSERT INTO ev VALUES (-2, -2, now());
ROLLBACK;
INSERT INTO clicks VALUES ('/$from');
});
}

# The stream holds exactly the oracle's events.
sub check_events
{
	my ($when) = @_;
	is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT k, v, ts FROM ev EXCEPT ALL SELECT k, v, ts FROM oracle) x)
    || ' ' ||
       (SELECT count(*) FROM (SELECT k, v, ts FROM oracle EXCEPT ALL SELECT k, v, ts FROM ev) x)
    || ' ' || (SELECT count(*) FROM ev)}),
		'0 0 ' . $node->safe_psql('postgres', 'SELECT count(*) FROM oracle'),
		"$when: the stream holds exactly the committed events");
}

write_events(1, 5000);
check_events('before any restart');

# Fast restart: catalog, segments and events are all there, and writers
# reload the current segment from the catalog.
$node->restart;
check_events('after a fast restart');
is( $node->safe_psql('postgres',
		"SELECT string_agg(stream::text || ':' || event_time || ':' || segments, ',' ORDER BY stream::text)
		   FROM stream_ext.streams"),
	'clicks:arrival_time:3,ev:ts:3', 'the catalog survives the restart');
write_events(5001, 6000);
check_events('writing after the restart');
is( $node->safe_psql('postgres', q{
BEGIN;
INSERT INTO ev VALUES (1, 1, now());
SELECT stream_ext_tx >> 48 = 0 AND (stream_ext_tx & ((1::int8 << 48) - 1)) = pg_current_xact_id()::text::int8
  FROM ev WHERE ts > '2026-06-01';
ROLLBACK;}),
	't', 'a new event carries slot 0 and its own transaction');

# Immediate shutdown with a writer in flight: its events are gone, every
# committed event is there.
my $inflight = $node->background_psql('postgres', on_error_stop => 0);
$inflight->query_safe('BEGIN');
$inflight->query_safe(q{INSERT INTO ev SELECT 77, 77, now() FROM generate_series(1, 1000)});
write_events(6001, 7000);
$node->stop('immediate');
eval { $inflight->quit; };
$node->start;
check_events('after an immediate shutdown');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev WHERE k = 77'),
	'0', 'the uncommitted events are gone');
is($node->safe_psql('postgres', 'SELECT count(*) FROM clicks'), '3',
	'the stream without event time kept its events too');
write_events(7001, 8000);
check_events('writing after the immediate shutdown');

# pg_dump / pg_restore: streams, catalog and events; without
# stream_ext.restoring the events cannot be loaded.
my $dump = $node->basedir . '/streams.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump of a database with streams');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
{
	local $ENV{PGOPTIONS} = '-c stream_ext.restoring=on';
	$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ],
		'pg_restore with stream_ext.restoring');
}
is( $node->safe_psql('restored', q{
SELECT (SELECT string_agg(stream::text || ':' || event_time, ',' ORDER BY stream::text) FROM stream_ext.streams)
    || ' ' || (SELECT relkind::text FROM pg_class WHERE oid = 'ev'::regclass)
    || ' ' || (SELECT count(*) FROM (SELECT k, v, ts FROM ev EXCEPT ALL SELECT k, v, ts FROM oracle) x)
    || ' ' || (SELECT count(*) FROM (SELECT k, v, ts FROM oracle EXCEPT ALL SELECT k, v, ts FROM ev) x)}),
	'clicks:arrival_time,ev:ts p 0 0', 'the restored database has the streams, the catalog and every event');
is( $node->safe_psql('restored', q{
INSERT INTO ev VALUES (1, 1, now());
SELECT count(*) FROM ev WHERE stream_ext_tx & ((1::int8 << 48) - 1) = (SELECT max(stream_ext_tx & ((1::int8 << 48) - 1)) FROM ev);}),
	'1', 'the restored stream takes new events');
$node->safe_psql('postgres', 'CREATE DATABASE restored_plain');
$node->command_fails([ 'pg_restore', '-e', '-d', $node->connstr('restored_plain'), $dump ],
	'pg_restore without stream_ext.restoring fails on the events');

# Without shared_preload_libraries.
my $bare = PostgreSQL::Test::Cluster->new('bare');
$bare->init;
$bare->start;
my ($ret, $stdout, $stderr) = $bare->psql('postgres', 'CREATE EXTENSION stream_ext');
isnt($ret, 0, 'CREATE EXTENSION fails without shared_preload_libraries');
like($stderr, qr/stream_ext must be loaded via shared_preload_libraries/, 'with a clear message');
like($stderr, qr/HINT:  Add stream_ext to shared_preload_libraries/, 'and a hint');
is($bare->safe_psql('postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'stream_ext'")
	. $bare->safe_psql('postgres',
		"SELECT count(*) FROM pg_namespace WHERE nspname = 'stream_ext'"),
	'00', 'and leaves nothing behind');
$bare->stop;

$node->stop;
done_testing();
