--
-- Continuous views joined with lookup tables: INNER (or comma) joins and
-- LEFT joins that keep every event.  Lookup tables are read when each
-- batch is processed, with the view owner's rights (row-level security
-- included).  The oracle is the same query run over the stream (which
-- keeps its events here: segments never fill) joined with the same
-- tables, compared with EXCEPT ALL both ways.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE ROLE regress_join_owner;
CREATE SCHEMA j AUTHORIZATION regress_join_owner;
SET ROLE regress_join_owner;

CREATE TABLE j.clicks (user_id int NOT NULL, ms int NOT NULL, ts timestamptz NOT NULL DEFAULT '2026-05-01 10:00+00');
SELECT stream_ext.create_stream('j.clicks', event_time => 'ts');
CREATE TABLE j.users (user_id int PRIMARY KEY, country text NOT NULL, tier text);
INSERT INTO j.users
SELECT g, (ARRAY['fr', 'de', 'it'])[g % 3 + 1], CASE WHEN g % 2 = 0 THEN 'gold' END
  FROM generate_series(1, 50) g;

-- Inner join, LEFT join (users 51..60 are unknown: their clicks count
-- under a NULL tier), comma join with a filter, a window and FILTER.
SELECT stream_ext.create_continuous_view('j.by_country', $$
    SELECT u.country, count(*) AS n, sum(c.ms) AS total
      FROM j.clicks c JOIN j.users u ON u.user_id = c.user_id GROUP BY u.country$$);
SELECT stream_ext.create_continuous_view('j.by_tier', $$
    SELECT u.tier, count(*) AS n, max(c.ms) AS slowest
      FROM j.clicks c LEFT JOIN j.users u USING (user_id) GROUP BY u.tier$$);
SELECT stream_ext.create_continuous_view('j.gold_hourly', $$
    SELECT u.country, stream_ext.tumble(c.ts, '1 hour') AS hour,
           count(*) FILTER (WHERE c.ms > 500) AS slow, avg(c.ms) AS avg_ms
      FROM j.clicks c, j.users u
     WHERE u.user_id = c.user_id AND u.tier = 'gold'
     GROUP BY u.country, hour$$);

CREATE FUNCTION j.differences() RETURNS TABLE (view text, differences bigint) LANGUAGE sql AS $$
    SELECT 'by_country', (SELECT count(*) FROM (
        (SELECT * FROM j.by_country EXCEPT ALL
         SELECT u.country, count(*), sum(c.ms) FROM j.clicks c JOIN j.users u ON u.user_id = c.user_id GROUP BY 1)
        UNION ALL
        (SELECT u.country, count(*), sum(c.ms) FROM j.clicks c JOIN j.users u ON u.user_id = c.user_id GROUP BY 1
         EXCEPT ALL SELECT * FROM j.by_country)) x)
    UNION ALL
    SELECT 'by_tier', (SELECT count(*) FROM (
        (SELECT * FROM j.by_tier EXCEPT ALL
         SELECT u.tier, count(*), max(c.ms) FROM j.clicks c LEFT JOIN j.users u USING (user_id) GROUP BY 1)
        UNION ALL
        (SELECT u.tier, count(*), max(c.ms) FROM j.clicks c LEFT JOIN j.users u USING (user_id) GROUP BY 1
         EXCEPT ALL SELECT * FROM j.by_tier)) x)
    UNION ALL
    SELECT 'gold_hourly', (SELECT count(*) FROM (
        (SELECT country, hour, slow, round(avg_ms, 9) FROM j.gold_hourly EXCEPT ALL
         SELECT u.country, stream_ext.tumble(c.ts, '1 hour'), count(*) FILTER (WHERE c.ms > 500), round(avg(c.ms), 9)
           FROM j.clicks c, j.users u WHERE u.user_id = c.user_id AND u.tier = 'gold' GROUP BY 1, 2)
        UNION ALL
        (SELECT u.country, stream_ext.tumble(c.ts, '1 hour'), count(*) FILTER (WHERE c.ms > 500), round(avg(c.ms), 9)
           FROM j.clicks c, j.users u WHERE u.user_id = c.user_id AND u.tier = 'gold' GROUP BY 1, 2
         EXCEPT ALL SELECT country, hour, slow, round(avg_ms, 9) FROM j.gold_hourly)) x)
$$;

INSERT INTO j.clicks (user_id, ms, ts)
SELECT g % 60 + 1, g * 7 % 1000, '2026-05-01 10:00+00'::timestamptz + g * interval '13 s'
  FROM generate_series(1, 1500) g;
SELECT stream_ext.flush();
SELECT * FROM j.differences();
SELECT * FROM j.by_tier ORDER BY tier;

