# stream_ext refuses to load outside shared_preload_libraries: on a node
# without it, CREATE EXTENSION (and LOAD) fail with SQLSTATE 55000, the
# message and the hint, every time they are tried, the session goes on,
# and no extension, schema or function is left behind.  Once the library
# is preloaded and the server restarted, CREATE EXTENSION works, the
# settings and the launcher are there, and a stream takes events.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'', 'the node starts without shared_preload_libraries');

# Everything stream_ext could have left in the database.
my $leftovers = q{
SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'stream_ext')
    || '|' || (SELECT count(*) FROM pg_namespace WHERE nspname = 'stream_ext')
    || '|' || (SELECT count(*) FROM pg_proc WHERE probin LIKE '%stream_ext%')
    || '|' || (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'stream_ext%')};

# Verbose errors show the SQLSTATE.  The same session tries twice, loads
# the library by hand, and is still usable afterwards.
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{\set VERBOSITY verbose
CREATE EXTENSION stream_ext;
CREATE EXTENSION stream_ext;
LOAD 'stream_ext';
SELECT 'session still usable';},
	on_error_stop => 0);
note "stderr:\n$stderr";

# psql without ON_ERROR_STOP exits 0 even when statements fail; the
# errors are counted on stderr instead.
my @errors = ($stderr =~ /^psql:<stdin>:\d+: ERROR:  55000: stream_ext must be loaded via shared_preload_libraries$/mg);
is(scalar(@errors), 3,
	'both CREATE EXTENSION and LOAD fail with 55000 and the message');
my @hints = ($stderr =~ /^HINT:  Add stream_ext to shared_preload_libraries in postgresql\.conf and restart the server\.$/mg);
is(scalar(@hints), 3, 'each time with the hint');
unlike($stderr, qr/FATAL|PANIC|server closed the connection/,
	'the failure is an ordinary error');
is($stdout, 'session still usable', 'the session goes on after the failures');

# ON_ERROR_STOP: a failing CREATE EXTENSION is a failing command.
($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION stream_ext');
is($ret, 3, 'psql with ON_ERROR_STOP reports the failed CREATE EXTENSION');
like($stderr, qr/stream_ext must be loaded via shared_preload_libraries/,
	'with the message');

is($node->safe_psql('postgres', $leftovers),
	'0|0|0|0', 'no extension, schema, function or event trigger is left behind');

# Preload, restart: now it works.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'stream_ext'");
$node->restart;

$node->safe_psql('postgres', 'CREATE EXTENSION stream_ext');
is( $node->safe_psql('postgres',
		"SELECT extname || ' ' || extversion || ' ' || extnamespace::regnamespace FROM pg_extension WHERE extname = 'stream_ext'"),
	'stream_ext 0.2.0 stream_ext', 'CREATE EXTENSION works once the library is preloaded');
is($node->safe_psql('postgres', 'SHOW stream_ext.restoring'),
	'off', "the library's settings are defined");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'stream_ext launcher'", '1'),
	'the launcher runs');

# A stream takes events, tagged with slot 0 and the writing transaction.
is( $node->safe_psql('postgres', q{
CREATE TABLE sensor_events (sensor_id int NOT NULL, temp float8, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('sensor_events', event_time => 'ts') IS NOT NULL;
BEGIN;
INSERT INTO sensor_events VALUES (1, 20.5, '2026-01-01 10:00:00+00'), (2, 19.0, '2026-01-01 10:00:01+00');
SELECT count(*) FILTER (WHERE stream_ext_tx >> 48 = 0
                          AND stream_ext_tx & ((1::int8 << 48) - 1) = pg_current_xact_id()::text::int8)
       || '/' || count(*)
  FROM sensor_events;
COMMIT;}),
	"t\n2/2", 'a stream created after the restart takes events');

$node->stop;
done_testing();
