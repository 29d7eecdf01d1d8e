--
-- Bad events, with a policy: a view with on_error => 'skip' leaves out of
-- its batches the events its query fails on, keeps them in
-- stream_ext.dead_letters with the error, and goes on with the rest of the
-- batch; a view with on_error => 'stop' (the default) goes to error, and
-- flush() reports it by a warning without failing for the other views
-- (an error with strict => true).  Oracles over a shadow copy of the
-- events.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE ROLE regress_dl_owner;
CREATE SCHEMA dl AUTHORIZATION regress_dl_owner;
SET ROLE regress_dl_owner;

CREATE TABLE dl.events (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('dl.events', event_time => 'ts');
CREATE TABLE dl.shadow (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);

-- 100 / v fails for v = 0.
SELECT stream_ext.create_continuous_view('dl.ratio', $$
    SELECT k, count(*) AS n, sum(100 / v) AS total FROM dl.events GROUP BY k$$,
    on_error => 'skip') IS NOT NULL AS created;
SELECT stream_ext.create_continuous_view('dl.per_minute', $$
    SELECT stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS n, max(100 / v) AS top
      FROM dl.events WHERE k <> 3 GROUP BY minute$$,
    on_error => 'skip') IS NOT NULL AS created;
SELECT stream_ext.create_continuous_view('dl.fragile', $$
    SELECT k, sum(100 / v) AS total FROM dl.events GROUP BY k$$) IS NOT NULL AS created;
SELECT stream_ext.create_continuous_view('dl.healthy', $$
    SELECT k, count(*) AS n, sum(v) AS total FROM dl.events GROUP BY k$$) IS NOT NULL AS created;
SELECT name, on_error FROM stream_ext.continuous_views WHERE name::text LIKE 'dl.%' ORDER BY name::text;

CREATE FUNCTION dl.write(first int, n int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dl.events SELECT g % 5, CASE WHEN g % 97 = 0 THEN 0 ELSE g % 13 + 1 END,
                                 '2026-06-01 12:00+00'::timestamptz + g * interval '3 seconds'
      FROM generate_series(first, first + n - 1) g;
    INSERT INTO dl.shadow SELECT g % 5, CASE WHEN g % 97 = 0 THEN 0 ELSE g % 13 + 1 END,
                                 '2026-06-01 12:00+00'::timestamptz + g * interval '3 seconds'
      FROM generate_series(first, first + n - 1) g$$;

SELECT dl.write(1, 1000);
BEGIN;
INSERT INTO dl.events VALUES (1, 0, '2026-06-01 12:00+00');
ROLLBACK;
-- The view in error is reported, the others caught up.
SELECT stream_ext.flush();
SELECT stream_ext.flush(strict => true);

CREATE FUNCTION dl.differences() RETURNS TABLE (view text, differences bigint) LANGUAGE sql AS $$
    SELECT 'ratio', (SELECT count(*) FROM (
        (SELECT * FROM dl.ratio EXCEPT ALL
         SELECT k, count(*), sum(100 / v) FROM dl.shadow WHERE v <> 0 GROUP BY 1)
        UNION ALL
        (SELECT k, count(*), sum(100 / v) FROM dl.shadow WHERE v <> 0 GROUP BY 1
         EXCEPT ALL SELECT * FROM dl.ratio)) x)
    UNION ALL
    SELECT 'per_minute', (SELECT count(*) FROM (
        (SELECT * FROM dl.per_minute EXCEPT ALL
         SELECT stream_ext.tumble(ts, '1 minute'), count(*), max(100 / v) FROM dl.shadow
          WHERE k <> 3 AND v <> 0 GROUP BY 1)
        UNION ALL
        (SELECT stream_ext.tumble(ts, '1 minute'), count(*), max(100 / v) FROM dl.shadow
          WHERE k <> 3 AND v <> 0 GROUP BY 1
         EXCEPT ALL SELECT * FROM dl.per_minute)) x)
    UNION ALL
    SELECT 'healthy', (SELECT count(*) FROM (
        (SELECT * FROM dl.healthy EXCEPT ALL SELECT k, count(*), sum(v) FROM dl.shadow GROUP BY 1)
        UNION ALL
        (SELECT k, count(*), sum(v) FROM dl.shadow GROUP BY 1 EXCEPT ALL SELECT * FROM dl.healthy)) x)$$;
-- The dead letters of each view are exactly the events its query fails on.
CREATE FUNCTION dl.dead_letter_differences() RETURNS TABLE (view text, letters bigint, differences bigint)
LANGUAGE sql AS $$
    SELECT vw, (SELECT count(*) FROM stream_ext.dead_letters d WHERE d.view = vw::regclass),
           (SELECT count(*) FROM (
               (SELECT (d.event->>'k')::int, (d.event->>'v')::int, (d.event->>'ts')::timestamptz
                  FROM stream_ext.dead_letters d WHERE d.view = vw::regclass
                EXCEPT ALL
                SELECT s.k, s.v, s.ts FROM dl.shadow s
                 WHERE s.v = 0 AND (vw <> 'dl.per_minute' OR s.k <> 3))
               UNION ALL
               (SELECT s.k, s.v, s.ts FROM dl.shadow s
                 WHERE s.v = 0 AND (vw <> 'dl.per_minute' OR s.k <> 3)
                EXCEPT ALL
                SELECT (d.event->>'k')::int, (d.event->>'v')::int, (d.event->>'ts')::timestamptz
                  FROM stream_ext.dead_letters d WHERE d.view = vw::regclass)) x)
      FROM unnest(ARRAY['dl.ratio', 'dl.per_minute']) vw$$;
SELECT * FROM dl.differences();
SELECT * FROM dl.dead_letter_differences();
SELECT view, error, error_code, count(*) FROM stream_ext.dead_letters GROUP BY 1, 2, 3 ORDER BY 1;
SELECT view, state, events_skipped, events_processed FROM stream_ext.stats
 WHERE view::text LIKE 'dl.%' ORDER BY view::text;

-- Later batches, with more bad events: each is left out once.
SELECT dl.write(1001, 1500);
SELECT stream_ext.flush();
SELECT * FROM dl.differences();
SELECT * FROM dl.dead_letter_differences();

-- A view in error recovers by skipping: on_error set to 'skip', resumed,
-- it applies every event it waited on but the ones it fails on.
SELECT stream_ext.set_on_error('dl.fragile', 'skip');
SELECT stream_ext.resume_continuous_view('dl.fragile');
SELECT stream_ext.flush();
SELECT (SELECT count(*) FROM (
        (SELECT * FROM dl.fragile EXCEPT ALL SELECT k, sum(100 / v) FROM dl.shadow WHERE v <> 0 GROUP BY 1)
        UNION ALL
        (SELECT k, sum(100 / v) FROM dl.shadow WHERE v <> 0 GROUP BY 1 EXCEPT ALL SELECT * FROM dl.fragile)) x)
       AS fragile_differences,
       (SELECT count(*) FROM stream_ext.dead_letters WHERE view = 'dl.fragile'::regclass) AS fragile_letters,
       (SELECT count(*) FROM dl.shadow WHERE v = 0) AS bad_events;
SELECT stream_ext.set_on_error('dl.fragile', 'sometimes');

-- An error no single event causes (a sum too large for its type once
-- added up) leaves no dead letter: the view goes to error as with stop.
SELECT stream_ext.create_continuous_view('dl.narrow', $$
    SELECT k, (sum(v) * 100)::int2 AS total FROM dl.events GROUP BY k$$,
    on_error => 'skip', backfill => true) IS NOT NULL AS created;
SELECT stream_ext.flush();
SELECT state, last_error FROM stream_ext.continuous_views WHERE name = 'dl.narrow'::regclass;
SELECT count(*) AS narrow_letters FROM stream_ext.dead_letters WHERE view = 'dl.narrow'::regclass;

-- Bad input.
SELECT stream_ext.create_continuous_view('dl.bad', 'SELECT k, count(*) FROM dl.events GROUP BY k',
                                         on_error => 'ignore');

-- A dropped view's dead letters go with it.
SELECT stream_ext.drop_continuous_view('dl.per_minute');
RESET ROLE;
SELECT view, count(*) AS letters_left FROM stream_ext.dead_letter GROUP BY 1 ORDER BY view::text;
SELECT stream_ext.drop_stream('dl.events', "cascade" => true);
SELECT count(*) AS letters_left FROM stream_ext.dead_letter;
DROP SCHEMA dl CASCADE;
DROP ROLE regress_dl_owner;
