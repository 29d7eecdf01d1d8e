# ALTER EXTENSION stream_ext UPDATE from 0.1.0 to 0.2.0, exactly once.
#
# A private installation (a copy of PostgreSQL's bin, lib and share
# directories) gets version 0.1.0, built from the git history by
# test/tools/run.sh (STREAM_EXT_V010_DIR).  A database of 0.1.0 has every
# kind of view: tumbling with internal and ordinary states and an output
# expression, a view without keys, append_to, hopping, sliding, session,
# an output stream with a view over it, a transform, a source table, a
# paused view, a view in error; a grant and a user view on a result table.
# Events are written (some transactions rolled back), the server is shut
# down immediately while a backlog waits, and the current version is
# installed.  Until the update the worker runs nothing (worker_state(),
# flush() and the log say so) while writers go on; then ALTER EXTENSION
# UPDATE, more events, a worker killed with SIGKILL mid-stream, and every
# view equals its oracle, the same query over a shadow table written in
# the same transactions.  The updated extension's objects equal those of
# a fresh CREATE EXTENSION, and the objects the update made belong to the
# views' owners, not to the extension.
use strict;
use warnings;

use File::Path qw(make_path);
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $v010 = $ENV{STREAM_EXT_V010_DIR};
plan skip_all => 'version 0.1.0 was not built (STREAM_EXT_V010_DIR: make test builds it from the git history)'
  unless defined $v010 && -f "$v010/stream_ext.so";

# The private installation: PostgreSQL finds its lib and share
# directories relative to its binaries.
my $inst = PostgreSQL::Test::Utils::tempdir('install');
my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
my %dir;
for my $d ('bindir', 'pkglibdir', 'sharedir')
{
	chomp($dir{$d} = `$pg_config --$d`);
	make_path("$inst$dir{$d}");
	system('cp', '-a', "$dir{$d}/.", "$inst$dir{$d}") == 0 or die "could not copy $dir{$d}";
}
sub install_from
{
	my ($tree) = @_;
	system('make', '-s', '-C', $tree, "PG_CONFIG=$pg_config", "DESTDIR=$inst", 'install') == 0
	  or die "could not install from $tree";
}
install_from($v010);
unlink glob("$inst$dir{sharedir}/extension/stream_ext--0.2.0.sql"),
  glob("$inst$dir{sharedir}/extension/stream_ext--0.1.0--0.2.0.sql");

my $node = stream_ext_node('upgrade', qq{
stream_ext.idle_interval = '100ms'
stream_ext.batch_size = 3000
restart_after_crash = on
}, install_path => dirname("$inst$dir{bindir}"));
is($node->safe_psql('postgres', "SELECT default_version FROM pg_available_extensions WHERE name = 'stream_ext'"),
	'0.1.0', 'the private installation has 0.1.0');

my $setup = <<'SQL';
-- Every kind of view, made by 0.1.0.
CREATE EXTENSION stream_ext VERSION '0.1.0';
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
CREATE TABLE shadow (k int, v int, ts timestamptz NOT NULL);
CREATE TABLE orders (k int, v int, ts timestamptz NOT NULL);
SELECT stream_ext.attach_source('orders', 'ev');
-- A source of every operation, its columns' names needing quotes.
CREATE TABLE accounts (id int PRIMARY KEY, "it's" int NOT NULL);
CREATE TABLE acct_ev ("it's" int, "old_it's" int, "Op 100%" text, ts timestamptz NOT NULL DEFAULT '2026-01-01');
SELECT stream_ext.create_stream('acct_ev', event_time => 'ts');
SELECT stream_ext.attach_source('accounts', 'acct_ev', operations => ARRAY['INSERT', 'UPDATE', 'DELETE'],
                                operation_column => 'Op 100%');
CREATE ROLE upg_reader;

SELECT stream_ext.create_continuous_view('v_tumble', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total,
           avg(v) AS mean, avg(v::numeric) AS nmean, min(v) AS lo, max(v) AS hi, count(*) + 1 AS n1
      FROM ev GROUP BY k, minute$$);
