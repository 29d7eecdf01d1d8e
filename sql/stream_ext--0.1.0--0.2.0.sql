/* stream_ext--0.1.0--0.2.0.sql: from 0.1.0 to 0.2.0 */

\echo Use "ALTER EXTENSION stream_ext UPDATE" to load this file. \quit

-- What 0.2.0 changes (see README, "Versions and updates"):
--   - a view's states live in its result table; 0.1.0's state tables are
--     folded into the result tables and dropped (upgrade.c), except a
--     sliding window's steps, which were already kept as 0.2.0 keeps them;
--   - the catalog keeps each view's and transform's definition (its query
--     resolved), not its part of the batch statement, which the worker
--     generates;
--   - the triggers of sources run one C function driven by the catalog,
--     not a PL/pgSQL function generated for each;
--   - internal functions are not executable by PUBLIC: the SQL functions
--     that used them are C functions now, and what batches, monitoring
--     views and hop() evaluate as their caller is built in or public
--     (snapshot_before(), hop_windows(), backlog()); _view_sql is gone;
--   - on_error => 'skip': a view's batches leave out the events its query
--     fails on, kept in stream_ext.dead_letters;
--   - streams.events_waiting counts the events the views have still to
--     consume, events_stored those the stream holds;
--   - flush() reports views in error by a warning, and fails only with
--     strict => true;
--   - a view in error keeps the SQLSTATE, detail, hint and context of its
--     error.

-- ---------------------------------------------------------------------
-- Functions the batches of 0.2.0 use
-- ---------------------------------------------------------------------

-- snapshot_before(), which batches evaluate as the view's owner, is
-- public, as seen() and covers() are.
ALTER FUNCTION stream_ext._snapshot_before(pg_snapshot, int8) RENAME TO snapshot_before;
COMMENT ON FUNCTION stream_ext.snapshot_before(pg_snapshot, int8) IS
    'the snapshot limited to the transactions before xid: where a batch of at most batch_size events ends';

-- Carried states are detoasted by a built-in function (partial.c).
DROP FUNCTION stream_ext._detoast(bytea);

-- hop() checks its size and slide by a public function.
-- The number of hopping windows of the given size, starting every slide,
-- that hold an event: ceil(size / slide), once size and slide are checked.
-- hop() calls it where it is always evaluated (the bound of its series).
CREATE FUNCTION stream_ext.hop_windows(size interval, slide interval)
RETURNS int4
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF size <= interval '0' OR slide <= interval '0' THEN
        RAISE EXCEPTION 'window size and slide must be positive, not % and %', size, slide
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF extract(month FROM size) <> 0 OR extract(year FROM size) <> 0
       OR extract(month FROM slide) <> 0 OR extract(year FROM slide) <> 0 THEN
        RAISE EXCEPTION 'windows of months or years are not supported'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Use days, e.g. ''30 days'', or group by date_trunc(''month'', ts).';
    END IF;
    -- Every event is in size / slide windows: bounded, or one event could
    -- make a batch write without end.
    IF extract(epoch FROM size) / extract(epoch FROM slide) > 10000 THEN
        RAISE EXCEPTION 'a hopping window of % every % puts each event in % windows', size, slide,
                        ceil(extract(epoch FROM size) / extract(epoch FROM slide))
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'At most 10000 windows per event are supported.',
                  HINT = 'Use a longer slide or a shorter size.';
    END IF;
    RETURN ceil(date_part('epoch', size) / date_part('epoch', slide))::int4;
END;
$$;
COMMENT ON FUNCTION stream_ext.hop_windows(interval, interval) IS
    'the number of hopping windows of the given size, starting every slide, that hold each event';

