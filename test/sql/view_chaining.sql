-- Output streams: a view writes, per group each batch changed, the keys
-- and each aggregate's state over that batch's events into another
-- stream; a view over that stream merges them with stream_ext.combine(),
-- so minutes roll up into hours (and days) exactly once end to end, for
-- every combinable aggregate; flush() follows the chain.  Each result is
-- compared with the batch query over all events (the oracle).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
CREATE EXTENSION IF NOT EXISTS hll;
RESET client_min_messages;

CREATE TABLE readings (sensor int NOT NULL, temp float8 NOT NULL, amount bigint NOT NULL,
                       ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('readings', event_time => 'ts');
SELECT stream_ext.create_continuous_view('per_minute', $$
    SELECT sensor, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(temp) AS total,
           avg(temp) AS mean, min(temp) AS lo, max(temp) AS hi, sum(amount) AS amount,
           stddev(amount) AS spread
      FROM readings GROUP BY sensor, minute$$, output_stream => 'minute_deltas');
-- Made for it: the keys, one column per aggregate of its state type, the
-- window as event time; the catalog says which aggregate each holds.
\d minute_deltas
SELECT stream, event_time FROM stream_ext.streams WHERE stream = 'minute_deltas'::regclass;
SELECT attnum, aggregate, argument_types, star, result_type
  FROM stream_ext.state_column WHERE stream = 'minute_deltas'::regclass ORDER BY attnum;
SELECT stream_ext.create_continuous_view('per_hour', $$
    SELECT sensor, stream_ext.tumble(minute, '1 hour') AS hour, stream_ext.combine(n) AS n,
           stream_ext.combine(total) AS total, stream_ext.combine(mean) AS mean,
           stream_ext.combine(lo) AS lo, stream_ext.combine(hi) AS hi,
           stream_ext.combine(amount) AS amount, stream_ext.combine(spread) AS spread
      FROM minute_deltas GROUP BY sensor, hour$$, output_stream => 'hour_deltas');
-- A third link, without a window: per sensor over all time.
SELECT stream_ext.create_continuous_view('per_sensor', $$
    SELECT sensor, stream_ext.combine(n) AS n, stream_ext.combine(mean) AS mean,
           stream_ext.combine(amount) AS amount
      FROM hour_deltas GROUP BY sensor$$);
SELECT name, stream, output_stream FROM stream_ext.continuous_views ORDER BY name::text;

CREATE VIEW hour_oracle AS
    SELECT sensor, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(temp) AS total,
           avg(temp) AS mean, min(temp) AS lo, max(temp) AS hi, sum(amount) AS amount,
           round(stddev(amount), 10) AS spread
      FROM readings GROUP BY 1, 2;
CREATE VIEW sensor_oracle AS
    SELECT sensor, count(*) AS n, avg(temp) AS mean, sum(amount) AS amount FROM readings GROUP BY 1;
CREATE FUNCTION chain_diff() RETURNS TABLE (missing bigint, extra bigint, sensors_off bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM (SELECT * FROM hour_oracle EXCEPT ALL
                                  SELECT sensor, hour, n, total, mean, lo, hi, amount,
                                         round(spread, 10) FROM per_hour) x),
           (SELECT count(*) FROM (SELECT sensor, hour, n, total, mean, lo, hi, amount,
                                         round(spread, 10) FROM per_hour EXCEPT ALL
                                  SELECT * FROM hour_oracle) x),
           (SELECT count(*) FROM (SELECT * FROM sensor_oracle EXCEPT ALL SELECT sensor, n, mean, amount FROM per_sensor) x) $$;

-- Several batches, updates of the same minutes, out-of-order events, a
-- rollback and a rolled-back savepoint: one flush() covers the chain.
INSERT INTO readings SELECT i % 3, i, i * 1000, '2026-01-01'::timestamptz + i * interval '17 s'
  FROM generate_series(1, 1000) i;
SELECT stream_ext.flush();
SELECT * FROM chain_diff();
INSERT INTO readings SELECT i % 3, i / 4.0, i, '2026-01-01'::timestamptz + i * interval '13 s'
  FROM generate_series(1, 500) i;
BEGIN;
INSERT INTO readings VALUES (1, 1e6, 1, '2026-01-01');
ROLLBACK;
BEGIN;
INSERT INTO readings VALUES (2, -5, 7, '2026-01-01 02:30');
SAVEPOINT s;
INSERT INTO readings VALUES (2, 1e9, 1, '2026-01-01 02:30');
ROLLBACK TO s;
COMMIT;
SELECT stream_ext.flush();
SELECT * FROM chain_diff();
-- The deltas: one row per group a batch touched; together they hold each
-- event once.
SELECT count(*) > 0 AS rows, sum(stream_ext_count) AS events_in_deltas,
       (SELECT count(*) FROM readings) AS events
  FROM (SELECT n AS stream_ext_count FROM minute_deltas) d;
SELECT view, events_processed > 0 AS processed FROM stream_ext.stats ORDER BY view::text;

-- emit => 'final': closed windows only, their whole state when they close
-- and the delta of each later change; the downstream view stays exact.
CREATE TABLE clicks (page text NOT NULL, visitor int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('clicks', event_time => 'ts');
SELECT stream_ext.create_continuous_view('clicks_per_minute', $$
    SELECT page, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n,
           hll_add_agg(hll_hash_integer(visitor)) AS visitors
      FROM clicks GROUP BY page, minute$$, output_stream => 'closed_minutes', emit => 'final');
SELECT stream_ext.create_continuous_view('clicks_per_hour', $$
    SELECT page, stream_ext.tumble(minute, '1 hour') AS hour, stream_ext.combine(n) AS n,
           stream_ext.combine(visitors) AS visitors
      FROM closed_minutes GROUP BY page, hour$$);
CREATE FUNCTION clicks_diff() RETURNS TABLE (missing bigint, extra bigint) LANGUAGE sql AS $$
    WITH o AS (SELECT page, stream_ext.tumble(ts, '1 hour') AS hour, count(*) AS n,
                      hll_cardinality(hll_add_agg(hll_hash_integer(visitor))) AS visitors
                 FROM clicks WHERE stream_ext.tumble(ts, '1 minute') + '1 minute' <=
                       (SELECT watermark FROM stream_ext.stats WHERE view = 'clicks_per_minute'::regclass)
                GROUP BY 1, 2),
         r AS (SELECT page, hour, n, hll_cardinality(visitors) AS visitors FROM clicks_per_hour)
    SELECT (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM r) x),
           (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM o) x) $$;
