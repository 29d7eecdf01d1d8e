--
-- Native DDL: a stream declared by CREATE TABLE ... WITH (stream_ext.*),
-- a continuous view by CREATE MATERIALIZED VIEW ... WITH
-- (stream_ext.continuous, ...), changed and dropped with ALTER, COMMENT
-- ON and DROP MATERIALIZED VIEW; each against the oracle (the same query
-- over a shadow copy of the events), and the function forms beside them.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE ROLE regress_ddl_owner;
CREATE ROLE regress_ddl_other;
CREATE SCHEMA n AUTHORIZATION regress_ddl_owner;
GRANT USAGE ON SCHEMA n TO regress_ddl_other;
SET ROLE regress_ddl_owner;

-- A stream in one statement.
CREATE TABLE n.clicks (page text NOT NULL, ms int NOT NULL, ts timestamptz NOT NULL)
    WITH (stream_ext.event_time = ts);
SELECT stream, event_time, arrival_column FROM stream_ext.streams WHERE stream = 'n.clicks'::regclass;
CREATE TABLE n.pings (host text) WITH (stream_ext.stream, stream_ext.arrival_column = seen_at);
SELECT stream, event_time, arrival_column FROM stream_ext.streams WHERE stream = 'n.pings'::regclass;
CREATE TABLE n.shadow (page text NOT NULL, ms int NOT NULL, ts timestamptz NOT NULL);
GRANT SELECT ON n.clicks, n.shadow TO regress_ddl_other;

-- A continuous view in one statement, with options.
CREATE MATERIALIZED VIEW n.per_page WITH (stream_ext.continuous, stream_ext.batch_size = 500) AS
    SELECT page, count(*) AS hits, sum(ms) AS total_ms FROM n.clicks GROUP BY page;
CREATE MATERIALIZED VIEW n.per_minute
    WITH (stream_ext.continuous, stream_ext.on_error = 'skip', stream_ext.max_future = '1 day') AS
    SELECT stream_ext.tumble(ts, '1 minute') AS minute, count(*) AS hits, max(ms) AS slowest
      FROM n.clicks GROUP BY minute;
CREATE MATERIALIZED VIEW IF NOT EXISTS n.per_page WITH (stream_ext.continuous) AS
    SELECT page, count(*) FROM n.clicks GROUP BY page;
SELECT name, batch_size, on_error, max_future, state FROM stream_ext.continuous_views
 WHERE name::text LIKE 'n.%' ORDER BY name::text;
-- An ordinary materialized view stays one.
CREATE MATERIALIZED VIEW n.plain AS SELECT 1 AS one;
SELECT relkind FROM pg_class WHERE oid = 'n.plain'::regclass;

