--
-- A continuous view is its result table: only the worker's batches write
-- it (and the table of a sliding window's steps).  Every write by a user -- owner, a role with
-- INSERT granted, a superuser -- is refused with an errcode and a hint,
-- and the view stays equal to its query over the events.  Grants on the
-- result table are the owner's to give.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE ROLE regress_guard_owner;
CREATE ROLE regress_guard_writer;
CREATE ROLE regress_guard_reader;
CREATE ROLE regress_guard_stranger;
CREATE SCHEMA guard AUTHORIZATION regress_guard_owner;
GRANT USAGE ON SCHEMA guard TO regress_guard_writer, regress_guard_reader, regress_guard_stranger;

CREATE FUNCTION guard.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
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
GRANT EXECUTE ON FUNCTION guard.try(text) TO PUBLIC;

SET ROLE regress_guard_owner;
CREATE TABLE guard.hits (page int NOT NULL, ms int NOT NULL, ts timestamptz NOT NULL DEFAULT now());
SELECT stream_ext.create_stream('guard.hits', event_time => 'ts');
SELECT stream_ext.create_continuous_view('guard.per_page',
    'SELECT page, count(*) AS n, sum(ms) AS total FROM guard.hits GROUP BY page');
INSERT INTO guard.hits (page, ms) SELECT g % 5, g FROM generate_series(1, 500) g;
SELECT stream_ext.flush();
SELECT stream_ext.create_continuous_view('guard.recent',
    'SELECT page, count(*) AS n FROM guard.hits GROUP BY page', sliding => '1 day');
SELECT state_table AS state FROM stream_ext.continuous_view WHERE result = 'guard.recent'::regclass \gset

CREATE FUNCTION guard.differences() RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM (SELECT * FROM guard.per_page EXCEPT ALL
                                  SELECT page, count(*), sum(ms) FROM guard.hits GROUP BY page) x)
         + (SELECT count(*) FROM (SELECT page, count(*), sum(ms) FROM guard.hits GROUP BY page
                                  EXCEPT ALL SELECT * FROM guard.per_page) x)
$$;

\pset format unaligned
\pset tuples_only on
-- The owner cannot write it, whatever the command.
SELECT guard.try('INSERT INTO guard.per_page VALUES (99, 1, 1)');
SELECT guard.try('UPDATE guard.per_page SET n = 0');
SELECT guard.try('DELETE FROM guard.per_page');
SELECT guard.try('TRUNCATE guard.per_page');
SELECT guard.try('MERGE INTO guard.per_page p USING (VALUES (1)) v(page) ON p.page = v.page
                  WHEN MATCHED THEN UPDATE SET n = 0');
-- Nor the steps of a sliding window.
SELECT regexp_replace(guard.try(format('DELETE FROM %s', :'state')), '_[0-9]+_', '_N_', 'g');
SELECT regexp_replace(guard.try(format('UPDATE %s SET k1 = 0', :'state')), '_[0-9]+_', '_N_', 'g');
SELECT stream_ext.drop_continuous_view('guard.recent');

-- A role the owner granted INSERT and UPDATE cannot either; reading is
-- the owner's to grant.
GRANT INSERT, UPDATE ON guard.per_page TO regress_guard_writer;
GRANT SELECT ON guard.per_page TO regress_guard_reader;
SET ROLE regress_guard_writer;
SELECT guard.try('INSERT INTO guard.per_page VALUES (99, 1, 1)');
SET ROLE regress_guard_reader;
SELECT count(*) FROM guard.per_page;
SELECT guard.try('DELETE FROM guard.per_page');
SET ROLE regress_guard_stranger;
SELECT guard.try('SELECT count(*) FROM guard.per_page');
RESET ROLE;

-- A superuser cannot either, nor COPY into it, nor with triggers set to
-- fire as on a replica.
SELECT guard.try('DELETE FROM guard.per_page');
SET session_replication_role = replica;
SELECT guard.try('UPDATE guard.per_page SET n = 0');
RESET session_replication_role;
SELECT guard.try('COPY guard.per_page FROM PROGRAM ''echo 1,1,1'' (FORMAT csv)');
SELECT guard.try('TRUNCATE guard.per_page');

-- The worker still can: more events, and the view is exact.
SET ROLE regress_guard_owner;
INSERT INTO guard.hits (page, ms) SELECT g % 7, g FROM generate_series(1, 300) g;
SELECT stream_ext.flush();
SELECT guard.differences();
SELECT count(*) FROM guard.per_page;
-- Indexes, grants and renames remain the owner's business.
CREATE INDEX ON guard.per_page (total);
ALTER TABLE guard.per_page RENAME TO per_page_renamed;
INSERT INTO guard.hits (page, ms) VALUES (1, 1);
SELECT stream_ext.flush();
SELECT n FROM guard.per_page_renamed WHERE page = 1;
SELECT stream_ext.drop_continuous_view('guard.per_page_renamed');
RESET ROLE;
\pset format aligned
\pset tuples_only off

SELECT stream_ext.drop_stream('guard.hits');
DROP SCHEMA guard CASCADE;
DROP ROLE regress_guard_owner, regress_guard_writer, regress_guard_reader, regress_guard_stranger;