GRANT SELECT ON v_tumble TO upg_reader;
CREATE VIEW v_tumble_report AS SELECT k, sum(n) AS n FROM v_tumble GROUP BY k;
SELECT stream_ext.create_continuous_view('v_global', $$SELECT count(*) AS n, sum(v) AS total, stddev(v) AS sd FROM ev$$);
SELECT stream_ext.create_continuous_view('v_closed', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM ev GROUP BY k, minute$$,
    append_to => 'closed_windows');
SELECT stream_ext.create_continuous_view('v_hop', $$
    SELECT w.window_start, w.window_end, count(*) AS n, sum(v) AS total
      FROM ev, LATERAL stream_ext.hop(ts, '3 minutes', '1 minute') w GROUP BY 1, 2$$);
SELECT stream_ext.create_continuous_view('v_sliding', $$SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k$$,
    sliding => '36500 days', step => '1 day');
SELECT stream_ext.create_continuous_view('v_session', $$SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k$$,
    session_gap => '5 minutes');
SELECT stream_ext.create_continuous_view('v_minute', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, avg(v) AS mean
      FROM ev GROUP BY k, minute$$, output_stream => 'minute_deltas');
SELECT stream_ext.create_continuous_view('v_hour', $$
    SELECT k, stream_ext.tumble(minute, '1 hour') AS hour, stream_ext.combine(n) AS n,
           stream_ext.combine(mean) AS mean
      FROM minute_deltas GROUP BY k, hour$$);
CREATE TABLE evens (k int, v int);
SELECT stream_ext.create_transform('t_evens', $$SELECT k, v FROM ev WHERE v % 2 = 0$$, 'evens');
SELECT stream_ext.create_continuous_view('v_paused', $$SELECT k, count(*) AS n FROM ev GROUP BY k$$);
SELECT stream_ext.pause_continuous_view('v_paused');
CREATE FUNCTION fragile_combine(a int8, b int8) RETURNS int8 LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    IF a + b > 1000000000 THEN RAISE EXCEPTION 'fragile total % is too large', a + b; END IF;
    RETURN a + b;
END $$;
CREATE AGGREGATE fragile_sum(int) (SFUNC = int4_sum, STYPE = int8, COMBINEFUNC = fragile_combine);
SELECT stream_ext.create_continuous_view('v_error', $$SELECT k, fragile_sum(v) AS total FROM ev GROUP BY k$$);
SQL
my $check = <<'SQL';
-- Every view against the same query over the shadow table.
CREATE TEMP VIEW mismatches AS
SELECT 'v_tumble' AS view, count(*) AS rows FROM (
  (SELECT k, stream_ext.tumble(ts, '1 minute'), count(*), sum(v), avg(v), avg(v::numeric), min(v), max(v), count(*) + 1 FROM shadow GROUP BY 1, 2
   EXCEPT ALL SELECT k, minute, n, total, mean, nmean, lo, hi, n1 FROM v_tumble)
  UNION ALL
  (SELECT k, minute, n, total, mean, nmean, lo, hi, n1 FROM v_tumble
   EXCEPT ALL SELECT k, stream_ext.tumble(ts, '1 minute'), count(*), sum(v), avg(v), avg(v::numeric), min(v), max(v), count(*) + 1 FROM shadow GROUP BY 1, 2)) x
UNION ALL
SELECT 'v_global', count(*) FROM (
  (SELECT count(*), sum(v), round(stddev(v), 9) FROM shadow EXCEPT ALL SELECT n, total, round(sd, 9) FROM v_global)
  UNION ALL (SELECT n, total, round(sd, 9) FROM v_global EXCEPT ALL SELECT count(*), sum(v), round(stddev(v), 9) FROM shadow)) x
