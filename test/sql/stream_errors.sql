--
-- create_stream and drop_stream with bad input, as a new user would try it.
-- Every refusal has an errcode, a hint where the user can fix it, and
-- leaves the table exactly as it was.  err.try() runs a statement and
-- shows SQLSTATE, message, detail and hint of its error on one line.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;
\pset format unaligned
\pset tuples_only on

CREATE ROLE regress_stream_alice;
CREATE ROLE regress_stream_bob;
CREATE SCHEMA err AUTHORIZATION regress_stream_alice;
GRANT USAGE ON SCHEMA err TO regress_stream_bob;
SET ROLE regress_stream_alice;

CREATE FUNCTION err.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE cmd;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN st || ' ' || msg || coalesce(' | DETAIL: ' || nullif(det, ''), '')
                            || coalesce(' | HINT: ' || nullif(hnt, ''), '');
END
$$;

-- How a refused table must look afterwards.
CREATE FUNCTION err.unchanged(t regclass) RETURNS text LANGUAGE sql AS $$
    SELECT c.relkind::text || ' ' ||
           (SELECT count(*) FROM stream_ext.stream s WHERE s.relid = t) || ' ' ||
           (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
             WHERE attrelid = t AND attnum > 0 AND NOT attisdropped)
      FROM pg_class c WHERE c.oid = t
$$;

-- A table that does not exist.
SELECT err.try($$SELECT stream_ext.create_stream('err.nope')$$);
SELECT err.try($$SELECT stream_ext.create_stream(NULL)$$);

-- A view and a materialized view.
CREATE TABLE err.base (a int, ts timestamptz);
CREATE VIEW err.v AS SELECT * FROM err.base;
SELECT err.try($$SELECT stream_ext.create_stream('err.v', event_time => 'ts')$$);
CREATE MATERIALIZED VIEW err.mv AS SELECT * FROM err.base;
SELECT err.try($$SELECT stream_ext.create_stream('err.mv', event_time => 'ts')$$);
CREATE SEQUENCE err.seq;
SELECT err.try($$SELECT stream_ext.create_stream('err.seq')$$);

-- Already a stream.
CREATE TABLE err.twice (a int, ts timestamptz);
SELECT stream_ext.create_stream('err.twice', event_time => 'ts');
SELECT err.try($$SELECT stream_ext.create_stream('err.twice', event_time => 'ts')$$);

-- Event time: missing column, wrong type, dropped column.
CREATE TABLE err.t1 (a int, ts timestamptz, d date, label text);
SELECT err.try($$SELECT stream_ext.create_stream('err.t1', event_time => 'missing')$$);
SELECT err.try($$SELECT stream_ext.create_stream('err.t1', event_time => 'label')$$);
SELECT err.try($$SELECT stream_ext.create_stream('err.t1', event_time => 'd')$$);
SELECT err.try($$SELECT stream_ext.create_stream('err.t1', event_time => 'a')$$);
ALTER TABLE err.t1 DROP COLUMN ts;
SELECT err.try($$SELECT stream_ext.create_stream('err.t1', event_time => 'ts')$$);
SELECT err.unchanged('err.t1');
-- timestamp without time zone is accepted.
CREATE TABLE err.local_time (a int, ts timestamp);
SELECT stream_ext.create_stream('err.local_time', event_time => 'ts');

-- Without event_time, the arrival column must be new.
CREATE TABLE err.t2 (a int, arrival_time timestamptz);
SELECT err.try($$SELECT stream_ext.create_stream('err.t2')$$);
SELECT err.try($$SELECT stream_ext.create_stream('err.t2', arrival_column => NULL)$$);
SELECT err.unchanged('err.t2');
-- stream_ext_tx is ours.
CREATE TABLE err.t3 (a int, stream_ext_tx int8, ts timestamptz);
SELECT err.try($$SELECT stream_ext.create_stream('err.t3', event_time => 'ts')$$);