CREATE FUNCTION n.write(first int, k int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO n.clicks SELECT 'p' || (g % 7), g % 100, '2026-06-01 12:00+00'::timestamptz + g * interval '1 second'
      FROM generate_series(first, first + k - 1) g;
    INSERT INTO n.shadow SELECT 'p' || (g % 7), g % 100, '2026-06-01 12:00+00'::timestamptz + g * interval '1 second'
      FROM generate_series(first, first + k - 1) g$$;
CREATE FUNCTION n.differences() RETURNS TABLE (view text, differences bigint) LANGUAGE sql AS $$
    SELECT 'per_page', (SELECT count(*) FROM (
        (SELECT * FROM n.per_page EXCEPT ALL SELECT page, count(*), sum(ms) FROM n.shadow GROUP BY 1)
        UNION ALL
        (SELECT page, count(*), sum(ms) FROM n.shadow GROUP BY 1 EXCEPT ALL SELECT * FROM n.per_page)) x)
    UNION ALL
    SELECT 'per_minute', (SELECT count(*) FROM (
        (SELECT * FROM n.per_minute EXCEPT ALL
         SELECT stream_ext.tumble(ts, '1 minute'), count(*), max(ms) FROM n.shadow GROUP BY 1)
        UNION ALL
        (SELECT stream_ext.tumble(ts, '1 minute'), count(*), max(ms) FROM n.shadow GROUP BY 1
         EXCEPT ALL SELECT * FROM n.per_minute)) x)$$;

SELECT n.write(1, 2000);
SELECT stream_ext.flush();
SELECT * FROM n.differences();

-- Paused and resumed by ALTER MATERIALIZED VIEW.
ALTER MATERIALIZED VIEW n.per_page SET (stream_ext.paused = true);
SELECT state FROM stream_ext.continuous_views WHERE name = 'n.per_page'::regclass;
SELECT n.write(2001, 500);
SELECT stream_ext.flush();
SELECT sum(hits) AS while_paused FROM n.per_page;
ALTER MATERIALIZED VIEW n.per_page SET (stream_ext.paused = false, stream_ext.on_error = 'skip');
SELECT state, on_error FROM stream_ext.continuous_views WHERE name = 'n.per_page'::regclass;
SELECT stream_ext.flush();
SELECT * FROM n.differences();

-- Renamed, its column renamed, moved, commented, given to another owner.
ALTER MATERIALIZED VIEW n.per_page RENAME TO pages;
ALTER MATERIALIZED VIEW n.pages RENAME COLUMN total_ms TO ms_total;
COMMENT ON MATERIALIZED VIEW n.pages IS 'hits per page';
SELECT obj_description('n.pages'::regclass, 'pg_class');
RESET ROLE;
CREATE SCHEMA n2 AUTHORIZATION regress_ddl_owner;
GRANT USAGE, CREATE ON SCHEMA n2 TO regress_ddl_other;
ALTER MATERIALIZED VIEW n.pages SET SCHEMA n2;
ALTER MATERIALIZED VIEW n2.pages OWNER TO regress_ddl_other;
SELECT name, owner FROM stream_ext.continuous_views WHERE name = 'n2.pages'::regclass;
SET ROLE regress_ddl_owner;
SELECT n.write(2501, 300);
SELECT stream_ext.flush();
-- Its batches run as its new owner; the renamed column is an output of its query.
SET ROLE regress_ddl_other;
SELECT (SELECT count(*) FROM (
        (SELECT page, hits, ms_total FROM n2.pages EXCEPT ALL SELECT page, count(*), sum(ms) FROM n.shadow GROUP BY 1)
        UNION ALL
        (SELECT page, count(*), sum(ms) FROM n.shadow GROUP BY 1 EXCEPT ALL SELECT page, hits, ms_total FROM n2.pages)) x)
       AS differences_after_owner_change;
SELECT state, query FROM stream_ext.continuous_views WHERE name = 'n2.pages'::regclass;
RESET ROLE;
SELECT definition FROM stream_ext.continuous_view WHERE result = 'n2.pages'::regclass;
SET ROLE regress_ddl_owner;

-- Bad options name the option.
CREATE MATERIALIZED VIEW n.bad WITH (stream_ext.continuous, stream_ext.batchsize = 10) AS
    SELECT page, count(*) FROM n.clicks GROUP BY page;
CREATE MATERIALIZED VIEW n.bad WITH (stream_ext.continuous, fillfactor = 50) AS
    SELECT page, count(*) FROM n.clicks GROUP BY page;
CREATE MATERIALIZED VIEW n.bad WITH (stream_ext.batch_size = 10) AS
    SELECT page, count(*) FROM n.clicks GROUP BY page;
CREATE MATERIALIZED VIEW n.bad WITH (stream_ext.continuous) AS
    SELECT page, count(*) FROM n.clicks GROUP BY page WITH NO DATA;
CREATE MATERIALIZED VIEW n.bad WITH (stream_ext.continuous, stream_ext.late = 'never') AS
    SELECT stream_ext.tumble(ts, '1 minute') AS m, count(*) FROM n.clicks GROUP BY m;
CREATE MATERIALIZED VIEW n.bad WITH (stream_ext.continuous) AS SELECT 1 AS one;
ALTER MATERIALIZED VIEW n.per_minute SET (stream_ext.batch_size = 5);
REFRESH MATERIALIZED VIEW n.per_minute;
CREATE TABLE n.bad (x int, ts timestamptz) WITH (stream_ext.event_time = ts, stream_ext.segments = 4);
CREATE TABLE n.bad (x int) WITH (stream_ext.event_time = nosuch);
SELECT count(*) AS half_made FROM pg_class WHERE relname = 'bad' AND relnamespace = 'n'::regnamespace;

-- Dropped with DROP MATERIALIZED VIEW, beside an ordinary one.
DROP MATERIALIZED VIEW n.per_minute, n.plain;
DROP MATERIALIZED VIEW IF EXISTS n.per_minute;
SELECT count(*) AS views_left FROM stream_ext.continuous_views WHERE name::text LIKE 'n.%';
SELECT to_regclass('n.per_minute') AS result_table, to_regclass('n.plain') AS plain;

RESET ROLE;
DROP MATERIALIZED VIEW n2.pages;
SELECT stream_ext.drop_stream('n.clicks');
SELECT stream_ext.drop_stream('n.pings');
DROP SCHEMA n CASCADE;
DROP SCHEMA n2 CASCADE;
DROP ROLE regress_ddl_owner;
DROP ROLE regress_ddl_other;