CREATE OR REPLACE FUNCTION stream_ext.hop(ts timestamptz, size interval, slide interval,
                               origin timestamptz DEFAULT '2000-01-01 00:00:00+00',
                               OUT window_start timestamptz, OUT window_end timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE ROWS 4
AS $$
    -- The window starting in the slide that holds ts and the ceil(size /
    -- slide) - 1 before it, those that still hold ts; an infinite ts is in
    -- the one window [ts, ts), as tumble() puts it, a NULL one in none.
    -- One SELECT over an integer series with constant bounds (once inlined
    -- into a view's query): the planner knows how many windows an event is
    -- in, and joins the series without a subquery per event.
    SELECT CASE WHEN pg_catalog.isfinite(ts)
                THEN pg_catalog.date_bin(slide, ts, origin) OPERATOR(pg_catalog.-) (slide OPERATOR(pg_catalog.*) i)
                ELSE ts END,
           CASE WHEN pg_catalog.isfinite(ts)
                THEN pg_catalog.date_bin(slide, ts, origin) OPERATOR(pg_catalog.-) (slide OPERATOR(pg_catalog.*) i)
                     OPERATOR(pg_catalog.+) size
                ELSE ts END
      FROM pg_catalog.generate_series(0, stream_ext.hop_windows(size, slide) OPERATOR(pg_catalog.-) 1) i
     WHERE CASE WHEN pg_catalog.isfinite(ts)
                THEN pg_catalog.date_bin(slide, ts, origin) OPERATOR(pg_catalog.-) (slide OPERATOR(pg_catalog.*) i)
                     OPERATOR(pg_catalog.+) size OPERATOR(pg_catalog.>) ts
                ELSE ts IS NOT NULL AND i OPERATOR(pg_catalog.=) 0 END
$$;
COMMENT ON FUNCTION stream_ext.hop(timestamptz, interval, interval, timestamptz) IS
    'the hopping windows [window_start, window_end) of the given size, starting every slide, that contain ts';
DROP FUNCTION stream_ext._checked_slide(interval, interval);

-- ---------------------------------------------------------------------
-- The catalog
-- ---------------------------------------------------------------------

ALTER TABLE stream_ext.continuous_view
    ADD COLUMN last_error_code text,
    ADD COLUMN last_error_detail text,
    ADD COLUMN last_error_hint text,
    ADD COLUMN last_error_context text;
-- Only a sliding window keeps a table of its own after the update.
ALTER TABLE stream_ext.continuous_view DROP CONSTRAINT continuous_view_check;
ALTER TABLE stream_ext.stream
    ADD COLUMN segment_size int8 CHECK (segment_size >= 8192);
ALTER TABLE stream_ext.continuous_view
    ADD COLUMN on_error text NOT NULL DEFAULT 'stop' CHECK (on_error IN ('stop', 'skip')),
    ADD COLUMN events_skipped bigint NOT NULL DEFAULT 0;

-- Every trigger of a source runs one C function, driven by the catalog
-- row the update gives it (upgrade.c, below), instead of a PL/pgSQL function of
-- its own.
ALTER TABLE stream_ext.source
    ADD COLUMN trigger name,
    ADD COLUMN owner regrole,
    ADD COLUMN operation_column name,
    ALTER COLUMN function DROP NOT NULL;

-- Events a view with on_error => 'skip' left out of its batches because
-- its query failed on them (apply.c), with the error; written in the
-- batch's transaction, so that each is either applied or kept here, once.
CREATE TABLE stream_ext.dead_letter (
    view         regclass NOT NULL,        -- the view (its result table)
    stream       regclass NOT NULL,        -- the stream the event is in
    event        jsonb NOT NULL,           -- the event's columns
    error        text NOT NULL,            -- the message its evaluation failed with
    error_code   text NOT NULL,            -- its SQLSTATE
    error_detail text,
    error_hint   text,
    error_context text,
    failed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON stream_ext.dead_letter (view);
COMMENT ON TABLE stream_ext.dead_letter IS 'stream_ext: events continuous views skipped (on_error => ''skip'')';
SELECT pg_catalog.pg_extension_config_dump('stream_ext.dead_letter', '');

CREATE FUNCTION stream_ext.set_segment_size(stream regclass, size text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_set_segment_size';
COMMENT ON FUNCTION stream_ext.set_segment_size(regclass, text) IS
    'sets the size (e.g. ''64MB'') at which a stream''s current segment is retired for the next; NULL: stream_ext.segment_size';

-- What the views of a stream have still to consume, counted in one scan
-- of the stream whatever the number of views: a row per view, with the
-- events its progress has not seen and how long the oldest of them has
-- waited (by its arrival time, or else since the view's last batch); then
-- a row with view NULL for the stream itself, with what the view furthest
-- behind has to consume.  events_stored: the events the stream holds.
-- The counts are NULL when the caller cannot read the stream.
CREATE FUNCTION stream_ext.backlog(stream regclass,
                                   OUT view regclass, OUT events_waiting bigint,
                                   OUT lag interval, OUT events_stored bigint)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    arrival name;
    views regclass[];
    progress pg_snapshot[];
    since timestamptz[];
    waiting bigint[];
    oldest timestamptz[];
    waiting_sql text := '';
    oldest_sql text := '';
    stored bigint;
    readable boolean;
BEGIN
    SELECT s.arrival_column INTO arrival FROM stream_ext.stream s WHERE s.relid = backlog.stream;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(c.result ORDER BY c.result), '{}'),
           coalesce(array_agg(c.progress ORDER BY c.result), '{}'),
           coalesce(array_agg(coalesce(c.last_batch_at, c.created_at) ORDER BY c.result), '{}')
      INTO views, progress, since
      FROM stream_ext.continuous_view c WHERE c.stream = backlog.stream;
    readable := has_table_privilege(backlog.stream, 'SELECT');
    IF readable THEN
        FOR i IN 1 .. cardinality(views) LOOP
            waiting_sql := waiting_sql || CASE WHEN i > 1 THEN ', ' ELSE '' END
                || format('count(*) FILTER (WHERE NOT stream_ext.seen(stream_ext_tx, $1[%s]))', i);
            oldest_sql := oldest_sql || CASE WHEN i > 1 THEN ', ' ELSE '' END
                || CASE WHEN arrival IS NULL THEN 'NULL'
                        ELSE format('min(%I) FILTER (WHERE NOT stream_ext.seen(stream_ext_tx, $1[%s]))',
                                    arrival, i) END;
        END LOOP;
        EXECUTE format('SELECT count(*), ARRAY[%s]::bigint[], ARRAY[%s]::timestamptz[] FROM %s',
                       waiting_sql, oldest_sql, backlog.stream)
           INTO stored, waiting, oldest USING progress;
    END IF;
    events_stored := stored;
    FOR i IN 1 .. cardinality(views) LOOP
        view := views[i];
        events_waiting := waiting[i];
        lag := CASE WHEN NOT readable THEN NULL
                    WHEN arrival IS NOT NULL THEN coalesce(now() - oldest[i], interval '0')
                    WHEN waiting[i] > 0 THEN now() - since[i]
                    ELSE interval '0' END;
        RETURN NEXT;
    END LOOP;
    view := NULL;
    IF readable THEN
        SELECT coalesce(max(w), 0) INTO events_waiting FROM unnest(waiting) w;
        lag := CASE WHEN arrival IS NOT NULL THEN coalesce(now() - (SELECT min(o) FROM unnest(oldest) o), interval '0')
                    ELSE coalesce((SELECT max(now() - t) FROM unnest(waiting, since) u(w, t) WHERE w > 0),
                                  interval '0') END;
    ELSE
        events_waiting := NULL;
        lag := NULL;
    END IF;
    RETURN NEXT;
END;
$$;
COMMENT ON FUNCTION stream_ext.backlog(regclass) IS
    'what each view of a stream has still to consume, and (view NULL) the stream: counted in one scan of the stream';

-- events_waiting: what the view furthest behind has still to consume.
CREATE OR REPLACE VIEW stream_ext.streams AS
SELECT s.relid AS stream,
       s.event_time,
       s.arrival_column,
       s.segments,
       s.created_at,
       b.events_waiting,
       s.retention,
       s.system_identifier <> (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc) AS restore_pending,
       COALESCE(s.segment_size,
                pg_catalog.pg_size_bytes(pg_catalog.current_setting('stream_ext.segment_size'))) AS segment_size,
       b.events_stored
  FROM stream_ext.stream s,
       LATERAL stream_ext.backlog(s.relid) b
 WHERE pg_catalog.has_table_privilege(s.relid, 'SELECT') AND b.view IS NULL;
COMMENT ON VIEW stream_ext.streams IS 'stream_ext: streams the current user can read';
DROP FUNCTION stream_ext._events_waiting(regclass);

-- ---------------------------------------------------------------------
-- Continuous views and transforms: the SQL functions in C
-- ---------------------------------------------------------------------

DROP FUNCTION stream_ext._create_continuous_view(text, text, integer, boolean, boolean, text, text,
                                                 text, interval, text, interval, text, interval,
                                                 interval, interval, interval);

-- on_error: a new argument.
DROP FUNCTION stream_ext.create_continuous_view(text, text, integer, boolean, boolean, text, text,
                                                text, interval, text, interval, text, interval,
                                                interval, interval, interval);
CREATE FUNCTION stream_ext.create_continuous_view(name text, query text,
                                                  batch_size integer DEFAULT NULL,
                                                  paused boolean DEFAULT false,
                                                  backfill boolean DEFAULT false,
                                                  notify text DEFAULT NULL,
                                                  emit text DEFAULT 'changes',
                                                  append_to text DEFAULT NULL,
                                                  allowed_lateness interval DEFAULT '0',
                                                  late text DEFAULT 'update',
                                                  max_future interval DEFAULT '1 hour',
                                                  output_stream text DEFAULT NULL,
                                                  sliding interval DEFAULT NULL,
                                                  step interval DEFAULT NULL,
                                                  ttl interval DEFAULT NULL,
                                                  session_gap interval DEFAULT NULL,
                                                  on_error text DEFAULT 'stop')
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_create_continuous_view';
COMMENT ON FUNCTION stream_ext.create_continuous_view(text, text, integer, boolean, boolean, text,
                                                      text, text, interval, text, interval, text,
                                                      interval, interval, interval, interval, text) IS
    'creates a continuous view: a result table kept up to date with the query over the events of a stream';

CREATE OR REPLACE VIEW stream_ext.continuous_views AS
SELECT c.result AS name, c.query, c.stream, c.result AS result_table, c.state,
       c.owner, c.batch_size, c.notify, c.emit, c.append_to, c.output_stream, c.allowed_lateness,
       c.late, c.max_future, c.sliding, c.step, c.ttl, c.session_gap, c.batches, c.last_batch_at, c.last_error,
       c.created_at, c.on_error
  FROM stream_ext.continuous_view c
 WHERE c.kind = 'view' AND pg_catalog.has_table_privilege(c.result, 'SELECT');
GRANT SELECT ON stream_ext.continuous_views TO PUBLIC;

DROP FUNCTION stream_ext._set_view_state(regclass, text);
DROP FUNCTION stream_ext._drop_continuous_view(regclass);
DROP FUNCTION stream_ext._replace_continuous_view(regclass, text);
-- Views by name (view_api.c), resolved with the caller's search_path.
CREATE OR REPLACE FUNCTION stream_ext.pause_continuous_view(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_pause_continuous_view';
COMMENT ON FUNCTION stream_ext.pause_continuous_view(text) IS
    'stops a continuous view''s batches until it is resumed; its events wait in the stream';
CREATE OR REPLACE FUNCTION stream_ext.resume_continuous_view(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_resume_continuous_view';
COMMENT ON FUNCTION stream_ext.resume_continuous_view(text) IS
    'lets a paused continuous view, or one in error, run its batches again';
CREATE OR REPLACE FUNCTION stream_ext.drop_continuous_view(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_drop_continuous_view';
COMMENT ON FUNCTION stream_ext.drop_continuous_view(text) IS
    'drops a continuous view: its result table, its state and its catalog entry';

CREATE OR REPLACE FUNCTION stream_ext.replace_continuous_view(name text, query text)
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_replace_continuous_view';
COMMENT ON FUNCTION stream_ext.replace_continuous_view(text, text) IS
    'gives a continuous view a new query whose results follow from its stored states (keys dropped, aggregates among the old ones)';

DROP FUNCTION stream_ext._create_transform(text, text, regclass, integer, boolean, boolean);
CREATE FUNCTION stream_ext.set_on_error(name text, on_error text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_set_on_error';
COMMENT ON FUNCTION stream_ext.set_on_error(text, text) IS
    'what a continuous view''s batches do with the events its query fails on: stop (the view goes to error) or skip (dead letters)';

-- flush() reports views in error by a warning unless strict.
DROP FUNCTION stream_ext.flush(interval);
CREATE FUNCTION stream_ext.flush(timeout interval DEFAULT '30 s', strict boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_flush';
COMMENT ON FUNCTION stream_ext.flush(interval, boolean) IS
    'returns once every event committed before the call is reflected in every active continuous view; views in error are reported by a warning (an error with strict)';

CREATE OR REPLACE FUNCTION stream_ext.create_transform(name text, query text, target regclass,
                                            batch_size integer DEFAULT NULL,
                                            paused boolean DEFAULT false,
                                            backfill boolean DEFAULT false)
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_create_transform';
-- Transforms by name (view_api.c), resolved with the caller's search_path.
CREATE OR REPLACE FUNCTION stream_ext.drop_transform(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_drop_transform';
COMMENT ON FUNCTION stream_ext.drop_transform(text) IS
    'drops a continuous transform; the rows it wrote stay in its target';
CREATE OR REPLACE FUNCTION stream_ext.pause_transform(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_pause_transform';
COMMENT ON FUNCTION stream_ext.pause_transform(text) IS
    'stops a continuous transform''s batches until it is resumed';
CREATE OR REPLACE FUNCTION stream_ext.resume_transform(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_resume_transform';
COMMENT ON FUNCTION stream_ext.resume_transform(text) IS
    'lets a paused continuous transform, or one in error, run its batches again';
DROP FUNCTION stream_ext._drop_transform(regclass);
DROP FUNCTION stream_ext._transform(regclass);

DROP FUNCTION stream_ext._view_sql(text, text, text);

-- ---------------------------------------------------------------------
-- Streams: create_stream, drop_stream and attach_source in C
-- ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION stream_ext._refuse_modification()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND stream_ext._pruning() OR TG_OP = 'UPDATE' AND stream_ext._rebasing(TG_RELID) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'cannot % stream %', TG_OP,
            format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        USING ERRCODE = 'feature_not_supported',
              DETAIL = 'A stream holds events, which are facts: they can only be appended with INSERT or COPY.',
              HINT = 'Use stream_ext.drop_stream() to remove a stream with its events.';
END;
$$;

-- create_stream's rebuild of the table as a segmented one, run as the
-- caller by create_stream (stream_api.c), which then registers the stream
-- and creates its segments.
CREATE FUNCTION stream_ext._rebuild_stream(stream regclass, event_time name, arrival_column name,
                                           OUT rebuilt regclass, OUT time_column name,
                                           OUT arrival name, OUT storage text[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel         pg_catalog.pg_class;
    nsp         name;
    qname       text;
    oldname     name;
    time_col    name := event_time;
    time_type   regtype;
    nonempty    boolean;
    what        text;
    r           record;
    old_indexes name[];
    new_indexes name[];
    seqstate    record;
    identity_seqs text[] := '{}';
    newrel      regclass;
    col_defs    text := '';
BEGIN
    IF stream IS NULL THEN
        RAISE EXCEPTION 'stream must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    SELECT * INTO rel FROM pg_class WHERE oid = stream;
    nsp := (SELECT nspname FROM pg_namespace WHERE oid = rel.relnamespace);
    qname := format('%I.%I', nsp, rel.relname);

    IF EXISTS (SELECT 1 FROM stream_ext.stream s WHERE s.relid = stream) THEN
        RAISE EXCEPTION 'table % is already a stream', qname
            USING ERRCODE = 'duplicate_object',
                  HINT = 'SELECT * FROM stream_ext.streams lists the streams.';
    END IF;

    CASE rel.relkind
        WHEN 'r' THEN
            NULL;
        WHEN 'p' THEN
            RAISE EXCEPTION 'cannot make partitioned table % a stream', qname
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'stream_ext partitions a stream itself, into segments that background workers consume and prune.',
                      HINT = 'Register a plain table with the same columns.';
        WHEN 'v' THEN
            RAISE EXCEPTION '% is a view, not a table', qname
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'Register the table the events are inserted into; continuous views are created with stream_ext.create_continuous_view().';
        WHEN 'm' THEN
            RAISE EXCEPTION '% is a materialized view, not a table', qname
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'Register the table the events are inserted into; continuous views are created with stream_ext.create_continuous_view().';
        WHEN 'f' THEN
            RAISE EXCEPTION 'cannot make foreign table % a stream', qname
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Events must be stored in this database to be processed exactly once.',
                      HINT = 'Create a local table and load the events into it.';
        ELSE
            RAISE EXCEPTION '% is not a table', qname
                USING ERRCODE = 'wrong_object_type';
    END CASE;

    IF rel.relpersistence = 't' THEN
        RAISE EXCEPTION 'cannot make temporary table % a stream', quote_ident(rel.relname)
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Background workers cannot see temporary tables.',
                  HINT = 'Create the table without TEMPORARY.';
    END IF;
    IF rel.relpersistence = 'u' THEN
        RAISE EXCEPTION 'cannot make unlogged table % a stream', qname
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'An unlogged table is emptied by crash recovery, so committed events would be lost.',
                  HINT = format('Run ALTER TABLE %s SET LOGGED first.', qname);
    END IF;
    IF rel.relispartition OR EXISTS (SELECT 1 FROM pg_inherits
                                      WHERE inhrelid = stream OR inhparent = stream) THEN
        RAISE EXCEPTION 'cannot make table % a stream: it takes part in inheritance or partitioning', qname
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Register a stand-alone table.';
    END IF;
    IF rel.reloftype <> 0 THEN
        RAISE EXCEPTION 'cannot make typed table % a stream', qname
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create the table with explicit columns instead of OF type.';
    END IF;

    IF NOT pg_has_role(current_user, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', qname
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    -- Event time: the user's column, or one added for the arrival time.
    IF event_time IS NOT NULL THEN
        SELECT atttypid INTO time_type FROM pg_attribute
         WHERE attrelid = stream AND attname = event_time
           AND attnum > 0 AND NOT attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', event_time, qname
                USING ERRCODE = 'undefined_column',
                      HINT = 'event_time names the column that holds the time of each event; leave it out to use the arrival time.';
        END IF;
        IF time_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype) THEN
            RAISE EXCEPTION 'event time column "%" has type %', event_time, time_type
                USING ERRCODE = 'datatype_mismatch',
                      DETAIL = 'The event time must be of type timestamp with time zone or timestamp.',
                      HINT = 'Change the column''s type, or leave event_time out to use the arrival time.';
        END IF;
        arrival_column := NULL;
    ELSE
        IF arrival_column IS NULL THEN
            RAISE EXCEPTION 'either event_time or arrival_column must be given'
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = stream AND attname = arrival_column
                      AND attnum > 0 AND NOT attisdropped) THEN
            RAISE EXCEPTION 'table % already has a column "%"', qname, arrival_column
                USING ERRCODE = 'duplicate_column',
                      HINT = format('To use it as the event time, pass event_time => %L; otherwise choose another arrival_column.', arrival_column);
        END IF;
        time_col := arrival_column;
        col_defs := format(', %I timestamptz NOT NULL DEFAULT pg_catalog.now()', arrival_column);
    END IF;

    IF EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = stream AND attname = 'stream_ext_tx'
                  AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'table % has a column named "stream_ext_tx"', qname
            USING ERRCODE = 'duplicate_column',
                  DETAIL = 'stream_ext adds a column of that name to every stream.',
                  HINT = 'Rename the column.';
    END IF;

    -- What a stream cannot have.
    SELECT c.conname INTO what FROM pg_constraint c
     WHERE c.conrelid = stream AND c.contype IN ('p', 'u', 'x') LIMIT 1;
    IF NOT FOUND THEN
        SELECT i.indexrelid::regclass::text INTO what FROM pg_index i
         WHERE i.indrelid = stream AND i.indisunique LIMIT 1;
    END IF;
    IF what IS NOT NULL THEN
        RAISE EXCEPTION 'cannot make table % a stream: it has the unique constraint or index "%"', qname, what
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Uniqueness would have to hold across all events, and events are pruned once processed.',
                  HINT = 'Drop the primary key, unique or exclusion constraint first; a continuous view can group events by key instead.';
    END IF;
    SELECT c.conrelid::regclass::text INTO what FROM pg_constraint c
     WHERE c.confrelid = stream LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make table % a stream: table % has a foreign key to it', qname, what
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the foreign key first.';
    END IF;
    SELECT t.tgname INTO what FROM pg_trigger t
     WHERE t.tgrelid = stream AND NOT t.tgisinternal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make table % a stream: it has trigger "%"', qname, what
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the triggers, register the table, then create them again on the stream.';
    END IF;
    IF rel.relhasrules THEN
        RAISE EXCEPTION 'cannot make table % a stream: it has rules', qname
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the rules first.';
    END IF;
    IF rel.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = stream) THEN
        RAISE EXCEPTION 'cannot make table % a stream: it has row-level security', qname
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Continuous views read every event of a stream as their owner.',
                  HINT = 'Disable row-level security and drop the policies, and filter in the views instead.';
    END IF;
    SELECT pg_describe_object(d.classid, d.objid, d.objsubid) INTO what
      FROM pg_depend d
     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = stream
       AND d.deptype = 'n'
       AND NOT (d.classid = 'pg_constraint'::regclass
                AND EXISTS (SELECT 1 FROM pg_constraint c
                             WHERE c.oid = d.objid AND c.conrelid = stream))
       AND NOT (d.classid = 'pg_class'::regclass AND d.objid = stream)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make table % a stream: % depends on it', qname, what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'create_stream rebuilds the table, which would drop dependent objects.',
                  HINT = 'Drop the dependent objects, register the table, then create them again.';
    END IF;
    SELECT pg_describe_object(d.classid, d.objid, d.objsubid) INTO what
      FROM pg_depend d
     WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = rel.reltype
       AND d.deptype = 'n'
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make table % a stream: % depends on its row type', qname, what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'create_stream rebuilds the table, which would drop dependent objects.',
                  HINT = 'Drop the dependent objects, register the table, then create them again.';
    END IF;

    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', qname) INTO nonempty;
    IF nonempty THEN
        RAISE EXCEPTION 'table % is not empty', qname
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'create_stream rebuilds the table as a partitioned table, which PostgreSQL cannot do in place.',
                  HINT = 'Register an empty table, then load the events into the stream.';
    END IF;

    -- Rebuild: move the old table and its index names aside, create the
    -- partitioned table under the original name, carry everything over.
    oldname := left(rel.relname, 40) || '_stream_ext_' || stream::oid;
    SELECT array_agg(c.relname ORDER BY c.oid) INTO old_indexes
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = stream;
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', qname);
    EXECUTE format('ALTER TABLE %s RENAME TO %I', qname, oldname);
    FOR r IN SELECT c.oid, row_number() OVER (ORDER BY c.oid) AS n
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = stream ORDER BY c.oid LOOP
        EXECUTE format('ALTER INDEX %s RENAME TO %I', r.oid::regclass,
                       left(oldname, 40) || '_idx_' || r.n);
    END LOOP;

    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL,'
                   ' stream_ext_tx int8 NOT NULL%s) PARTITION BY RANGE (stream_ext_tx)%s',
                   nsp, rel.relname, nsp, oldname, col_defs,
                   CASE WHEN rel.reltablespace <> 0
                        THEN format(' TABLESPACE %I', (SELECT spcname FROM pg_tablespace
                                                        WHERE oid = rel.reltablespace))
                        ELSE '' END);
    newrel := format('%I.%I', nsp, rel.relname)::regclass;
    -- The tag's default and check, the append-only trigger and the
    -- segments are stream_ext's (segment.c, after this returns).

    -- Index names.
    SELECT array_agg(c.relname ORDER BY c.oid) INTO new_indexes
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = newrel;
    FOR i IN 1 .. coalesce(array_length(old_indexes, 1), 0) LOOP
        IF new_indexes[i] <> old_indexes[i] THEN
            EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', nsp, new_indexes[i], old_indexes[i]);
        END IF;
    END LOOP;

    -- Foreign keys to other tables.
    FOR r IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
              WHERE conrelid = stream AND contype = 'f' ORDER BY oid LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', newrel, r.conname, r.def);
    END LOOP;

    -- Statistics targets.
    FOR r IN SELECT attname, attstattarget FROM pg_attribute
              WHERE attrelid = stream AND attnum > 0 AND NOT attisdropped
                AND attstattarget >= 0 LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS %s',
                       newrel, r.attname, r.attstattarget);
    END LOOP;

    -- Sequences: serial columns keep theirs; identity columns got new ones,
    -- which take the old names and positions.
    FOR r IN SELECT s.oid AS seq, a.attname, d.deptype
               FROM pg_depend d
               JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE d.classid = 'pg_class'::regclass
                AND d.refclassid = 'pg_class'::regclass
                AND d.refobjid = stream AND d.deptype IN ('a', 'i') LOOP
        IF r.deptype = 'a' THEN
            EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', r.seq::regclass, newrel, r.attname);
        ELSE
            EXECUTE format('SELECT last_value, is_called FROM %s', r.seq::regclass) INTO seqstate;
            PERFORM pg_catalog.setval(pg_get_serial_sequence(newrel::text, r.attname),
                                      seqstate.last_value, seqstate.is_called);
            identity_seqs := identity_seqs || ARRAY[r.attname::text, (SELECT relname FROM pg_class WHERE oid = r.seq)::text];
        END IF;
    END LOOP;

    -- Owner, grants, comment.
    IF rel.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('ALTER TABLE %s OWNER TO %I', newrel,
                       (SELECT rolname FROM pg_roles WHERE oid = rel.relowner));
    END IF;
    IF rel.relacl IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON %s FROM %I', newrel,
                       (SELECT rolname FROM pg_roles WHERE oid = rel.relowner));
        FOR r IN SELECT a.privilege_type, a.is_grantable,
                        CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                             ELSE quote_ident((SELECT rolname FROM pg_roles WHERE oid = a.grantee)) END AS grantee
                   FROM aclexplode(rel.relacl) a LOOP
            EXECUTE format('GRANT %s ON %s TO %s%s', r.privilege_type, newrel, r.grantee,
                           CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
    END IF;
    FOR r IN SELECT at.attname, a.privilege_type, a.is_grantable,
                    CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                         ELSE quote_ident((SELECT rolname FROM pg_roles WHERE oid = a.grantee)) END AS grantee
               FROM pg_attribute at, aclexplode(at.attacl) a
              WHERE at.attrelid = stream AND at.attnum > 0 AND at.attacl IS NOT NULL LOOP
        EXECUTE format('GRANT %s (%I) ON %s TO %s%s', r.privilege_type, r.attname, newrel, r.grantee,
                       CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    IF obj_description(stream, 'pg_class') IS NOT NULL THEN
        EXECUTE format('COMMENT ON TABLE %s IS %L', newrel, obj_description(stream, 'pg_class'));
    END IF;

    EXECUTE format('DROP TABLE %I.%I', nsp, oldname);

    -- Identity sequences take the names of the ones just dropped.
    FOR i IN 1 .. coalesce(array_length(identity_seqs, 1), 0) / 2 LOOP
        EXECUTE format('ALTER SEQUENCE %s RENAME TO %I',
                       pg_get_serial_sequence(newrel::text, identity_seqs[2 * i - 1]),
                       identity_seqs[2 * i]);
    END LOOP;

    rebuilt := newrel;
    time_column := time_col;
    arrival := arrival_column;
    storage := rel.reloptions;
END;
$fn$;
COMMENT ON FUNCTION stream_ext._rebuild_stream(regclass, name, name) IS
    'internal: create_stream''s rebuild of an empty table as a segmented one under the same name';

CREATE OR REPLACE FUNCTION stream_ext.create_stream(stream regclass,
                                         event_time name DEFAULT NULL,
                                         arrival_column name DEFAULT 'arrival_time')
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_create_stream';
COMMENT ON FUNCTION stream_ext.create_stream(regclass, name, name) IS
    'registers an empty table as a stream, rebuilding it as a segmented table under the same name';
DROP FUNCTION stream_ext._register_stream(regclass, name, name, integer, text[]);

-- drop_stream's checks, run as the caller by drop_stream (stream_api.c),
-- which then locks the views as the worker does and drops them (true:
-- the stream has views).
CREATE FUNCTION stream_ext._check_drop_stream(stream regclass, "cascade" boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    views text;
    sources text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM stream_ext.stream s WHERE s.relid = stream) THEN
        RAISE EXCEPTION 'table % is not a stream', stream
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'SELECT * FROM stream_ext.streams lists the streams.';
    END IF;
    SELECT string_agg(c.result::text, ', ' ORDER BY c.result::text) INTO views
      FROM stream_ext.continuous_view c WHERE c.stream = _check_drop_stream.stream;
    IF NOT "cascade" THEN
        SELECT string_agg(DISTINCT x.source::text, ', ') INTO sources
          FROM stream_ext.source x WHERE x.stream = _check_drop_stream.stream;
        IF sources IS NOT NULL THEN
            RAISE EXCEPTION 'cannot drop stream % because tables feed it', stream
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = format('Sources: %s.', sources),
                      HINT = 'Detach them with stream_ext.detach_source(), or use stream_ext.drop_stream(stream, cascade => true).';
        END IF;
    END IF;
    IF views IS NOT NULL AND NOT "cascade" THEN
        RAISE EXCEPTION 'cannot drop stream % because continuous views read it', stream
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Continuous views: %s.', views),
                  HINT = 'Drop the views first, or use stream_ext.drop_stream(stream, cascade => true).';
    END IF;
    RETURN views IS NOT NULL;
END;
$$;
COMMENT ON FUNCTION stream_ext._check_drop_stream(regclass, boolean) IS
    'internal: drop_stream''s checks: the table is a stream, and what reads or feeds it may go';

CREATE OR REPLACE FUNCTION stream_ext.drop_stream(stream regclass, "cascade" boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_drop_stream';
COMMENT ON FUNCTION stream_ext.drop_stream(regclass, boolean) IS
    'drops a stream with its events; with cascade, also the continuous views that read it and the triggers of tables that feed it';
DROP FUNCTION stream_ext._lock_views(regclass);

-- attach_source's checks, run as the caller by attach_source (source.c),
-- which records the operations it returns (upper case, once each) and
-- gives the source their triggers.
CREATE FUNCTION stream_ext._check_source(source regclass, stream regclass,
                                         operations text[], operation_column name)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op text;
    st record;
    ops text[] := '{}';
BEGIN
    IF source IS NULL OR stream IS NULL OR operations IS NULL THEN
        RAISE EXCEPTION 'attach_source needs a source, a stream and operations'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT s.* INTO st FROM stream_ext.stream s WHERE s.relid = stream;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not a stream', stream
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Register the table the events go to with stream_ext.create_stream().';
    END IF;
    IF EXISTS (SELECT 1 FROM stream_ext.stream s WHERE s.relid = source) THEN
        RAISE EXCEPTION 'table % is a stream', source
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'A source is an ordinary table; a continuous view reads a stream directly.';
    END IF;
    IF (SELECT relkind FROM pg_class WHERE oid = source) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', source
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'A source is an ordinary or partitioned table.';
    END IF;
    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = source), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', source
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The owner of a table attaches it as a source (it gets triggers).';
    END IF;
    IF cardinality(operations) = 0 OR EXISTS (
           SELECT 1 FROM unnest(operations) o WHERE o IS NULL OR upper(o) NOT IN ('INSERT', 'UPDATE', 'DELETE')) THEN
        RAISE EXCEPTION 'operations must be among INSERT, UPDATE and DELETE'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF operation_column IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pg_attribute a
            WHERE a.attrelid = stream AND a.attname = operation_column AND NOT a.attisdropped
              AND a.atttypid IN ('text'::regtype, 'varchar'::regtype)) THEN
        RAISE EXCEPTION 'stream % has no text column "%"', stream, operation_column
            USING ERRCODE = 'undefined_column',
                  HINT = 'Add a text column to the stream for the operation (INSERT, UPDATE or DELETE).';
    END IF;
    IF operation_column IS NULL AND EXISTS (SELECT 1 FROM unnest(operations) o WHERE upper(o) <> 'INSERT') THEN
        RAISE EXCEPTION 'updates and deletes need an operation column'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass operation_column => the stream''s text column that says INSERT, UPDATE or DELETE.';
    END IF;

    FOREACH op IN ARRAY ARRAY(SELECT DISTINCT upper(o) FROM unnest(operations) o) LOOP
        IF EXISTS (SELECT 1 FROM stream_ext.source x
                    WHERE x.source = _check_source.source AND x.stream = _check_source.stream
                      AND x.operation = op) THEN
            RAISE EXCEPTION '% already feeds % on %', source, stream, op
                USING ERRCODE = 'duplicate_object',
                      HINT = 'stream_ext.detach_source() removes it.';
        END IF;

        ops := ops || op;
    END LOOP;
    RETURN ops;
END;
$$;
COMMENT ON FUNCTION stream_ext._check_source(regclass, regclass, text[], name) IS
    'internal: attach_source''s checks; returns the operations to attach';

CREATE FUNCTION stream_ext._source_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'stream_ext_source_trigger';
COMMENT ON FUNCTION stream_ext._source_trigger() IS
    'internal: the trigger of a source table: inserts each statement''s rows into the streams it feeds';

CREATE OR REPLACE FUNCTION stream_ext.attach_source(source regclass, stream regclass,
                                         operations text[] DEFAULT ARRAY['INSERT'],
                                         operation_column name DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_attach_source';
COMMENT ON FUNCTION stream_ext.attach_source(regclass, regclass, text[], name) IS
    'makes the inserts (and, if asked, updates and deletes) of an ordinary table events of a stream';
CREATE OR REPLACE FUNCTION stream_ext.detach_source(source regclass, stream regclass DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM stream_ext.source x
                    WHERE x.source = detach_source.source
                      AND (detach_source.stream IS NULL OR x.stream = detach_source.stream)) THEN
        RAISE EXCEPTION 'table % feeds no stream%', source,
                        coalesce(' ' || detach_source.stream::text, '')
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT * FROM stream_ext.source lists the sources.';
    END IF;
    -- Dropping a trigger (which the owner of the source may) makes the
    -- event trigger delete its catalog row.
    FOR t IN SELECT x.trigger FROM stream_ext.source x
              WHERE x.source = detach_source.source
                AND (detach_source.stream IS NULL OR x.stream = detach_source.stream) LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, source);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION stream_ext.detach_source(regclass, regclass) IS
    'stops a table''s writes from feeding a stream (all its streams when stream is NULL)';

CREATE OR REPLACE FUNCTION stream_ext._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    what text;
BEGIN
    -- A segment goes only with its stream.
    SELECT d.object_identity INTO what
      FROM pg_event_trigger_dropped_objects() d
      JOIN stream_ext.segment g ON g.partition::oid = d.objid
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND NOT EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() p
                        WHERE p.classid = 'pg_class'::regclass AND p.objsubid = 0
                          AND p.objid = g.stream::oid)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot drop % on its own', what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'It is a segment of a stream and holds its events.',
                  HINT = 'Use stream_ext.drop_stream() to drop the stream with its segments.';
    END IF;

    -- Nor can a stream's event-time column go.
    SELECT d.object_identity INTO what
      FROM pg_event_trigger_dropped_objects() d
      JOIN stream_ext.stream s ON s.relid::oid = d.objid
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid <> 0
       AND d.address_names[3] = s.event_time
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot drop column %', what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'It is the event time of a stream.',
                  HINT = 'Drop the stream with stream_ext.drop_stream() instead.';
    END IF;

    DELETE FROM stream_ext.source x
     USING pg_event_trigger_dropped_objects() d
     WHERE (d.classid = 'pg_trigger'::regclass
            AND d.object_identity = quote_ident(x.trigger) || ' on ' || x.source::text)
        OR (d.classid = 'pg_class'::regclass AND d.objsubid = 0
            AND d.objid IN (x.source::oid, x.stream::oid));

    DELETE FROM stream_ext.continuous_view v
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND v.result::oid = d.objid;

    -- A dropped view's dead letters go with it; a dropped stream's too.
    DELETE FROM stream_ext.dead_letter x
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND d.objid IN (x.view::oid, x.stream::oid);

    DELETE FROM stream_ext.stream s
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND s.relid::oid = d.objid;
END;
$$;

CREATE OR REPLACE FUNCTION stream_ext._release_user_objects()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.result, c.kind, c.state_table, k.relkind
               FROM stream_ext.continuous_view c JOIN pg_class k ON k.oid = c.result LOOP
        IF r.kind = 'view' AND r.relkind = 'v' THEN
            EXECUTE format('DROP VIEW %s', r.result);
        ELSIF r.kind = 'view' THEN
            EXECUTE format('DROP TRIGGER IF EXISTS stream_ext_guard ON %s', r.result);
        END IF;
    END LOOP;
    FOR r IN SELECT c.state_table FROM stream_ext.continuous_view c
              WHERE c.state_table IS NOT NULL AND to_regclass(c.state_table::text) IS NOT NULL LOOP
        EXECUTE format('DROP TABLE %s', r.state_table);
    END LOOP;
    FOR r IN SELECT x.trigger, x.source FROM stream_ext.source x LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.trigger, r.source);
    END LOOP;
    FOR r IN SELECT g.partition, n.nspname, g.stream FROM stream_ext.segment g
               JOIN pg_class c ON c.oid = g.stream JOIN pg_namespace n ON n.oid = c.relnamespace LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS stream_ext_append_only ON %s', r.partition);
        EXECUTE format('ALTER TABLE %s SET SCHEMA %I', r.partition, r.nspname);
    END LOOP;
    FOR r IN SELECT s.relid FROM stream_ext.stream s LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN stream_ext_tx DROP DEFAULT', r.relid);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS stream_ext_tx_check', r.relid);
        EXECUTE format('DROP TRIGGER IF EXISTS stream_ext_append_only ON %s', r.relid);
    END LOOP;
END;
$$;
DROP FUNCTION stream_ext._create_source_function(regclass, regclass, text, text);

-- ---------------------------------------------------------------------
-- Monitoring: the whole error of a view in error
-- ---------------------------------------------------------------------

DROP VIEW stream_ext.stats;
CREATE VIEW stream_ext.stats AS
SELECT c.result AS view,
       c.stream,
       CASE WHEN s.system_identifier <> (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc) THEN 'restoring'
            ELSE c.state END AS state,
       c.batches,
       c.events AS events_processed,
       c.rows_written,
       c.notifications AS notifications_sent,
       c.notifications_skipped,
       c.max_event_time,
       c.watermark,
       c.late_events,
       c.windows_closed,
       c.corrections,
       c.last_batch_at,
       b.events_waiting,
       extract(epoch FROM b.lag)::float8 AS lag_seconds,
       c.retries AS transient_errors,
       c.last_error,
       c.last_error_code,
       c.last_error_detail,
       c.last_error_hint,
       c.last_error_context,
       c.last_error_at,
       stream_ext.worker_state() AS worker,
       c.events_skipped
  FROM stream_ext.stream s,
       LATERAL stream_ext.backlog(s.relid) b
       JOIN stream_ext.continuous_view c ON c.result = b.view
 WHERE pg_catalog.has_table_privilege(c.result, 'SELECT');
COMMENT ON VIEW stream_ext.stats IS
    'stream_ext: per continuous view, what its batches did and what waits for it; counters are kept with the results and survive restarts';
GRANT SELECT ON stream_ext.stats TO PUBLIC;
DROP FUNCTION stream_ext._view_backlog(regclass);

-- The events views skipped, to whoever may read the view and the stream.
CREATE VIEW stream_ext.dead_letters AS
SELECT d.view, d.stream, d.event, d.error, d.error_code, d.error_detail, d.error_hint,
       d.error_context, d.failed_at
  FROM stream_ext.dead_letter d
 WHERE pg_catalog.has_table_privilege(d.view, 'SELECT')
   AND pg_catalog.has_table_privilege(d.stream, 'SELECT');
COMMENT ON VIEW stream_ext.dead_letters IS
    'stream_ext: events continuous views with on_error => ''skip'' left out, with the error their query failed with';
GRANT SELECT ON stream_ext.dead_letters TO PUBLIC;

-- ---------------------------------------------------------------------
-- This cluster's system identifier, read from pg_control_system()
-- ---------------------------------------------------------------------

ALTER TABLE stream_ext.stream
    ALTER COLUMN system_identifier SET DEFAULT (pg_catalog.pg_control_system()).system_identifier;
CREATE OR REPLACE FUNCTION stream_ext._rebasing(stream regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT current_setting('stream_ext.restoring') = 'on'
       AND EXISTS (SELECT 1 FROM stream_ext.stream s
                    WHERE s.relid = stream
                      AND s.system_identifier <> (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc))
$$;
CREATE OR REPLACE FUNCTION stream_ext._rebase_stream(rel regclass, OUT events bigint, OUT views integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET stream_ext.restoring = on
AS $$
DECLARE
    bounds int8[];
    room   int8;
BEGIN
    -- Writers are refused and batches and pruning skip the stream until it
    -- is rebased; the locks keep a late pg_restore COPY or DDL out.
    EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', rel);
    PERFORM 1 FROM stream_ext.stream s WHERE s.relid = rel FOR UPDATE;
    SELECT count(*) INTO views
      FROM (SELECT 1 FROM stream_ext.continuous_view c WHERE c.stream = rel FOR UPDATE) v;

    -- (None for a stream without views and retired segments: every event
    -- is then one not yet consumed.)
    SELECT coalesce(array_agg(b.x::text::int8 ORDER BY b.x), '{}') INTO bounds
      FROM (SELECT pg_snapshot_xmin(c.progress) FROM stream_ext.continuous_view c WHERE c.stream = rel
            UNION
            SELECT pg_snapshot_xmax(c.progress) FROM stream_ext.continuous_view c WHERE c.stream = rel
            UNION
            SELECT pg_snapshot_xip(c.progress) FROM stream_ext.continuous_view c WHERE c.stream = rel
            UNION
            SELECT g.retired_before FROM stream_ext.segment g
             WHERE g.stream = rel AND g.retired_before IS NOT NULL) b(x);

    -- The new ids must all be below every snapshot from now on.
    room := pg_snapshot_xmin(pg_current_snapshot())::text::int8;
    IF 3 + 2 * cardinality(bounds) >= room THEN
        RAISE EXCEPTION 'too few transaction ids below the oldest running transaction to rebase stream %', rel
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The renumbering needs %s ids, the oldest running transaction is %s.',
                                  3 + 2 * cardinality(bounds), room),
                  HINT = 'End long-running transactions, run a few more, and try again.';
    END IF;

    EXECUTE format('UPDATE %s SET stream_ext_tx = stream_ext._rebase_tag(stream_ext_tx, $1)', rel)
      USING bounds;
    GET DIAGNOSTICS events = ROW_COUNT;
    UPDATE stream_ext.continuous_view c
       SET progress = stream_ext._rebase_snapshot(c.progress, bounds)
     WHERE c.stream = rel;
    UPDATE stream_ext.segment g
       SET retired_before = stream_ext._rebase_xid(g.retired_before::text::int8, bounds)::text::xid8
     WHERE g.stream = rel AND g.retired_before IS NOT NULL;
    UPDATE stream_ext.stream s SET system_identifier = (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc)
     WHERE s.relid = rel;
END;
$$;
CREATE OR REPLACE FUNCTION stream_ext.finish_restore()
RETURNS TABLE (stream regclass, events bigint, views integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel regclass;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'permission denied to finish a restore'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Renumbering the events of restored streams needs a superuser, as restoring them does.',
                  HINT = 'Run it as the superuser that ran pg_restore.';
    END IF;
    FOR rel IN SELECT s.relid FROM stream_ext.stream s
                WHERE s.system_identifier <> (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc)
                ORDER BY s.relid LOOP
        stream := rel;
        SELECT r.events, r.views INTO events, views FROM stream_ext._rebase_stream(rel) r;
        RETURN NEXT;
    END LOOP;
END;
$$;
DROP FUNCTION stream_ext._system_identifier();

-- ---------------------------------------------------------------------
-- Each view's tables and definition (upgrade.c)
-- ---------------------------------------------------------------------

-- The catalog keeps a view's definition, from which the worker generates
-- its part of the batch statement, instead of that part: the update
-- resolves each view's query into its definition.
ALTER TABLE stream_ext.continuous_view ADD COLUMN definition text;
UPDATE stream_ext.continuous_view SET definition = query;

CREATE FUNCTION stream_ext._upgrade_from_0_1_0()
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_upgrade_from_0_1_0';
SELECT stream_ext._upgrade_from_0_1_0();
DROP FUNCTION stream_ext._upgrade_from_0_1_0();

ALTER TABLE stream_ext.continuous_view
    ALTER COLUMN definition SET NOT NULL,
    DROP COLUMN batch,
    DROP COLUMN columns,
    ADD CONSTRAINT continuous_view_check
    CHECK (state_table IS NULL OR sliding IS NOT NULL);
ALTER TABLE stream_ext.source
    DROP COLUMN function,
    ALTER COLUMN trigger SET NOT NULL,
    ALTER COLUMN owner SET NOT NULL,
    ADD UNIQUE (source, trigger);

COMMENT ON FUNCTION stream_ext._wake_launcher() IS
    'internal: tells the launcher to start this database''s worker';

-- ---------------------------------------------------------------------
-- Internal functions (their names start with "_") are not executable by
-- PUBLIC.  The extension's own SQL functions that need them are written
-- in C and call them through the function manager (privilege.c), or are
-- SECURITY DEFINER; trigger functions fire whatever their EXECUTE
-- privilege; aggregates' support functions are checked against the
-- aggregate's owner.  What a view's batches (run as the view's owner),
-- the monitoring views and hop() evaluate as their caller is built in or
-- public: seen(), covers(), snapshot_before(), hop_windows(), backlog()
-- (test/sql/internal_privileges.sql checks each).
-- ---------------------------------------------------------------------

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'stream_ext'::regnamespace AND p.proname LIKE '\_%'
              ORDER BY p.oid LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

SELECT stream_ext._wake_launcher();