-- Temporary, unlogged, partitioned, partition, inheritance, typed, foreign.
CREATE TEMP TABLE tmp_events (a int, ts timestamptz);
SELECT err.try($$SELECT stream_ext.create_stream('tmp_events', event_time => 'ts')$$);
CREATE UNLOGGED TABLE err.unlogged (a int, ts timestamptz);
SELECT err.try($$SELECT stream_ext.create_stream('err.unlogged', event_time => 'ts')$$);
SELECT err.unchanged('err.unlogged');
CREATE TABLE err.parted (a int, ts timestamptz) PARTITION BY RANGE (ts);
SELECT err.try($$SELECT stream_ext.create_stream('err.parted', event_time => 'ts')$$);
CREATE TABLE err.part1 PARTITION OF err.parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT err.try($$SELECT stream_ext.create_stream('err.part1', event_time => 'ts')$$);
CREATE TABLE err.parent (a int, ts timestamptz);
CREATE TABLE err.child () INHERITS (err.parent);
SELECT err.try($$SELECT stream_ext.create_stream('err.parent', event_time => 'ts')$$);
SELECT err.try($$SELECT stream_ext.create_stream('err.child', event_time => 'ts')$$);
CREATE TYPE err.pair AS (a int, ts timestamptz);
CREATE TABLE err.typed OF err.pair;
SELECT err.try($$SELECT stream_ext.create_stream('err.typed', event_time => 'ts')$$);
RESET ROLE;
CREATE FOREIGN DATA WRAPPER regress_stream_fdw;
CREATE SERVER regress_stream_server FOREIGN DATA WRAPPER regress_stream_fdw;
CREATE FOREIGN TABLE err.foreign_events (a int, ts timestamptz) SERVER regress_stream_server;
ALTER FOREIGN TABLE err.foreign_events OWNER TO regress_stream_alice;
SET ROLE regress_stream_alice;
SELECT err.try($$SELECT stream_ext.create_stream('err.foreign_events', event_time => 'ts')$$);

-- Not empty.
CREATE TABLE err.full (a int, ts timestamptz);
INSERT INTO err.full VALUES (1, now());
SELECT err.try($$SELECT stream_ext.create_stream('err.full', event_time => 'ts')$$);
SELECT err.unchanged('err.full');

-- Constraints and objects a stream cannot keep.
CREATE TABLE err.pk (id int PRIMARY KEY, ts timestamptz);
SELECT err.try($$SELECT stream_ext.create_stream('err.pk', event_time => 'ts')$$);
CREATE TABLE err.uq (id int, ts timestamptz);
CREATE UNIQUE INDEX uq_id ON err.uq (id);
SELECT err.try($$SELECT stream_ext.create_stream('err.uq', event_time => 'ts')$$);
CREATE TABLE err.trig (a int, ts timestamptz);
CREATE FUNCTION err.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER t BEFORE INSERT ON err.trig FOR EACH ROW EXECUTE FUNCTION err.noop();
SELECT err.try($$SELECT stream_ext.create_stream('err.trig', event_time => 'ts')$$);
SELECT err.unchanged('err.trig');
CREATE TABLE err.rls (a int, ts timestamptz);
ALTER TABLE err.rls ENABLE ROW LEVEL SECURITY;
SELECT err.try($$SELECT stream_ext.create_stream('err.rls', event_time => 'ts')$$);
CREATE TABLE err.ruled (a int, ts timestamptz);
CREATE RULE r AS ON INSERT TO err.ruled DO ALSO NOTIFY ruled;
SELECT err.try($$SELECT stream_ext.create_stream('err.ruled', event_time => 'ts')$$);
CREATE TABLE err.viewed (a int, ts timestamptz);
CREATE VIEW err.viewed_v AS SELECT a FROM err.viewed;
SELECT err.try($$SELECT stream_ext.create_stream('err.viewed', event_time => 'ts')$$);
SELECT err.unchanged('err.viewed');
CREATE TABLE err.typed_use (a int, ts timestamptz);
CREATE TABLE err.holder (x err.typed_use);
SELECT err.try($$SELECT stream_ext.create_stream('err.typed_use', event_time => 'ts')$$);

-- Outgoing foreign keys are kept.
CREATE TABLE err.sensors (id int PRIMARY KEY);
INSERT INTO err.sensors VALUES (1);
CREATE TABLE err.fk_events (sensor_id int REFERENCES err.sensors, ts timestamptz);
SELECT stream_ext.create_stream('err.fk_events', event_time => 'ts');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'err.fk_events'::regclass AND contype = 'f';
INSERT INTO err.fk_events VALUES (1, now());
SELECT err.try($$INSERT INTO err.fk_events VALUES (2, now())$$);