UNION ALL
SELECT 'v_closed', count(*) FROM (
  (SELECT k, stream_ext.tumble(ts, '1 minute'), count(*) FROM shadow GROUP BY 1, 2 EXCEPT ALL SELECT k, minute, n FROM v_closed)
  UNION ALL (SELECT k, minute, n FROM v_closed EXCEPT ALL SELECT k, stream_ext.tumble(ts, '1 minute'), count(*) FROM shadow GROUP BY 1, 2)) x
UNION ALL
SELECT 'v_hop', count(*) FROM (
  (SELECT w.window_start, w.window_end, count(*), sum(v) FROM shadow, LATERAL stream_ext.hop(ts, '3 minutes', '1 minute') w GROUP BY 1, 2
   EXCEPT ALL SELECT window_start, window_end, n, total FROM v_hop)
  UNION ALL (SELECT window_start, window_end, n, total FROM v_hop
   EXCEPT ALL SELECT w.window_start, w.window_end, count(*), sum(v) FROM shadow, LATERAL stream_ext.hop(ts, '3 minutes', '1 minute') w GROUP BY 1, 2)) x
UNION ALL
SELECT 'v_sliding', count(*) FROM (
  (SELECT k, count(*), sum(v) FROM shadow GROUP BY k EXCEPT ALL SELECT k, n, total FROM v_sliding)
  UNION ALL (SELECT k, n, total FROM v_sliding EXCEPT ALL SELECT k, count(*), sum(v) FROM shadow GROUP BY k)) x
UNION ALL
SELECT 'v_session', count(*) FROM (
  (SELECT k, count(*), sum(v) FROM shadow GROUP BY k EXCEPT ALL SELECT k, sum(n), sum(total) FROM v_session GROUP BY k)
  UNION ALL (SELECT k, sum(n), sum(total) FROM v_session GROUP BY k EXCEPT ALL SELECT k, count(*), sum(v) FROM shadow GROUP BY k)) x
UNION ALL
SELECT 'v_minute', count(*) FROM (
  (SELECT k, stream_ext.tumble(ts, '1 minute'), count(*), avg(v) FROM shadow GROUP BY 1, 2 EXCEPT ALL SELECT k, minute, n, mean FROM v_minute)
  UNION ALL (SELECT k, minute, n, mean FROM v_minute EXCEPT ALL SELECT k, stream_ext.tumble(ts, '1 minute'), count(*), avg(v) FROM shadow GROUP BY 1, 2)) x
UNION ALL
SELECT 'v_hour', count(*) FROM (
  (SELECT k, stream_ext.tumble(ts, '1 hour'), count(*), round(avg(v)::numeric, 9) FROM shadow GROUP BY 1, 2 EXCEPT ALL SELECT k, hour, n, round(mean::numeric, 9) FROM v_hour)
  UNION ALL (SELECT k, hour, n, round(mean::numeric, 9) FROM v_hour EXCEPT ALL SELECT k, stream_ext.tumble(ts, '1 hour'), count(*), round(avg(v)::numeric, 9) FROM shadow GROUP BY 1, 2)) x
UNION ALL
SELECT 't_evens', count(*) FROM (
  (SELECT k, v FROM shadow WHERE v % 2 = 0 EXCEPT ALL SELECT k, v FROM evens)
  UNION ALL (SELECT k, v FROM evens EXCEPT ALL SELECT k, v FROM shadow WHERE v % 2 = 0)) x
UNION ALL
SELECT 'v_paused', count(*) FROM (
  (SELECT k, count(*) FROM shadow GROUP BY k EXCEPT ALL SELECT k, n FROM v_paused)
  UNION ALL (SELECT k, n FROM v_paused EXCEPT ALL SELECT k, count(*) FROM shadow GROUP BY k)) x;
