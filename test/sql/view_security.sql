-- Privileges and faulty user code.  Views and transforms run as their
-- owner, never as a superuser; only the owner manages them; creating one
-- needs the rights its query and outputs need; the catalog is read-only to
-- users; stream_ext's SECURITY DEFINER functions pin their search_path.  A
-- user aggregate that fails puts only its view in error, the others keep
-- going, exactly.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;
\set VERBOSITY terse

CREATE ROLE regress_sec_owner;
CREATE ROLE regress_sec_other;
CREATE ROLE regress_sec_blind;
GRANT CREATE ON SCHEMA public TO regress_sec_owner, regress_sec_other, regress_sec_blind;

SET ROLE regress_sec_owner;
CREATE TABLE sec_ev (k int NOT NULL, v int NOT NULL, ts timestamptz NOT NULL);
SELECT stream_ext.create_stream('sec_ev', event_time => 'ts');
GRANT SELECT ON sec_ev TO regress_sec_other;
-- Batches run as the owner: current_user in the view is the owner.
SELECT stream_ext.create_continuous_view('sec_who', $$
    SELECT current_user::text AS who, count(*) AS n FROM sec_ev GROUP BY 1$$);
CREATE TABLE sec_target (k int, v int);
SELECT stream_ext.create_transform('sec_copy', 'SELECT k, v FROM sec_ev', 'sec_target');
RESET ROLE;
INSERT INTO sec_ev VALUES (1, 1, '2026-01-01'), (2, 2, '2026-01-01');
SELECT stream_ext.flush();
SELECT * FROM sec_who;

-- Another role can read the stream but not manage the owner's views.
SET ROLE regress_sec_other;
SELECT stream_ext.pause_continuous_view('sec_who');
SELECT stream_ext.resume_continuous_view('sec_who');
SELECT stream_ext.drop_continuous_view('sec_who');
SELECT stream_ext.replace_continuous_view('sec_who', 'SELECT count(*) AS n FROM sec_ev');
SELECT stream_ext.pause_transform('sec_copy');
SELECT stream_ext.drop_transform('sec_copy');
SELECT stream_ext.prune('sec_ev');
SELECT stream_ext.set_retention('sec_ev', '1 day');
-- The catalog is not writable.
UPDATE stream_ext.continuous_view SET state = 'paused';
INSERT INTO stream_ext.state_column VALUES ('sec_ev', 1, 'count()', '{}', true, 'int8', NULL, NULL);
DELETE FROM stream_ext.stream;
-- Its own view over the owner's stream runs as itself...
SELECT stream_ext.create_continuous_view('sec_mine', 'SELECT current_user::text AS who, count(*) AS n FROM sec_ev GROUP BY 1');
-- ...but it cannot write into a table or stream it has no INSERT on.
SELECT stream_ext.create_transform('sec_bad', 'SELECT k, v FROM sec_ev', 'sec_target');
SELECT stream_ext.create_continuous_view('sec_bad', $$
    SELECT k, stream_ext.tumble(ts, '1 minute') AS m, count(*) AS n FROM sec_ev GROUP BY 1, 2$$,
    output_stream => 'sec_ev');
RESET ROLE;

-- Without SELECT on the stream, no view, no transform, no source.
SET ROLE regress_sec_blind;
SELECT stream_ext.create_continuous_view('sec_bad', 'SELECT count(*) AS n FROM sec_ev');
CREATE TABLE sec_blind_target (k int, v int);
SELECT stream_ext.create_transform('sec_bad', 'SELECT k, v FROM sec_ev', 'sec_blind_target');
SELECT to_regclass('sec_bad') IS NULL AS nothing_made;
RESET ROLE;

INSERT INTO sec_ev VALUES (3, 3, '2026-01-01');
SELECT stream_ext.flush();
SELECT * FROM sec_who UNION ALL SELECT * FROM sec_mine ORDER BY 1;
SELECT count(*) AS copied FROM sec_target;

-- SECURITY DEFINER functions of stream_ext pin their search_path.
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'stream_ext'::regnamespace AND p.prosecdef
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

-- Faulty user code: an aggregate whose combine function fails once its
-- state passes 100 puts its view in error with the message; the other
-- views of the stream go on, exactly, and the failing view's events are
-- kept for when it is fixed.
CREATE FUNCTION sec_fragile_combine(a int8, b int8) RETURNS int8 LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    IF a + b > 100 THEN
        RAISE EXCEPTION 'fragile total % is over 100', a + b
            USING DETAIL = format('The states were %s and %s.', a, b),
                  HINT = 'Keep totals under 100.', ERRCODE = 'numeric_value_out_of_range';
    END IF;
    RETURN a + b;
END $$;
CREATE AGGREGATE sec_fragile_sum(int) (SFUNC = int4_sum, STYPE = int8, COMBINEFUNC = sec_fragile_combine);
SELECT stream_ext.create_continuous_view('sec_fragile', 'SELECT k, sec_fragile_sum(v) AS total FROM sec_ev GROUP BY k');
SELECT stream_ext.create_continuous_view('sec_sturdy', 'SELECT k, sum(v) AS total FROM sec_ev GROUP BY k');
INSERT INTO sec_ev SELECT 1, 10, '2026-01-01' FROM generate_series(1, 5);
SELECT stream_ext.flush();
INSERT INTO sec_ev SELECT 1, 10, '2026-01-01' FROM generate_series(1, 8);
SELECT stream_ext.flush();
SELECT name, state, last_error FROM stream_ext.continuous_views WHERE name::text LIKE 'sec_%' ORDER BY 1;
-- The whole error is kept: SQLSTATE, detail, hint and context (the
-- function's line, then the batch statement it ran in).
SELECT last_error_code, last_error_detail, last_error_hint,
       split_part(last_error_context, E'\n', 1) AS context,
       last_error_context LIKE E'%\nSQL statement "WITH stream_ext_batch %' AS in_batch
  FROM stream_ext.stats WHERE view = 'sec_fragile'::regclass;
SELECT * FROM sec_sturdy ORDER BY k;
SELECT events_waiting > 0 AS kept FROM stream_ext.stats WHERE view = 'sec_fragile'::regclass;
SELECT stream_ext.drop_continuous_view('sec_fragile');
SELECT stream_ext.flush();

SELECT stream_ext.drop_stream('sec_ev', cascade => true);
DROP AGGREGATE sec_fragile_sum(int);
DROP FUNCTION sec_fragile_combine(int8, int8);
DROP TABLE sec_target, sec_blind_target;
REVOKE CREATE ON SCHEMA public FROM regress_sec_owner, regress_sec_other, regress_sec_blind;
DROP ROLE regress_sec_owner, regress_sec_other, regress_sec_blind;