-- Row-level security on a lookup table applies to the view's owner, as it
-- would to the owner's own query.
RESET ROLE;
CREATE TABLE j.regions (country text PRIMARY KEY, region text NOT NULL);
INSERT INTO j.regions VALUES ('fr', 'west'), ('de', 'central'), ('it', 'south');
ALTER TABLE j.regions ENABLE ROW LEVEL SECURITY;
CREATE POLICY not_south ON j.regions FOR SELECT USING (region <> 'south');
GRANT SELECT ON j.regions TO regress_join_owner;
SET ROLE regress_join_owner;
SELECT stream_ext.create_continuous_view('j.by_region', $$
    SELECT r.region, count(*) AS n
      FROM j.clicks c JOIN j.users u ON u.user_id = c.user_id JOIN j.regions r ON r.country = u.country
     GROUP BY r.region$$);
INSERT INTO j.clicks (user_id, ms) SELECT g % 50 + 1, g FROM generate_series(1, 300) g;
SELECT stream_ext.flush();
SELECT * FROM j.by_region ORDER BY region;
-- Its oracle: the same query, as the owner (so under the same policy),
-- over the events since the view was created (those with the default ts).
CREATE FUNCTION j.region_differences() RETURNS bigint LANGUAGE sql AS $$
    WITH o AS (SELECT r.region, count(*) AS n
                 FROM j.clicks c JOIN j.users u ON u.user_id = c.user_id
                 JOIN j.regions r ON r.country = u.country
                WHERE c.ts = '2026-05-01 10:00+00' GROUP BY 1)
    SELECT (SELECT count(*) FROM (SELECT * FROM j.by_region EXCEPT ALL SELECT * FROM o) x)
         + (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM j.by_region) x)
$$;
SELECT j.region_differences();

-- Losing the right to read a lookup table puts the view in error; its
-- events wait; granted again and resumed, it applies them exactly once.
RESET ROLE;
REVOKE SELECT ON j.regions FROM regress_join_owner;
SET ROLE regress_join_owner;
INSERT INTO j.clicks (user_id, ms) SELECT g % 50 + 1, g FROM generate_series(1, 100) g;
SELECT stream_ext.flush();
SELECT name, state, last_error FROM stream_ext.continuous_views WHERE name = 'j.by_region'::regclass;
RESET ROLE;
GRANT SELECT ON j.regions TO regress_join_owner;
SET ROLE regress_join_owner;
SELECT stream_ext.resume_continuous_view('j.by_region');
SELECT stream_ext.flush();
SELECT * FROM j.by_region ORDER BY region;
SELECT j.region_differences();
SELECT * FROM j.differences();

-- Refused, each with a hint.
\set VERBOSITY default
SELECT stream_ext.create_continuous_view('j.bad', $$
    SELECT u.country, count(*) FROM j.users u RIGHT JOIN j.clicks c ON u.user_id = c.user_id GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('j.bad', $$
    SELECT u.country, count(*) FROM j.clicks c FULL JOIN j.users u ON u.user_id = c.user_id GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('j.bad', $$
    SELECT u.country, count(*) FROM j.users u LEFT JOIN j.clicks c ON u.user_id = c.user_id GROUP BY 1$$);
CREATE VIEW j.users_view AS SELECT * FROM j.users;
SELECT stream_ext.create_continuous_view('j.bad', $$
    SELECT u.country, count(*) FROM j.clicks c JOIN j.users_view u USING (user_id) GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('j.bad', $$
    SELECT country, count(*) FROM j.users GROUP BY 1$$);
SELECT stream_ext.create_continuous_view('j.bad', $$
    SELECT u.country, count(*) FROM j.clicks c JOIN (SELECT * FROM j.users) u USING (user_id) GROUP BY 1$$);
RESET ROLE;
CREATE TABLE j.secret (user_id int, label text);
SET ROLE regress_join_owner;
SELECT stream_ext.create_continuous_view('j.bad', $$
    SELECT s.label, count(*) FROM j.clicks c JOIN j.secret s USING (user_id) GROUP BY 1$$);
SELECT count(*) AS half_made FROM pg_class WHERE relname = 'bad';

-- A lookup table cannot be dropped from under its views, but with CASCADE,
-- which drops them.
DROP TABLE j.users;
DROP TABLE j.users CASCADE;
SELECT name FROM stream_ext.continuous_views ORDER BY name::text;

RESET ROLE;
SELECT stream_ext.drop_stream('j.clicks', "cascade" => true);
DROP SCHEMA j CASCADE;
DROP ROLE regress_join_owner;