SQL
my $objects = <<'SQL';
SELECT 'function ' || p.oid::regprocedure::text || ' ' || p.prosecdef || ' ' || coalesce(p.proconfig::text, '-') || ' '
       || coalesce(p.proacl::text, '-') || ' ' || p.provolatile::text || p.proisstrict || ' ' || md5(p.prosrc)
       || ' ' || pg_get_function_arguments(p.oid) || ' -> ' || pg_get_function_result(p.oid)
  FROM pg_proc p WHERE p.pronamespace = 'stream_ext'::regnamespace AND p.proname NOT LIKE '\_source\_%'
UNION ALL
SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '-') || ' '
       || coalesce(md5(pg_get_viewdef(c.oid)), '-')
  FROM pg_class c WHERE c.relnamespace = 'stream_ext'::regnamespace
   AND c.relname IN ('stream', 'segment', 'continuous_view', 'state_column', 'source', 'streams', 'stats',
                     'workers', 'continuous_views', 'transforms', 'view_part')
UNION ALL
SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid IN ('stream_ext.stream'::regclass, 'stream_ext.segment'::regclass, 'stream_ext.continuous_view'::regclass,
                      'stream_ext.state_column'::regclass, 'stream_ext.source'::regclass)
   AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'stream_ext'::regnamespace AND conrelid IN (
       'stream_ext.stream'::regclass, 'stream_ext.segment'::regclass, 'stream_ext.continuous_view'::regclass,
       'stream_ext.state_column'::regclass, 'stream_ext.source'::regclass)
UNION ALL
SELECT 'trigger ' || evtname || ' ' || evtevent::text || ' ' || evtfoid::regproc::text FROM pg_event_trigger
ORDER BY 1;
SQL

$node->safe_psql('postgres', $setup);

# $lo..$hi: half into the stream, half through the source table, each with
# its shadow rows in the same transaction; a rolled-back transaction too.
sub load
{
	my ($lo, $hi) = @_;
	my $rows = "SELECT i % 7, i, '2026-01-01'::timestamptz + i * interval '13 s' FROM generate_series($lo, $hi) i";
	$node->safe_psql('postgres', qq{
BEGIN;
INSERT INTO ev $rows WHERE i % 2 = 0;
INSERT INTO shadow $rows WHERE i % 2 = 0;
COMMIT;
BEGIN;
INSERT INTO orders $rows WHERE i % 2 = 1;
INSERT INTO shadow $rows WHERE i % 2 = 1;
COMMIT;
BEGIN;
INSERT INTO ev SELECT 99, 1, now() FROM generate_series(1, 10);
ROLLBACK;
});
}

# Ten accounts from $lo: inserted, five updated, three deleted.
sub accounts
{
	my ($lo) = @_;
	$node->safe_psql('postgres', qq{
INSERT INTO accounts SELECT i, i FROM generate_series($lo, $lo + 9) i;
UPDATE accounts SET "it's" = "it's" + 1 WHERE id BETWEEN $lo AND $lo + 4;
DELETE FROM accounts WHERE id BETWEEN $lo + 7 AND $lo + 9;});
}

# flush() fails only for the view in error, once the others caught up.
sub flush
{
	my ($rc, $out, $err) = $node->psql('postgres', 'SELECT stream_ext.flush()');
	like($err, qr/v_error: fragile total/, "flush() waits for every view but the one in error ($_[0])");
}

sub mismatches
{
	return $node->safe_psql('postgres', "$check SELECT string_agg(view || ': ' || rows, ', ') FROM mismatches WHERE rows <> 0");
}

load(1, 2000);
accounts(1);
$node->safe_psql('postgres', 'SELECT stream_ext.flush()');
# Folded into a stored state, the poison event puts v_error in error.
$node->safe_psql('postgres', q{
INSERT INTO ev VALUES (0, 1000000000, '2026-01-01 00:05');
INSERT INTO shadow VALUES (0, 1000000000, '2026-01-01 00:05');});
flush('0.1.0');
load(2001, 4000);
$node->stop('immediate');

# The current version, as a package update would install it.
install_from($ENV{TESTDIR});
$node->start;

