# NOTIFY output of continuous views (notify => channel): after each batch,
# one notification per changed result row, its JSON, sent when the
# worker's transaction commits.  A listener session collects them; the
# last payload of every key must equal that key's row in the result
# table, which must equal the view's query over all events (the oracle);
# rolled-back events never show; a channel name carrying SQL is only a
# name; a row too large for a payload is sent as its key, a key too large
# is counted as skipped.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::Bin;
use StreamExtTest;

my $node = stream_ext_node('notify', qq{
});

my $hostile = q{x'"); DROP TABLE readings; --};
(my $hostile_ident = $hostile) =~ s/"/""/g;
(my $hostile_literal = $hostile) =~ s/'/''/g;

$node->safe_psql('postgres', qq{
CREATE EXTENSION stream_ext;
CREATE TABLE readings (sensor int NOT NULL, label text NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('readings', event_time => 'ts');
SELECT stream_ext.create_continuous_view('per_sensor', \$\$
    SELECT sensor, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS total
      FROM readings GROUP BY sensor, hour\$\$, notify => 'sensor changes');
SELECT stream_ext.create_continuous_view('per_label', \$\$
    SELECT label, count(*) AS n, max(repeat('x', v)) AS longest
      FROM readings GROUP BY label\$\$, notify => '$hostile_literal');
CREATE VIEW per_sensor_oracle AS
    SELECT sensor, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS total
      FROM readings GROUP BY sensor, hour;
});

# A listening session; notifications are printed by psql after a command.
my ($in, $out, $err) = ('', '', '');
my $listener = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
my $marker = 0;

# Runs a command in the listening session and returns the notifications
# printed since the last call: [channel, payload] pairs.
sub collect
{
	$marker++;
	# A second round trip: what arrived during the first is printed by then.
	$in .= "SELECT 'sync$marker';\nSELECT 'done$marker';\n";
	$listener->pump until $out =~ /^done$marker$/m;
	my @got;
	while ($out =~ /^Asynchronous notification "(.*?)" with payload "(.*)" received from server process with PID \d+\.$/mg)
	{
		push @got, [ $1, $2 ];
	}
	$out = '';
	return @got;
}

$in .= qq{LISTEN "sensor changes";\nLISTEN "$hostile_ident";\n};
collect();

# Batch 1: 3 sensors x 2 hours, one rolled-back transaction.
$node->safe_psql('postgres', q{
INSERT INTO readings SELECT i % 3, 'l' || (i % 2), i, '2026-01-01'::timestamptz + (i * 7) * interval '1 min'
  FROM generate_series(1, 30) i;
BEGIN;
INSERT INTO readings VALUES (99, 'rolled back', 1000, '2026-01-01');
ROLLBACK;
SELECT stream_ext.flush();
});
my @got = collect();
my @sensor = map { decode_json($_->[1]) } grep { $_->[0] eq 'sensor changes' } @got;
my @label = map { decode_json($_->[1]) } grep { $_->[0] eq $hostile } @got;

sub rows_json
{
	my ($query) = @_;
	return [ map { decode_json($_) } split /\n/,
		$node->safe_psql('postgres', "SELECT row_to_json(r) FROM ($query) r") ];
}

sub last_per_key
{
	my ($key, @payloads) = @_;
	my %last;
	$last{ join('|', map { $_->{$_} // '' } @$key) } = $_ for @payloads;
	return [ map { $last{$_} } sort keys %last ];
}

is(scalar @sensor, $node->safe_psql('postgres', 'SELECT count(*) FROM per_sensor'),
	'batch 1: one notification per changed row');
is_deeply(
	[ sort { $a->{sensor} <=> $b->{sensor} || $a->{hour} cmp $b->{hour} } @sensor ],
	rows_json('SELECT * FROM per_sensor ORDER BY sensor, hour'),
	'batch 1: the payloads are the result rows, as JSON');
is(oracle_mismatches($node, 'postgres', 'SELECT * FROM per_sensor', 'SELECT * FROM per_sensor_oracle'),
	'0', 'batch 1: the result table equals the oracle');
ok(!grep({ $_->{sensor} == 99 } @sensor), 'rolled-back events are in no notification');
is(scalar @label, 2, 'a channel name carrying SQL is just a name');
is($node->safe_psql('postgres', q{SELECT to_regclass('readings') IS NOT NULL}), 't',
	'and nothing of it ran');

# Batch 2: one sensor only; only its changed rows are sent.
$node->safe_psql('postgres', q{
INSERT INTO readings VALUES (1, 'l1', 5, '2026-01-01 00:10'), (1, 'l1', 6, '2026-01-01 00:20');
SELECT stream_ext.flush();
});
@got = collect();
@sensor = map { decode_json($_->[1]) } grep { $_->[0] eq 'sensor changes' } @got;
is_deeply(\@sensor,
	rows_json(q{SELECT * FROM per_sensor WHERE sensor = 1 AND hour = '2026-01-01 00:00+00'}),
	'batch 2: only the changed row, with its new values');

# A row too large for a payload: its key, marked truncated.  A key too
# large even alone: skipped, and counted.
$node->safe_psql('postgres', q{
INSERT INTO readings SELECT 7, 'long', i, '2026-01-01' FROM generate_series(100000, 102000) i;
INSERT INTO readings VALUES (8, repeat('k', 9000), 1, '2026-01-01');
SELECT stream_ext.flush();
});
@got = collect();
@label = map { decode_json($_->[1]) } grep { $_->[0] eq $hostile } @got;
is_deeply(\@label, [ { label => 'long', truncated => JSON::PP::true } ],
	'a row over the payload limit is sent as its key, marked truncated');
is( $node->safe_psql('postgres', q{
SELECT notifications_sent || ' ' || notifications_skipped FROM stream_ext.stats WHERE view = 'per_label'::regclass}),
	'4 1', 'stats count notifications sent and skipped');

# emit => 'final': a notification per window when it closes (the
# watermark passes its end), with revision 1, and one more for each later
# batch that changes it (a late event), with the next revision; nothing
# for open windows.
$node->safe_psql('postgres', q{
SELECT stream_ext.create_continuous_view('hourly', $$
    SELECT sensor, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS total
      FROM readings GROUP BY sensor, hour$$, notify => 'closed hours', emit => 'final');
});
$in .= qq{LISTEN "closed hours";\n};
collect();
$node->safe_psql('postgres', q{
INSERT INTO readings VALUES (1, 'h', 1, '2026-02-01 00:10'), (2, 'h', 2, '2026-02-01 00:50'),
                            (1, 'h', 3, '2026-02-01 01:20');
SELECT stream_ext.flush();
});
my @closed = map { decode_json($_->[1]) } grep { $_->[0] eq 'closed hours' } collect();
is_deeply(
	[ sort { $a->{sensor} <=> $b->{sensor} || $a->{hour} cmp $b->{hour} } @closed ],
	[ map { { %$_, revision => 1 } } @{ rows_json(q{SELECT sensor, hour, n, total FROM hourly WHERE hour < '2026-02-01 01:00+00' ORDER BY sensor, hour}) } ],
	'emit final: the windows the watermark passed, each once, revision 1');
$node->safe_psql('postgres', q{
INSERT INTO readings VALUES (1, 'h', 10, '2026-02-01 00:30');
SELECT stream_ext.flush();
});
@closed = map { decode_json($_->[1]) } grep { $_->[0] eq 'closed hours' } collect();
is_deeply(\@closed,
	[ map { { %$_, revision => 2 } } @{ rows_json(q{SELECT sensor, hour, n, total FROM hourly WHERE sensor = 1 AND hour = '2026-02-01 00:00+00'}) } ],
	'a late event: the closed window again, revision 2, with its new values');
is($node->safe_psql('postgres', q{
SELECT windows_closed || ' ' || corrections || ' ' || late_events FROM stream_ext.stats WHERE view = 'hourly'::regclass}),
	'2 1 1', 'stats: windows closed, corrections, late events');

# At scale: many batches of events, mostly in order, some late, written
# while the listener listens; then an event that closes every window.
# Every window gets exactly one revision-1 notification, its revisions
# are 1, 2, ... without gaps or repeats, and the last one equals its row.
$node->safe_psql('postgres', q{
SELECT stream_ext.create_continuous_view('minutely', $$
    SELECT sensor, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(v) AS total
      FROM readings GROUP BY sensor, minute$$, notify => 'closed minutes', emit => 'final');
});
$in .= qq{LISTEN "closed minutes";
};
collect();
my @minutes;
for my $b (1 .. 40)
{
	my $back = $b % 6 == 0 ? 240 : 0;
	my $end = $b % 9 == 0 ? 'ROLLBACK' : 'COMMIT';
	$node->safe_psql('postgres', qq{
BEGIN;
INSERT INTO readings SELECT i % 4, 'm', i, '2026-03-01'::timestamptz + ($b * 30 - $back + i) * interval '1 s'
  FROM generate_series(1, 25) i;
$end;});
	push @minutes, grep { $_->[0] eq 'closed minutes' } collect() if $b % 10 == 0;
}
$node->safe_psql('postgres', q{
INSERT INTO readings VALUES (0, 'm', 0, '2026-03-01 06:00');
SELECT stream_ext.flush();
});
push @minutes, grep { $_->[0] eq 'closed minutes' } collect();
my (%first, %revisions, %last);
for my $m (map { decode_json($_->[1]) } @minutes)
{
	my $key = "$m->{sensor} $m->{minute}";
	$first{$key}++ if $m->{revision} == 1;
	push @{ $revisions{$key} }, $m->{revision};
	$last{$key} = $m;
}
my $closed = rows_json(q{SELECT sensor, minute, n, total FROM minutely WHERE minute < '2026-03-01 06:00+00' ORDER BY sensor, minute});
is(scalar(grep { ($first{"$_->{sensor} $_->{minute}"} // 0) == 1 } @$closed), scalar(@$closed),
	'at scale: every closed window notified once with revision 1');
is(scalar(keys %first), scalar(@$closed), 'and no window that is not closed');
ok(!grep({ my $r = $revisions{$_}; join(',', @$r) ne join(',', 1 .. scalar(@$r)) } keys %revisions),
	'revisions of each window are 1, 2, ... in order, none repeated');
ok(scalar(grep { @{ $revisions{$_} } > 1 } keys %revisions) > 0, 'late events sent corrections');
is_deeply([ map { { %{ $last{"$_->{sensor} $_->{minute}"} } } } @$closed ],
	[ map { { %$_, revision => scalar(@{ $revisions{"$_->{sensor} $_->{minute}"} }) } } @$closed ],
	'the last revision of each window equals its row');

# Refused channel names.
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM readings', notify => '')});
like($stderr, qr/invalid notification channel/, 'an empty channel name is refused');
($ret, $stdout, $stderr) = $node->psql('postgres', qq{
SELECT stream_ext.create_continuous_view('bad', 'SELECT count(*) FROM readings', notify => repeat('c', 64))});
like($stderr, qr/invalid notification channel/, 'a channel name over 63 bytes is refused');
is($node->safe_psql('postgres', q{SELECT to_regclass('bad') IS NULL}), 't', 'and no table is left');

$in .= "\\q\n";
$listener->finish;
$node->stop;
done_testing();