-- Only the owner may register a table.
SET ROLE regress_stream_bob;
SELECT err.try($$SELECT stream_ext.create_stream('err.local_time', event_time => 'ts')$$);
RESET ROLE;
GRANT CREATE ON SCHEMA err TO regress_stream_bob;
SET ROLE regress_stream_bob;
CREATE TABLE err.bobs (a int, ts timestamptz);
SET ROLE regress_stream_alice;
SELECT err.try($$SELECT stream_ext.create_stream('err.bobs', event_time => 'ts')$$);
SELECT err.unchanged('err.bobs');

-- The internal rebuild cannot be called by users.
SET ROLE regress_stream_bob;
SELECT err.try($$SELECT stream_ext._rebuild_stream('err.local_time', 'ts', NULL)$$);
SET ROLE regress_stream_alice;

-- The catalog is not writable by users.
SELECT err.try($$INSERT INTO stream_ext.stream (relid, event_time, segments) VALUES ('err.base', 'ts', 3)$$);
SELECT err.try($$DELETE FROM stream_ext.stream$$);
SELECT err.try($$UPDATE stream_ext.segment SET slot = 5$$);

-- Setting stream_ext.restoring needs a superuser.
SELECT err.try($$SET stream_ext.restoring = on$$);

-- Storage parameters move to the segments.
CREATE TABLE err.tuned (a int, ts timestamptz) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);
SELECT stream_ext.create_stream('err.tuned', event_time => 'ts');
SELECT s.slot, p.reloptions FROM stream_ext.segment s JOIN pg_class p ON p.oid = s.partition
 WHERE s.stream = 'err.tuned'::regclass ORDER BY s.slot;

-- Names that need quoting, and long multibyte names (segment names are
-- clipped on a character boundary).
CREATE TABLE err."Événements ""quoted""; DROP TABLE x; -- éééééééééééééééééé" ("at time" timestamptz);
SELECT stream_ext.create_stream('err."Événements ""quoted""; DROP TABLE x; -- éééééééééééééééééé"', event_time => 'at time');
SELECT s.slot, p.relname, octet_length(p.relname::text) <= 63 AS fits
  FROM stream_ext.segment s JOIN pg_class p ON p.oid = s.partition
 WHERE s.stream = 'err."Événements ""quoted""; DROP TABLE x; -- éééééééééééééééééé"'::regclass
 ORDER BY s.slot;
INSERT INTO err."Événements ""quoted""; DROP TABLE x; -- éééééééééééééééééé" VALUES ('2026-01-01');
SELECT count(*) FROM err."Événements ""quoted""; DROP TABLE x; -- éééééééééééééééééé";

-- What would break a stream is refused: its event-time column, its segments.
SELECT err.try($$ALTER TABLE err.fk_events DROP COLUMN ts$$);
SELECT err.try($$ALTER TABLE err.fk_events RENAME COLUMN ts TO happened_at$$);
SELECT err.try($$ALTER TABLE err.fk_events DETACH PARTITION stream_ext.fk_events_seg1$$);
SELECT err.try($$DROP TABLE stream_ext.fk_events_seg1$$);
SELECT err.unchanged('err.fk_events');
-- Other columns may change.
ALTER TABLE err.fk_events ADD COLUMN note text;
ALTER TABLE err.fk_events RENAME COLUMN note TO remark;
ALTER TABLE err.fk_events DROP COLUMN remark;
INSERT INTO err.fk_events (sensor_id, ts) VALUES (1, now());
SELECT count(*) FROM err.fk_events;

-- drop_stream on what is not a stream.
SELECT err.try($$SELECT stream_ext.drop_stream('err.base')$$);
SELECT err.try($$SELECT stream_ext.drop_stream('err.nope')$$);
SET ROLE regress_stream_bob;
SELECT err.try($$SELECT stream_ext.drop_stream('err.twice')$$);
SET ROLE regress_stream_alice;
SELECT stream_ext.drop_stream('err.twice');

-- The registered streams at the end.
SELECT stream, event_time, arrival_column FROM stream_ext.streams ORDER BY stream::text;

DROP TABLE tmp_events;
RESET ROLE;
DROP SCHEMA err CASCADE;
DROP SERVER regress_stream_server;
DROP FOREIGN DATA WRAPPER regress_stream_fdw;
SELECT count(*) AS streams_left FROM stream_ext.stream;
DROP ROLE regress_stream_alice, regress_stream_bob;