$node->poll_query_until('postgres', "SELECT stream_ext.worker_state() LIKE 'waiting: ALTER EXTENSION stream_ext UPDATE%'")
  or die 'the worker does not say it waits for the update';
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT stream_ext.flush()');
like($err, qr/stream_ext in this database is version 0\.1\.0, but its library is version 0\.2\.0/,
	'flush() before the update names both versions');
ok($node->log_contains('database "postgres" has version 0.1.0 of the extension, the library is version 0.2.0'),
	'the worker logs that it waits for the update');

# The SQL functions of 0.1.0 that reach the library's C functions, which
# take the arguments of 0.2.0, are refused by the versions' error (or,
# for a C function 0.2.0 no longer has, by PostgreSQL's): nothing is made,
# and the server does not crash.  (0.1.0's drop functions, in PL/pgSQL over
# its own catalog, still work.)
my $calls_log = -s $node->logfile;
my $made = q{
SELECT (SELECT count(*) FROM stream_ext.continuous_view) || '|' || (SELECT count(*) FROM stream_ext.stream)
    || '|' || (SELECT count(*) FROM stream_ext.source)
    || '|' || (SELECT count(*) FROM pg_class WHERE relname IN ('v_new', 't_new'))
    || '|' || (SELECT string_agg(state, ',' ORDER BY result::text) FROM stream_ext.continuous_view)
    || '|' || (SELECT count(*) FROM stream_ext.stream WHERE retention IS NOT NULL)};
my $before_calls = $node->safe_psql('postgres', $made);
for my $call (
	q{SELECT stream_ext.create_continuous_view('v_new', $$SELECT count(*) AS n FROM ev$$)},
	q{SELECT stream_ext.create_transform('t_new', $$SELECT k, v FROM ev$$, 'evens')},
	q{SELECT stream_ext.pause_continuous_view('v_tumble')},
	q{SELECT stream_ext.replace_continuous_view('v_tumble', $$SELECT count(*) AS n FROM ev$$)},
	q{SELECT stream_ext.set_retention('ev', '1 day')},
	q{SELECT stream_ext.prune('ev')},
	q{SELECT stream_ext.attach_source('orders', 'acct_ev')})
{
	my ($rc, $out, $err) = $node->psql('postgres', $call);
	like(
		$err,
		qr/stream_ext in this database is version 0\.1\.0, but its library is version 0\.2\.0|could not find function/,
		"before the update, refused: $call");
}
ok(!$node->log_contains('terminated by signal', $calls_log), 'no call crashed the server');
is($node->safe_psql('postgres', $made), $before_calls,
	'before the update, nothing was made or dropped');
load(4001, 6000);

$node->safe_psql('postgres', 'ALTER EXTENSION stream_ext UPDATE');
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'stream_ext'"),
	'0.2.0', 'updated to 0.2.0');
$node->safe_psql('postgres', "SELECT stream_ext.resume_continuous_view('v_paused')");
load(6001, 8000);
accounts(101);
is($node->safe_psql('postgres', q{
SELECT string_agg(op || ' ' || n || ' ' || wrong, ', ' ORDER BY op)
  FROM (SELECT "Op 100%" AS op, count(*) AS n,
               count(*) FILTER (WHERE "Op 100%" = 'UPDATE' AND "it's" <> "old_it's" + 1) AS wrong
          FROM acct_ev GROUP BY 1) x}),
	'DELETE 6 0, INSERT 20 0, UPDATE 10 0',
	'a source of every operation feeds its stream before and after the update');
is($node->safe_psql('postgres', q{
SELECT string_agg(operation || ' ' || operation_column || ' ' || trigger, ', ' ORDER BY operation)
  FROM stream_ext.source WHERE source = 'accounts'::regclass}),
	join(', ', map { "$_ Op 100% stream_ext_" . lc($_) . '_' . $node->safe_psql('postgres', q{SELECT 'acct_ev'::regclass::oid}) }
		qw(DELETE INSERT UPDATE)),
	'its triggers keep their names, its operation column is read from 0.1.0');
