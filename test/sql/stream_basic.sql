--
-- Streams: registration, what the rebuild keeps, and every way events arrive.
-- The oracle is an ordinary table that receives the same events.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE ROLE regress_stream_owner;
CREATE ROLE regress_stream_writer;
CREATE ROLE regress_stream_reader;
CREATE SCHEMA app AUTHORIZATION regress_stream_owner;
SET ROLE regress_stream_owner;

CREATE TABLE app.sensor_events (
    id bigserial,
    sensor_id int NOT NULL CHECK (sensor_id >= 0),
    temp float8 DEFAULT 20.0,
    ts timestamptz NOT NULL,
    note text
);
CREATE INDEX sensor_events_ts ON app.sensor_events (ts);
CREATE INDEX sensor_events_sensor ON app.sensor_events USING hash (sensor_id);
GRANT INSERT ON app.sensor_events TO regress_stream_writer;
GRANT SELECT ON app.sensor_events TO regress_stream_reader;
GRANT USAGE ON SEQUENCE app.sensor_events_id_seq TO regress_stream_writer;
GRANT USAGE ON SCHEMA app TO regress_stream_writer, regress_stream_reader;
COMMENT ON TABLE app.sensor_events IS 'readings from the sensors';
COMMENT ON COLUMN app.sensor_events.temp IS 'degrees Celsius';
ALTER TABLE app.sensor_events ALTER COLUMN note SET STATISTICS 10;

SELECT stream_ext.create_stream('app.sensor_events', event_time => 'ts');

-- The rebuilt table: partitioned on the tag, same columns, defaults,
-- constraints, indexes, grants, owner and comments.
SELECT c.relkind, c.relowner::regrole, obj_description(c.oid, 'pg_class') AS comment,
       c.relacl
  FROM pg_class c WHERE c.oid = 'app.sensor_events'::regclass;
SELECT attname, format_type(atttypid, atttypmod), attnotnull,
       pg_get_expr(d.adbin, d.adrelid) AS default,
       col_description(a.attrelid, a.attnum) AS comment, attstattarget
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = 'app.sensor_events'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'app.sensor_events'::regclass ORDER BY conname;
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid = 'app.sensor_events'::regclass ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'app.sensor_events'::regclass;
SELECT pg_get_partkeydef('app.sensor_events'::regclass);
SELECT pg_get_serial_sequence('app.sensor_events', 'id');

-- Catalog and the streams view.
SELECT relid, event_time, arrival_column, segments, current_slot FROM stream_ext.stream;
SELECT s.slot, p.relnamespace::regnamespace, p.relkind, p.relowner::regrole,
       pg_get_expr(p.relpartbound, p.oid) AS bound
  FROM stream_ext.segment s JOIN pg_class p ON p.oid = s.partition
 ORDER BY s.slot;
SELECT stream, event_time, arrival_column, segments, events_waiting FROM stream_ext.streams;

-- The oracle receives every event the stream receives.
CREATE TABLE app.oracle (id bigint, sensor_id int, temp float8, ts timestamptz, note text);

-- Single-row and multi-row INSERT.
INSERT INTO app.sensor_events (sensor_id, temp, ts) VALUES (1, 21.5, '2026-01-01 00:00:01+00');
INSERT INTO app.sensor_events (sensor_id, temp, ts, note) VALUES
    (2, 22.0, '2026-01-01 00:00:02+00', 'multi'),
    (3, NULL, '2026-01-01 00:00:03+00', 'multi'),
    (1, 23.5, '2026-01-01 00:00:04+00', 'multi');
-- Positional INSERT without a column list: the added column takes its default.
INSERT INTO app.sensor_events VALUES (DEFAULT, 4, 24.0, '2026-01-01 00:00:05+00', 'positional');
-- INSERT ... SELECT
INSERT INTO app.sensor_events (sensor_id, temp, ts, note)
SELECT i % 5, i * 0.5, '2026-01-01 00:01:00+00'::timestamptz + i * interval '1 second', 'select'
  FROM generate_series(1, 100) i;
