--
-- Bounded storage: a stream's full segment is retired for an empty one
-- (rotation) and truncated once every continuous view has consumed it.
-- prune() does what the worker does after its batches; with wait => true
-- it waits for a segment's lock instead of trying again later, so that
-- the test does not depend on the worker being idle.  After every step
-- the view must equal its query over all events (kept in a plain table,
-- since the stream itself forgets them).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE ticks (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL DEFAULT '2026-04-01');
SELECT stream_ext.create_stream('ticks', event_time => 'ts');
CREATE TABLE ticks_all (k int, v int);
SELECT stream_ext.create_continuous_view('tick_totals',
    'SELECT k, count(*) AS n, sum(v) AS total FROM ticks GROUP BY k');

CREATE FUNCTION differences() RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM (SELECT * FROM tick_totals EXCEPT ALL
                                  SELECT k, count(*), sum(v) FROM ticks_all GROUP BY k) x)
         + (SELECT count(*) FROM (SELECT k, count(*), sum(v) FROM ticks_all GROUP BY k
                                  EXCEPT ALL SELECT * FROM tick_totals) x)
$$;
-- One round: 400 events in one transaction, into the stream and the
-- record of all events; the worker applies them; then prune twice (the
-- first pass gives a retired segment its bound, a later one truncates it).
CREATE PROCEDURE round(i int) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticks (k, v) SELECT g % 7, i * 1000 + g FROM generate_series(1, 400) g;
    INSERT INTO ticks_all SELECT g % 7, i * 1000 + g FROM generate_series(1, 400) g;
    COMMIT;
    PERFORM stream_ext.flush();
    PERFORM stream_ext.prune('ticks', wait => true);
    PERFORM stream_ext.prune('ticks', wait => true);
END
$$;

-- Segments of 8 kB: every round fills one.  Set for the stream, so that
-- the worker and prune() in any session rotate at the same size.
SELECT stream_ext.set_segment_size('ticks', '8kB');
SELECT segment_size FROM stream_ext.streams WHERE stream = 'ticks'::regclass;
CALL round(1);
CALL round(2);
CALL round(3);
CALL round(4);
CALL round(5);
CALL round(6);
-- 2400 events went through; the stream keeps at most the last rounds'.
SELECT count(*) <= 800 AS bounded, (SELECT count(*) FROM ticks_all) AS all_events FROM ticks;
SELECT differences();
SELECT count(*) FILTER (WHERE pg_relation_size(partition) = 0) >= 1 AS an_empty_segment
  FROM stream_ext.segment WHERE stream = 'ticks'::regclass;

-- A paused view keeps its events: nothing it has not consumed goes.
SELECT stream_ext.pause_continuous_view('tick_totals');
CALL round(7);
CALL round(8);
CALL round(9);
SELECT count(*) >= 1200 AS kept_for_the_paused_view FROM ticks;
SELECT stream_ext.resume_continuous_view('tick_totals');
SELECT stream_ext.flush();
SELECT differences();
CALL round(10);
CALL round(11);
SELECT count(*) <= 800 AS bounded_again FROM ticks;
SELECT differences();

-- A stream without views keeps every event: no rotation, no truncation.
CREATE TABLE notes (body text, ts timestamptz NOT NULL DEFAULT now());
SELECT stream_ext.create_stream('notes', event_time => 'ts');
SELECT stream_ext.set_segment_size('notes', '8kB');
INSERT INTO notes (body) SELECT repeat('x', 100) FROM generate_series(1, 2000);
SELECT stream_ext.prune('notes', wait => true) AS truncated, stream_ext.prune('notes', wait => true) AS again;
SELECT count(*) AS notes_kept FROM notes;
SELECT current_slot FROM stream_ext.stream WHERE relid = 'notes'::regclass;

-- Segments are append-only too: only pruning empties them.
SELECT partition AS seg FROM stream_ext.segment WHERE stream = 'notes'::regclass AND slot = 0 \gset
DELETE FROM :seg;
TRUNCATE :seg;
UPDATE :seg SET body = '';
SELECT count(*) AS notes_still_kept FROM notes;

-- prune() and set_segment_size() check what they are given.
SELECT stream_ext.set_segment_size('ticks', '1kB');
SELECT stream_ext.set_segment_size('ticks_all', '8kB');
SELECT stream_ext.prune('ticks_all');
CREATE ROLE regress_pruning_stranger;
SET ROLE regress_pruning_stranger;
SELECT stream_ext.prune('ticks');
SELECT stream_ext.prune();
RESET ROLE;
DROP ROLE regress_pruning_stranger;

SELECT stream_ext.set_segment_size('ticks', NULL);
SELECT segment_size = pg_size_bytes(current_setting('stream_ext.segment_size')) AS the_default
  FROM stream_ext.streams WHERE stream = 'ticks'::regclass;
SELECT stream_ext.drop_stream('ticks', "cascade" => true);
SELECT stream_ext.drop_stream('notes');
DROP TABLE ticks_all;
DROP FUNCTION differences();
DROP PROCEDURE round(int);