flush('after the update');
is(mismatches(), '', 'every view equals its oracle after the update');

# Mid-stream, a worker killed: nothing lost or doubled across it.
load(8001, 9000);
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'stream_ext worker' LIMIT 1");
ok($pid =~ /^\d+$/, 'a worker to kill');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
wait_for_crash_restart($node, $log_offset);
load(9001, 10000);
flush('after a worker was killed');
is(mismatches(), '', 'every view equals its oracle after a worker was killed');

is($node->safe_psql('postgres', "SELECT state || ': ' || last_error FROM stream_ext.continuous_views WHERE name = 'v_error'::regclass"),
	'error: fragile total 1000285285 is too large', 'the view in error stays in error with its message');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'stream_ext' AND c.relname LIKE 'v\_%state' AND c.relname NOT LIKE 'v\_sliding%'}),
	'0', 'the state tables of 0.1.0 are gone (but the sliding window\'s steps)');
is($node->safe_psql('postgres', "SELECT has_table_privilege('upg_reader', 'v_tumble', 'SELECT')"),
	't', 'a grant on a result table stays');
is($node->safe_psql('postgres', 'SELECT sum(n) FROM v_tumble_report'),
	'10001', 'a user view over a result table stays and reads it');
is($node->safe_psql('postgres', q{
SELECT string_agg(d.objid::regclass::text, ', ') FROM pg_depend d
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stream_ext') AND d.deptype = 'e'
   AND d.classid = 'pg_class'::regclass
   AND d.objid NOT IN (SELECT oid FROM pg_class WHERE relnamespace = 'stream_ext'::regnamespace)}),
	'', 'no object of a view became a member of the extension');
is($node->safe_psql('postgres', 'SELECT count(*) - count(DISTINCT (k, minute)) FROM closed_windows'),
	'0', 'each closed window was appended once');

# What the update made equals a fresh installation.
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION stream_ext');
is($node->safe_psql('postgres', $objects), $node->safe_psql('fresh', $objects),
	'functions, privileges, catalog and views equal those of CREATE EXTENSION 0.2.0');

# The library of 0.2.0 loads the install script of 0.1.0 (as pg_upgrade
# and a restore of a 0.1.0 database by CREATE EXTENSION ... VERSION need:
# the C functions 0.1.0 declared and 0.2.0 no longer uses are there, and
# refuse to run), and updates it: the same objects, and a view that
# counts exactly.
$node->safe_psql('postgres', 'CREATE DATABASE older');
$node->safe_psql('older', "CREATE EXTENSION stream_ext VERSION '0.1.0'");
my (undef, undef, $stub_err) = $node->psql('older', q{
CREATE TABLE x (k int, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('x', event_time => 'ts')});
like($stub_err, qr/stream_ext in this database is version 0\.1\.0, but its library is version 0\.2\.0/,
	'a C function that only 0.1.0 declared refuses with the versions\' error');
$node->safe_psql('older', 'ALTER EXTENSION stream_ext UPDATE');
is($node->safe_psql('older', $objects), $node->safe_psql('fresh', $objects),
	'CREATE EXTENSION ... VERSION \'0.1.0\' and the update give the objects of 0.2.0');
$node->safe_psql('older', q{
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('ev', event_time => 'ts');
SELECT stream_ext.create_continuous_view('per_k', $$SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k$$);
INSERT INTO ev SELECT i % 7, i, '2026-01-01' FROM generate_series(1, 1000) i;
SELECT stream_ext.flush(strict => true);});
is($node->safe_psql('older', q{
SELECT count(*) FROM ((SELECT k, n, total FROM per_k) EXCEPT ALL
                      (SELECT i % 7, count(*), sum(i) FROM generate_series(1, 1000) i GROUP BY 1)) d}),
	'0', 'a view of the updated database equals its oracle');
$node->safe_psql('postgres', 'DROP DATABASE older');

$node->stop;
done_testing();
