--
-- A view's definition: the catalog keeps its query resolved (names
-- qualified), not SQL generated for it; the worker generates each view's
-- part of the batch statement from that definition and generates it again
-- when the definition changes.  RENAME and SET SCHEMA of the tables,
-- columns and schemas a query names are followed, as by a PostgreSQL view.
-- The oracle is the same query over a shadow copy of the events.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE ROLE regress_def_owner;
CREATE SCHEMA d AUTHORIZATION regress_def_owner;
SET ROLE regress_def_owner;

CREATE TABLE d.events (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('d.events', event_time => 'ts');
CREATE TABLE d.shadow (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE d.names (k int PRIMARY KEY, name text NOT NULL);
INSERT INTO d.names SELECT g, 'n' || (g % 3) FROM generate_series(0, 9) g;
CREATE FUNCTION d.twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';

SELECT stream_ext.create_continuous_view('d.by_name', $$
    SELECT n.name, count(*) AS events, sum(e.v) AS total
      FROM d.events e JOIN d.names n ON n.k = e.k
     WHERE e.v > 1 GROUP BY n.name$$) IS NOT NULL AS created;
SELECT stream_ext.create_continuous_view('d.per_minute', $$
    SELECT stream_ext.tumble(ts, '1 minute') AS minute, max(v) AS top, count(*)
      FROM d.events GROUP BY minute$$) IS NOT NULL AS created;
SELECT stream_ext.create_continuous_view('d.doubled', $$
    SELECT k, sum(d.twice(v)) AS doubled FROM d.events GROUP BY k$$) IS NOT NULL AS created;
CREATE TABLE d.big (k int, v int);
SELECT stream_ext.create_transform('d.big_events', $$
    SELECT k, v FROM d.events WHERE v >= 8$$, 'd.big') IS NOT NULL AS created;

-- Each object says what it is.
SELECT c.oid::regclass AS object, obj_description(c.oid, 'pg_class') AS comment
  FROM pg_class c WHERE c.oid IN ('d.events'::regclass, 'd.by_name'::regclass, 'd.big_events'::regclass)
 ORDER BY c.oid::regclass::text;
-- Errors in a view's query point into the query.
\set VERBOSITY default
SELECT stream_ext.create_continuous_view('d.bad', $$
    SELECT k, count(*) FROM d.events WHERE nosuch > 1 GROUP BY k$$);
-- A view over another view's result table is told about output streams.
SELECT stream_ext.create_continuous_view('d.bad', $$SELECT name, sum(events) FROM d.by_name GROUP BY name$$);

-- What the catalog keeps: the query resolved, every name qualified.
SELECT result, definition FROM stream_ext.continuous_view
 WHERE result::text LIKE 'd.%' ORDER BY result::text;

CREATE FUNCTION d.write(first int, n int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO d.events SELECT g % 10, g % 11, '2026-06-01 12:00+00'::timestamptz + g * interval '7 seconds'
      FROM generate_series(first, first + n - 1) g;
    INSERT INTO d.shadow SELECT g % 10, g % 11, '2026-06-01 12:00+00'::timestamptz + g * interval '7 seconds'
      FROM generate_series(first, first + n - 1) g$$;

SELECT d.write(0, 500);
SELECT stream_ext.flush();

-- Renamed: the lookup table, its column, a stream column, then the lookup
-- moved to another schema, which is renamed; the catalog follows each.
ALTER TABLE d.names RENAME TO labels;
ALTER TABLE d.labels RENAME COLUMN name TO label;
ALTER TABLE d.events RENAME COLUMN v TO amount;
ALTER TABLE d.shadow RENAME COLUMN v TO amount;
RESET ROLE;
CREATE SCHEMA d2 AUTHORIZATION regress_def_owner;
SET ROLE regress_def_owner;
ALTER TABLE d.labels SET SCHEMA d2;
RESET ROLE;
ALTER SCHEMA d2 RENAME TO d3;
SET ROLE regress_def_owner;
-- A rename rolled back leaves the definitions as they were.
BEGIN;
ALTER TABLE d3.labels RENAME TO gone;
ROLLBACK;

SELECT result, definition FROM stream_ext.continuous_view
 WHERE result::text LIKE 'd.%' ORDER BY result::text;
-- The user's own text stays as written.
SELECT query FROM stream_ext.continuous_views WHERE name = 'd.by_name'::regclass;

-- The batches after the renames read what the views read before.
SELECT d.write(500, 700);
SELECT stream_ext.flush();

CREATE FUNCTION d.differences() RETURNS TABLE (view text, differences bigint) LANGUAGE sql AS $$
    SELECT 'by_name', (SELECT count(*) FROM (
        (SELECT * FROM d.by_name EXCEPT ALL
         SELECT n.label, count(*), sum(e.amount) FROM d.shadow e JOIN d3.labels n ON n.k = e.k
          WHERE e.amount > 1 GROUP BY 1)
        UNION ALL
        (SELECT n.label, count(*), sum(e.amount) FROM d.shadow e JOIN d3.labels n ON n.k = e.k
          WHERE e.amount > 1 GROUP BY 1
         EXCEPT ALL SELECT * FROM d.by_name)) x)
    UNION ALL
    SELECT 'per_minute', (SELECT count(*) FROM (
        (SELECT * FROM d.per_minute EXCEPT ALL
         SELECT stream_ext.tumble(ts, '1 minute'), max(amount), count(*) FROM d.shadow GROUP BY 1)
        UNION ALL
        (SELECT stream_ext.tumble(ts, '1 minute'), max(amount), count(*) FROM d.shadow GROUP BY 1
         EXCEPT ALL SELECT * FROM d.per_minute)) x)
    UNION ALL
    SELECT 'doubled', (SELECT count(*) FROM (
        (SELECT * FROM d.doubled EXCEPT ALL
         SELECT k, sum(amount * 2) FROM d.shadow GROUP BY 1)
        UNION ALL
        (SELECT k, sum(amount * 2) FROM d.shadow GROUP BY 1
         EXCEPT ALL SELECT * FROM d.doubled)) x)
    UNION ALL
    SELECT 'big_events', (SELECT count(*) FROM (
        (SELECT * FROM d.big EXCEPT ALL SELECT k, amount FROM d.shadow WHERE amount >= 8)
        UNION ALL
        (SELECT k, amount FROM d.shadow WHERE amount >= 8 EXCEPT ALL SELECT * FROM d.big)) x)$$;
SELECT * FROM d.differences();
SELECT count(*) AS rows, sum(events) AS events FROM d.by_name;

-- The worker generates a view's batches from its definition: a changed
-- definition changes the batches that follow (here, by hand, as a
-- superuser: each later event counts three times in total).
RESET ROLE;
UPDATE stream_ext.continuous_view
   SET definition = replace(definition, 'sum(e.amount)', 'sum(e.amount * 3)')
 WHERE result = 'd.by_name'::regclass;
SET ROLE regress_def_owner;
SELECT sum(total) AS before FROM d.by_name \gset
SELECT d.write(1200, 100);
SELECT stream_ext.flush();
SELECT sum(total) - :before AS added,
       (SELECT 3 * sum(g % 11) FROM generate_series(1200, 1299) g
          JOIN d3.labels n ON n.k = g % 10 WHERE g % 11 > 1) AS tripled
  FROM d.by_name;

-- A view whose query no longer analyzes does not stop a rename: its
-- definition stays, its next batch fails and puts it in error, the others
-- go on.
RESET ROLE;
DROP FUNCTION d.twice(int);
ALTER TABLE d.big RENAME TO big_rows;
SET ROLE regress_def_owner;
SELECT d.write(1300, 50);
SELECT stream_ext.flush();
SELECT name, state, last_error FROM stream_ext.continuous_views
 WHERE name::text LIKE 'd.%' ORDER BY name::text;
SELECT name, state FROM stream_ext.transforms WHERE name::text LIKE 'd.%';
SELECT count(*) AS big_rows FROM d.big_rows;
SELECT count(*) AS shadow_big FROM d.shadow WHERE amount >= 8;

RESET ROLE;
SELECT stream_ext.drop_stream('d.events', "cascade" => true);
DROP SCHEMA d CASCADE;
DROP SCHEMA d3 CASCADE;
DROP ROLE regress_def_owner;
