--
-- Between installing a new library and ALTER EXTENSION stream_ext UPDATE,
-- the database's extension is of another version than the library: its
-- worker runs no batch (events wait in their streams), worker_state() and
-- flush() say what to do, writers go on.  Simulated by changing the
-- recorded version in pg_extension, then putting it back (the update).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE version_events (k int, v int, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('version_events', event_time => 'ts');
SELECT stream_ext.create_continuous_view('version_totals',
    $$SELECT k, count(*) AS n, sum(v) AS total FROM version_events GROUP BY k$$);
CREATE TABLE version_shadow (k int, v int);
INSERT INTO version_events SELECT i % 3, i, '2026-01-01' FROM generate_series(1, 30) i;
INSERT INTO version_shadow SELECT i % 3, i FROM generate_series(1, 30) i;
SELECT stream_ext.flush();

SELECT extversion AS installed FROM pg_extension WHERE extname = 'stream_ext' \gset
UPDATE pg_extension SET extversion = '0.1.0' WHERE extname = 'stream_ext';

-- Writers are not affected; the worker leaves the events waiting.
INSERT INTO version_events SELECT i % 3, i, '2026-01-01' FROM generate_series(31, 60) i;
INSERT INTO version_shadow SELECT i % 3, i FROM generate_series(31, 60) i;
SELECT stream_ext.flush();
SELECT stream_ext.worker_state();
SELECT sum(n) AS counted FROM version_totals;

-- The update: the worker catches up, exactly once.
UPDATE pg_extension SET extversion = :'installed' WHERE extname = 'stream_ext';
SELECT stream_ext.flush();
SELECT r.k, r.n, r.total, o.n AS oracle_n, o.total AS oracle_total
  FROM version_totals r
  FULL JOIN (SELECT k, count(*) AS n, sum(v) AS total FROM version_shadow GROUP BY k) o USING (k)
 ORDER BY k;

SELECT stream_ext.drop_stream('version_events', cascade => true);
DROP TABLE version_shadow;
