--
-- Which events a batch holds (batch.c): an event counts in the batch taken
-- under snapshot S after progress P when S sees it and P does not.  Checked
-- against pg_visible_in_snapshot() on every transaction id of a range, for
-- hand-made snapshots, and on live transactions.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE snaps (name text, s pg_snapshot);
INSERT INTO snaps VALUES
    ('empty',     '100:100:'),
    ('one open',  '100:110:105'),
    ('some open', '100:120:100,104,111,119'),
    ('later',     '104:130:104,125'),
    ('far',       '200:200:');

-- seen() agrees with pg_visible_in_snapshot for each xid 90..210 (a tag
-- carries the slot in its high bits: slot 3 here).
SELECT name,
       count(*) FILTER (WHERE stream_ext.seen((3::int8 << 48) | x, s)
                        IS DISTINCT FROM pg_visible_in_snapshot(x::text::xid8, s)) AS disagreements,
       count(*) FILTER (WHERE stream_ext.seen(x, s)) AS seen
  FROM snaps, generate_series(90, 210) x
 GROUP BY name ORDER BY name;

-- covers(a, b): every xid b sees, a sees; checked against the same
-- definition over the xid range.
SELECT a.name AS a, b.name AS b, stream_ext.covers(a.s, b.s) AS covers,
       NOT EXISTS (SELECT 1 FROM generate_series(1, 300) x
                    WHERE pg_visible_in_snapshot(x::text::xid8, b.s)
                      AND NOT pg_visible_in_snapshot(x::text::xid8, a.s)) AS expected
  FROM snaps a, snaps b
 ORDER BY a.name, b.name;

SELECT count(*) FILTER (WHERE stream_ext.covers(a.s, b.s) <> NOT EXISTS (
           SELECT 1 FROM generate_series(1, 300) x
            WHERE pg_visible_in_snapshot(x::text::xid8, b.s)
              AND NOT pg_visible_in_snapshot(x::text::xid8, a.s))) AS covers_mismatches
  FROM snaps a, snaps b;

-- Live: progress taken before a writer's transaction; the next batch holds
-- that transaction's events (savepoints released or not) and later ones,
-- never the rolled-back savepoint's, and nothing the progress saw.
CREATE TABLE ev (v int, ts timestamptz NOT NULL DEFAULT now());
SELECT stream_ext.create_stream('ev', event_time => 'ts');
INSERT INTO ev (v) VALUES (1);
SELECT pg_current_snapshot() AS progress \gset
BEGIN;
INSERT INTO ev (v) VALUES (2);
SAVEPOINT s; INSERT INTO ev (v) VALUES (3); RELEASE s;
SAVEPOINT t; INSERT INTO ev (v) VALUES (99); ROLLBACK TO t;
COMMIT;
INSERT INTO ev (v) VALUES (4);
SELECT v, stream_ext.seen(stream_ext_tx, :'progress') AS seen FROM ev ORDER BY v;
SELECT array_agg(v ORDER BY v) AS batch FROM ev WHERE NOT stream_ext.seen(stream_ext_tx, :'progress');
-- The next progress covers the old one, not the reverse.
SELECT stream_ext.covers(pg_current_snapshot(), :'progress') AS now_covers_progress,
       stream_ext.covers(:'progress', pg_current_snapshot()) AS progress_covers_now;
SELECT stream_ext.drop_stream('ev');
DROP TABLE snaps;