-- Data-modifying CTE
WITH moved AS (
    INSERT INTO app.sensor_events (sensor_id, temp, ts, note)
    VALUES (7, 17.0, '2026-01-01 00:02:00+00', 'cte') RETURNING *
)
SELECT sensor_id, temp, note FROM moved;
-- Prepared statement, executed more times than the plan cache needs to go generic.
PREPARE ins(int, float8, timestamptz) AS
    INSERT INTO app.sensor_events (sensor_id, temp, ts, note) VALUES ($1, $2, $3, 'prepared');
EXECUTE ins(8, 1.0, '2026-01-01 00:03:01+00');
EXECUTE ins(8, 2.0, '2026-01-01 00:03:02+00');
EXECUTE ins(8, 3.0, '2026-01-01 00:03:03+00');
EXECUTE ins(8, 4.0, '2026-01-01 00:03:04+00');
EXECUTE ins(8, 5.0, '2026-01-01 00:03:05+00');
EXECUTE ins(8, 6.0, '2026-01-01 00:03:06+00');
EXECUTE ins(8, 7.0, '2026-01-01 00:03:07+00');
DEALLOCATE ins;

-- COPY FROM STDIN: text without a column list (the stream's own columns),
-- csv with a column list.
COPY app.sensor_events FROM STDIN;
1000	9	19.5	2026-01-01 00:04:00+00	copy text
1001	9	\N	2026-01-01 00:04:01+00	\N
\.
COPY app.sensor_events (sensor_id, temp, ts, note) FROM STDIN (FORMAT csv, HEADER);
sensor_id,temp,ts,note
10,10.5,2026-01-01 00:05:00+00,copy csv
10,11.5,2026-01-01 00:05:01+00,"quoted, with comma"
\.

-- COPY FROM a server file: csv and binary.
RESET ROLE;
CREATE TABLE copy_source (sensor_id int, temp float8, ts timestamptz, note text);
INSERT INTO copy_source
SELECT 20 + i % 3, i, '2026-01-01 00:06:00+00'::timestamptz + i * interval '1 ms', 'file'
  FROM generate_series(1, 1000) i;
SELECT current_setting('data_directory') || '/stream_ext_events.csv' AS csvfile,
       current_setting('data_directory') || '/stream_ext_events.bin' AS binfile \gset
COPY copy_source TO :'csvfile' (FORMAT csv);
COPY copy_source TO :'binfile' (FORMAT binary);
COPY app.sensor_events (sensor_id, temp, ts, note) FROM :'csvfile' (FORMAT csv);
COPY app.sensor_events (sensor_id, temp, ts, note) FROM :'binfile' (FORMAT binary);
SET ROLE regress_stream_owner;

-- The oracle gets the same rows (ids included, taken from the stream's
-- sequence, so they are compared too).
INSERT INTO app.oracle SELECT id, sensor_id, temp, ts, note FROM app.sensor_events;
SELECT count(*) AS events FROM app.sensor_events;

-- Bad rows: each statement fails with PostgreSQL's own error and keeps nothing.
-- (terse: the details would show the row's transaction id.)
\set VERBOSITY terse
INSERT INTO app.sensor_events (sensor_id, ts) VALUES (-1, '2026-01-01 00:07:00+00');
INSERT INTO app.sensor_events (sensor_id, ts) VALUES (NULL, '2026-01-01 00:07:00+00');
INSERT INTO app.sensor_events (sensor_id, temp, ts) VALUES (1, 'warm', now());
COPY app.sensor_events (sensor_id, temp, ts) FROM STDIN (FORMAT csv);
30,1.0,2026-01-01 00:07:00+00
30,2.0,2026-01-01 00:07:01+00
30,not a number,2026-01-01 00:07:02+00
\.
COPY app.sensor_events (sensor_id, temp, ts) FROM STDIN (FORMAT csv);
31,1.0,2026-01-01 00:07:00+00
31,2.0,
\.
INSERT INTO app.sensor_events (sensor_id, ts)
SELECT 40 - i, '2026-01-01'::timestamptz FROM generate_series(0, 50) i;
\set VERBOSITY default

-- Rolled-back transactions and savepoints.
BEGIN;
INSERT INTO app.sensor_events (sensor_id, ts, note) VALUES (50, '2026-01-01 00:08:00+00', 'rolled back');
ROLLBACK;
BEGIN;
INSERT INTO app.sensor_events (sensor_id, ts, note) VALUES (51, '2026-01-01 00:08:01+00', 'kept');
SAVEPOINT a;
INSERT INTO app.sensor_events (sensor_id, ts, note) VALUES (52, '2026-01-01 00:08:02+00', 'rolled back savepoint');
ROLLBACK TO a;
SAVEPOINT b;
INSERT INTO app.sensor_events (sensor_id, ts, note) VALUES (53, '2026-01-01 00:08:03+00', 'released savepoint');
RELEASE b;
INSERT INTO app.oracle SELECT id, sensor_id, temp, ts, note FROM app.sensor_events
 WHERE sensor_id IN (51, 53);
COMMIT;

-- The stream holds exactly the oracle's events.
SELECT count(*) AS missing FROM (SELECT id, sensor_id, temp, ts, note FROM app.oracle
                                 EXCEPT ALL
                                 SELECT id, sensor_id, temp, ts, note FROM app.sensor_events) x;
SELECT count(*) AS extra FROM (SELECT id, sensor_id, temp, ts, note FROM app.sensor_events
                               EXCEPT ALL
                               SELECT id, sensor_id, temp, ts, note FROM app.oracle) x;
SELECT note, count(*) FROM app.sensor_events GROUP BY note ORDER BY note;
SELECT events_stored, events_waiting FROM stream_ext.streams WHERE stream = 'app.sensor_events'::regclass;  -- no view waits for them

-- Tags: every event is in slot 0; one tag per transaction; the tag's low
-- bits are the inserting transaction's id.
SELECT DISTINCT stream_ext_tx >> 48 AS slot FROM app.sensor_events;
SELECT count(DISTINCT stream_ext_tx) AS transactions FROM app.sensor_events;
SELECT count(DISTINCT stream_ext_tx) AS tags_of_one_insert_select
  FROM app.sensor_events WHERE note = 'select';
SELECT count(DISTINCT stream_ext_tx) AS tags_of_savepoint_transaction
  FROM app.sensor_events WHERE sensor_id IN (51, 53);
BEGIN;
INSERT INTO app.sensor_events (sensor_id, ts, note) VALUES (60, '2026-01-01 00:09:00+00', 'own xid');
SELECT stream_ext_tx & ((1::int8 << 48) - 1) = pg_current_xact_id()::text::int8 AS tag_is_own_xid
  FROM app.sensor_events WHERE note = 'own xid';
-- Two streams in one transaction share the transaction id, each its own tag.
CREATE TABLE app.other (v int, at timestamptz);
SELECT stream_ext.create_stream('app.other', event_time => 'at');
INSERT INTO app.other VALUES (1, now());
SELECT (SELECT stream_ext_tx FROM app.other) = (SELECT stream_ext_tx FROM app.sensor_events WHERE note = 'own xid')
       AS same_tag;
ROLLBACK;

-- The tag cannot be set by the writer.
\set VERBOSITY terse
INSERT INTO app.sensor_events (sensor_id, ts, stream_ext_tx) VALUES (1, now(), 42);
INSERT INTO app.sensor_events (sensor_id, ts, stream_ext_tx) VALUES (1, now(), NULL);
INSERT INTO app.sensor_events SELECT * FROM app.sensor_events LIMIT 1;
\set VERBOSITY default
INSERT INTO app.sensor_events (sensor_id, ts, stream_ext_tx) VALUES (1, now(), DEFAULT);

-- Events are facts: no UPDATE, DELETE, MERGE or TRUNCATE.
UPDATE app.sensor_events SET temp = 0;
UPDATE app.sensor_events SET temp = 0 WHERE false;
DELETE FROM app.sensor_events WHERE sensor_id = 1;
TRUNCATE app.sensor_events;
MERGE INTO app.sensor_events s USING (VALUES (1)) v(x) ON s.sensor_id = v.x
 WHEN MATCHED THEN UPDATE SET temp = 0;
MERGE INTO app.sensor_events s USING (VALUES (-5)) v(x) ON s.sensor_id = v.x
 WHEN NOT MATCHED THEN INSERT (sensor_id, ts, note) VALUES (5, '2026-01-01 00:10:00+00', 'merge');
SELECT count(*) FROM app.sensor_events WHERE note = 'merge';

-- Other roles write and read through their grants.
SET ROLE regress_stream_writer;
INSERT INTO app.sensor_events (sensor_id, ts, note) VALUES (70, '2026-01-01 00:11:00+00', 'writer');
COPY app.sensor_events (sensor_id, ts, note) FROM STDIN;
71	2026-01-01 00:11:01+00	writer
\.
SELECT count(*) FROM app.sensor_events;
SET ROLE regress_stream_reader;
SELECT count(*) FROM app.sensor_events WHERE note = 'writer';
INSERT INTO app.sensor_events (sensor_id, ts) VALUES (72, now());
SET ROLE regress_stream_owner;

-- A stream without event_time gets an arrival-time column set to now().
CREATE TABLE app.clicks (page text, user_id int);
SELECT stream_ext.create_stream('app.clicks');
SELECT attname, format_type(atttypid, atttypmod), pg_get_expr(d.adbin, d.adrelid) AS default
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = 'app.clicks'::regclass AND a.attnum > 0 ORDER BY a.attnum;
BEGIN;
INSERT INTO app.clicks VALUES ('/', 1);
COPY app.clicks FROM STDIN (FORMAT csv);
/about,2
\.
SELECT page, user_id, arrival_time = now() AS arrived_now FROM app.clicks ORDER BY user_id;
COMMIT;
-- A custom name for the arrival column; identity columns keep counting.
CREATE TABLE app.orders (id int GENERATED ALWAYS AS IDENTITY, amount numeric);
INSERT INTO app.orders (amount) VALUES (1), (2);
DELETE FROM app.orders;
SELECT stream_ext.create_stream('app.orders', arrival_column => 'received_at');
INSERT INTO app.orders (amount) VALUES (3) RETURNING id, amount;
SELECT pg_get_serial_sequence('app.orders', 'id');
SELECT stream, event_time, arrival_column FROM stream_ext.streams ORDER BY stream::text;

-- Renaming a stream keeps it registered.
ALTER TABLE app.orders RENAME TO purchases;
SELECT stream FROM stream_ext.streams ORDER BY stream::text;
INSERT INTO app.purchases (amount) VALUES (4);
SELECT count(*) FROM app.purchases;

-- drop_stream drops the table and its segments; DROP TABLE is caught too.
SELECT stream_ext.drop_stream('app.purchases');
DROP TABLE app.clicks;
SELECT stream FROM stream_ext.streams ORDER BY stream::text;
SELECT count(*) AS orphan_segments FROM stream_ext.segment s
 WHERE NOT EXISTS (SELECT 1 FROM stream_ext.stream t WHERE t.relid = s.stream);
SELECT count(*) AS leftover_partitions FROM pg_class
 WHERE relnamespace = 'stream_ext'::regnamespace AND relkind = 'r'
   AND oid NOT IN (SELECT partition FROM stream_ext.segment)
   AND relname LIKE 'seg\_%';

RESET ROLE;
DROP TABLE copy_source;
DROP SCHEMA app CASCADE;
DROP ROLE regress_stream_owner, regress_stream_writer, regress_stream_reader;