INSERT INTO clicks SELECT 'p' || i % 4, i % 37, '2026-01-01'::timestamptz + i * interval '7 s'
  FROM generate_series(1, 600) i;
SELECT stream_ext.flush();
-- Only closed minutes went downstream: the hour view holds exactly them.
SELECT * FROM clicks_diff();
SELECT count(*) AS open_minutes_not_sent
  FROM clicks_per_minute m
 WHERE NOT EXISTS (SELECT 1 FROM closed_minutes c WHERE c.page = m.page AND c.minute = m.minute);
-- Late events for closed minutes: corrections carry only the change.
INSERT INTO clicks SELECT 'p' || i % 4, 1000 + i, '2026-01-01'::timestamptz + i * interval '5 s'
  FROM generate_series(1, 40) i;
SELECT stream_ext.flush();
SELECT * FROM clicks_diff();
-- Time moves on: every minute closes, and the hour view equals the batch
-- query over all events.
INSERT INTO clicks VALUES ('p0', 1, '2026-01-02');
SELECT stream_ext.flush();
SELECT * FROM clicks_diff();

-- Refused, each with a hint and nothing left behind.
CREATE TABLE plain (sensor int, minute timestamptz, n bigint);
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT sensor, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM readings GROUP BY 1, 2$$,
    output_stream => 'plain');
-- A stream without the columns, or with another type.
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT sensor, stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n FROM readings GROUP BY 1, 2$$,
    output_stream => 'readings');
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT sensor, stream_ext.tumble(ts, '1 minute') AS minute, avg(temp) AS n FROM readings GROUP BY 1, 2$$,
    output_stream => 'minute_deltas');
-- An existing state column of another aggregate of the same type.
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT sensor, stream_ext.tumble(ts, '1 minute') AS minute, count(temp) AS n FROM readings GROUP BY 1, 2$$,
    output_stream => 'minute_deltas');
-- An output column that is not a key or one aggregate call.
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT sensor, sum(temp) / count(*) AS ratio FROM readings GROUP BY 1$$, output_stream => 'ratios');
-- combine() of a column without states, inside an expression, mixed with
-- other aggregates, outside a continuous view.
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT sensor, stream_ext.combine(temp) AS t FROM readings GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT sensor, stream_ext.combine(n) + 1 AS n FROM minute_deltas GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('bad', $$
    SELECT sensor, stream_ext.combine(n) AS n, count(*) AS rows FROM minute_deltas GROUP BY 1$$);
SELECT stream_ext.combine(n) FROM minute_deltas;
-- A cycle.
CREATE TABLE a (k int NOT NULL, n bigint);
SELECT stream_ext.create_stream('a');
SELECT stream_ext.create_continuous_view('va', 'SELECT k, count(*) AS n FROM a GROUP BY k', output_stream => 'b');
SELECT stream_ext.create_continuous_view('vb', 'SELECT k, stream_ext.combine(n) AS n FROM b GROUP BY k',
                                         output_stream => 'a');
SELECT to_regclass('bad') IS NULL AS no_bad, to_regclass('ratios') IS NULL AS no_ratios,
       to_regclass('vb') IS NULL AS no_vb;
-- emit => 'final' needs a window.
SELECT stream_ext.create_continuous_view('bad', 'SELECT k, count(*) AS n FROM a GROUP BY k',
                                         output_stream => 'c', emit => 'final');
-- The output stream cannot be dropped from under the view.
DROP TABLE minute_deltas;

DROP VIEW hour_oracle;
DROP VIEW sensor_oracle;
DROP FUNCTION chain_diff();
DROP FUNCTION clicks_diff();
DROP TABLE plain;
SELECT stream_ext.drop_stream('a', cascade => true);
SELECT stream_ext.drop_stream('b', cascade => true);
SELECT stream_ext.drop_stream('readings', cascade => true);
SELECT stream_ext.drop_stream('minute_deltas', cascade => true);
SELECT stream_ext.drop_stream('hour_deltas', cascade => true);
SELECT stream_ext.drop_stream('clicks', cascade => true);
SELECT stream_ext.drop_stream('closed_minutes', cascade => true);
SELECT count(*) AS views_left FROM stream_ext.continuous_view;
SELECT count(*) AS state_columns_left FROM stream_ext.state_column;
