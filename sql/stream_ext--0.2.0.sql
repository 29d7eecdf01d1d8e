/* stream_ext--0.2.0.sql: streams, continuous views, transforms and their catalog */

\echo Use "CREATE EXTENSION stream_ext" to load this file. \quit

-- ---------------------------------------------------------------------
-- Catalog.  Written only by stream_ext's own functions (as the extension
-- owner); readable by everybody, like pg_catalog.
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext._system_identifier()
RETURNS int8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_system_identifier';
COMMENT ON FUNCTION stream_ext._system_identifier() IS
    'internal: this cluster''s system identifier (pg_control)';

CREATE TABLE stream_ext.stream (
    relid           regclass PRIMARY KEY,
    event_time      name NOT NULL,          -- column that drives windows
    arrival_column  name,                   -- column stream_ext added for now(), if any
    segments        int NOT NULL,           -- number of segment partitions
    current_slot    int NOT NULL DEFAULT 0, -- slot new transactions write into
    retention       interval CHECK (retention > '0'),  -- keep consumed events this long (set_retention)
    segment_size    int8 CHECK (segment_size >= 8192),  -- bytes at which the current segment is retired
                                            -- (set_segment_size; NULL: stream_ext.segment_size)
    system_identifier int8 NOT NULL         -- cluster whose transaction ids its tags hold (restore.c)
                    DEFAULT stream_ext._system_identifier(),
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stream_ext.stream IS 'stream_ext: registered streams';

CREATE TABLE stream_ext.segment (
    stream      regclass NOT NULL REFERENCES stream_ext.stream ON DELETE CASCADE,
    slot        int NOT NULL,
    partition   regclass NOT NULL,
    retired_before xid8,            -- no longer current: its writers' xids are below this
    kept_until  timestamptz,        -- consumed, kept for the stream's retention until then
    PRIMARY KEY (stream, slot)
);
COMMENT ON TABLE stream_ext.segment IS 'stream_ext: segment partitions of each stream';

SELECT pg_catalog.pg_extension_config_dump('stream_ext.stream', '');
SELECT pg_catalog.pg_extension_config_dump('stream_ext.segment', '');

GRANT USAGE ON SCHEMA stream_ext TO PUBLIC;
GRANT SELECT ON stream_ext.stream, stream_ext.segment TO PUBLIC;

-- ---------------------------------------------------------------------
-- Ingest: the tag column's default and check (ingest.c)
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext.tx(stream regclass)
RETURNS int8
LANGUAGE C STABLE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'stream_ext_tx';
COMMENT ON FUNCTION stream_ext.tx(regclass) IS
    'default of a stream''s stream_ext_tx column: segment slot and top-level transaction id';

-- Not strict: a NULL tag must fail too.
CREATE FUNCTION stream_ext.check_tx(tag int8, stream regclass)
RETURNS boolean
LANGUAGE C STABLE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'stream_ext_check_tx';
COMMENT ON FUNCTION stream_ext.check_tx(int8, regclass) IS
    'check constraint of a stream''s stream_ext_tx column: refuses values not filled in by stream_ext';

-- ---------------------------------------------------------------------
-- Batches (batch.c): which events a snapshot has seen
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext.seen(tag int8, snapshot pg_snapshot)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_seen';
COMMENT ON FUNCTION stream_ext.seen(int8, pg_snapshot) IS
    'whether the transaction of an event (its stream_ext_tx) was committed as seen by the snapshot';

CREATE FUNCTION stream_ext.covers(a pg_snapshot, b pg_snapshot)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_covers';
COMMENT ON FUNCTION stream_ext.covers(pg_snapshot, pg_snapshot) IS
    'whether snapshot a sees every transaction snapshot b sees as committed';

CREATE FUNCTION stream_ext._snapshot_before(snapshot pg_snapshot, xid int8)
RETURNS pg_snapshot
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_snapshot_before';
COMMENT ON FUNCTION stream_ext._snapshot_before(pg_snapshot, int8) IS
    'internal: the snapshot limited to the transactions before xid (where a bounded batch ends)';

-- ---------------------------------------------------------------------
-- Partial aggregation markers (partial.c): the planner hook turns them
-- into aggregate calls that produce or combine transition states.
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext.partial(aggregate_call "any", state_type anyelement)
RETURNS anyelement
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_partial_marker';
COMMENT ON FUNCTION stream_ext.partial("any", anyelement) IS
    'marker: the transition state of the aggregate call it wraps, of type state_type';

CREATE FUNCTION stream_ext.carry(state "any")
RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_carry_marker';
COMMENT ON FUNCTION stream_ext.carry("any") IS
    'marker, as FILTER of an aggregate call: its input is the column of states given';

CREATE FUNCTION stream_ext._detoast(state bytea)
RETURNS bytea
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_detoast';

-- A combined state passed through an aggregation that finalizes others
-- beside it (batch_merge.c): the first non-null state of the group.
CREATE FUNCTION stream_ext._keep_first(state anyelement, value anyelement)
RETURNS anyelement
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_keep_first';
CREATE AGGREGATE stream_ext._keep(anyelement) (
    SFUNC = stream_ext._keep_first,
    STYPE = anyelement,
    COMBINEFUNC = stream_ext._keep_first,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE stream_ext._keep(anyelement) IS
    'internal: the first non-null value of the group, as a state that partial.c passes through';

-- ---------------------------------------------------------------------
-- Windows: [start, end) bins of event time, aligned like date_bin()
-- ---------------------------------------------------------------------

-- Returns slide after checking size and slide; called where it is always
-- evaluated (an argument of generate_series).
CREATE FUNCTION stream_ext._checked_slide(size interval, slide interval)
RETURNS interval
LANGUAGE plpgsql IMMUTABLE STRICT
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
    RETURN slide;
END;
$$;

CREATE FUNCTION stream_ext.tumble(ts timestamptz, size interval,
                                  origin timestamptz DEFAULT '2000-01-01 00:00:00+00')
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.date_bin(size, ts, origin);
COMMENT ON FUNCTION stream_ext.tumble(timestamptz, interval, timestamptz) IS
    'start of the tumbling window of the given size that contains ts, windows aligned on origin';

CREATE FUNCTION stream_ext.tumble(ts timestamp, size interval,
                                  origin timestamp DEFAULT '2000-01-01 00:00:00')
RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.date_bin(size, ts, origin);
COMMENT ON FUNCTION stream_ext.tumble(timestamp, interval, timestamp) IS
    'start of the tumbling window of the given size that contains ts, windows aligned on origin';

-- The pane that holds ts: the bin of the given size aligned on origin, as
-- [window_start, window_end); an infinite ts is its own pane, a NULL one is
-- (NULL, NULL), in no window.  A hopping window's batch aggregates each event once per pane and
-- combines the panes into the windows (batch_partial.c).
CREATE FUNCTION stream_ext._pane(ts timestamptz, pane interval, origin timestamptz,
                                 OUT window_start timestamptz, OUT window_end timestamptz)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT CASE WHEN pg_catalog.isfinite(ts) THEN pg_catalog.date_bin(pane, ts, origin) ELSE ts END,
           CASE WHEN pg_catalog.isfinite(ts)
                THEN pg_catalog.date_bin(pane, ts, origin) OPERATOR(pg_catalog.+) pane ELSE ts END
$$;
COMMENT ON FUNCTION stream_ext._pane(timestamptz, interval, timestamptz) IS
    'internal: the pane of a hopping window that holds ts';

CREATE FUNCTION stream_ext.hop(ts timestamptz, size interval, slide interval,
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
      FROM pg_catalog.generate_series(0, pg_catalog.ceil(
               pg_catalog.date_part('epoch', size)
               OPERATOR(pg_catalog./) pg_catalog.date_part('epoch', stream_ext._checked_slide(size, slide)))::pg_catalog.int4
             OPERATOR(pg_catalog.-) 1) i
     WHERE CASE WHEN pg_catalog.isfinite(ts)
                THEN pg_catalog.date_bin(slide, ts, origin) OPERATOR(pg_catalog.-) (slide OPERATOR(pg_catalog.*) i)
                     OPERATOR(pg_catalog.+) size OPERATOR(pg_catalog.>) ts
                ELSE ts IS NOT NULL AND i OPERATOR(pg_catalog.=) 0 END
$$;
COMMENT ON FUNCTION stream_ext.hop(timestamptz, interval, interval, timestamptz) IS
    'the hopping windows [window_start, window_end) of the given size, starting every slide, that contain ts';

-- ---------------------------------------------------------------------
-- Continuous views (view.c, apply.c, flush.c)
-- ---------------------------------------------------------------------

-- Numbers each view's part of batch statements (view.c); dumped with the
-- catalog, so that restored views keep theirs and new ones do not reuse them.
CREATE SEQUENCE stream_ext.view_part AS integer;
SELECT pg_catalog.pg_extension_config_dump('stream_ext.view_part', '');

CREATE TABLE stream_ext.continuous_view (
    result       regclass PRIMARY KEY,     -- the view is its result table (a transform: its view)
    kind         text NOT NULL DEFAULT 'view' CHECK (kind IN ('view', 'transform')),
    stream       regclass NOT NULL REFERENCES stream_ext.stream ON DELETE CASCADE,
    query        text NOT NULL,
    state_table  regclass CHECK (state_table IS NULL OR sliding IS NOT NULL),  -- a sliding window's steps
    target       regclass CHECK ((target IS NULL) = (kind = 'view')),  -- a transform's rows go here
    batch        text[] NOT NULL,          -- its part of a batch statement (view.c)
    part         integer NOT NULL UNIQUE,  -- which names the CTEs of that part (view_part)
    columns      text[] NOT NULL,          -- the stream columns it reads
    batch_size   integer CHECK (batch_size > 0),  -- NULL: stream_ext.batch_size
    notify       text CHECK (notify <> '' AND octet_length(notify) < 64),  -- channel of changed rows
    emit         text NOT NULL DEFAULT 'changes' CHECK (emit IN ('changes', 'final')),
    append_to    regclass,                 -- table of closed windows
    output_stream regclass,                -- stream each batch's delta is written to
    sliding      interval,                 -- a sliding window over the last this much
    step         interval,                 -- of steps this long (the state's grain)
    ttl          interval,                 -- windows ended this long before the watermark go
    session_gap  interval,                 -- session windows: a longer pause ends a session
    watermarked  boolean NOT NULL DEFAULT false,  -- has an event-time window (window.c)
    allowed_lateness interval NOT NULL DEFAULT '0',
    late         text NOT NULL DEFAULT 'update' CHECK (late IN ('update', 'drop', 'adjust')),
    max_future   interval NOT NULL DEFAULT '1 hour',  -- later event times do not move the watermark
    max_event_time timestamptz,            -- largest event time applied (within max_future)
    watermark    timestamptz,              -- max_event_time - allowed_lateness, never back
    owner        regrole NOT NULL,         -- role the batches run as
    timezone     text NOT NULL,            -- settings captured at creation
    datestyle    text NOT NULL,
    search_path  text NOT NULL,
    state        text NOT NULL DEFAULT 'active'
                 CHECK (state IN ('active', 'paused', 'error')),
    progress     pg_snapshot NOT NULL,     -- events this snapshot sees are applied
    batches      bigint NOT NULL DEFAULT 0,    -- counters, kept with the results
    events       bigint NOT NULL DEFAULT 0,    -- stream events in those batches
    rows_written bigint NOT NULL DEFAULT 0,    -- result rows inserted or updated
    notifications bigint NOT NULL DEFAULT 0,   -- NOTIFY payloads sent (at commit)
    notifications_skipped bigint NOT NULL DEFAULT 0,  -- not sent: queue half full, row too large
    late_events  bigint NOT NULL DEFAULT 0,    -- events for windows already closed
    windows_closed bigint NOT NULL DEFAULT 0,  -- windows emitted when they closed
    corrections  bigint NOT NULL DEFAULT 0,    -- closed windows emitted again, changed
    retries      bigint NOT NULL DEFAULT 0,    -- batches retried after a transient error
    attempts     integer NOT NULL DEFAULT 0,   -- batches begun but not finished
    attempted_at timestamptz,                  -- when the last was begun (a restart since resets)
    last_batch_at timestamptz,
    last_error   text,                     -- message of the error that stopped it
    last_error_code text,                  -- its SQLSTATE
    last_error_detail text,                -- its DETAIL, HINT and CONTEXT
    last_error_hint text,
    last_error_context text,
    last_error_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stream_ext.continuous_view IS 'stream_ext: continuous views';
SELECT pg_catalog.pg_extension_config_dump('stream_ext.continuous_view', '');
GRANT SELECT ON stream_ext.continuous_view TO PUBLIC;

CREATE FUNCTION stream_ext._guard_result()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'stream_ext_guard_result';
COMMENT ON FUNCTION stream_ext._guard_result() IS
    'internal: refuses writes to a continuous view''s tables outside the worker''s batches';

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
                                                  session_gap interval DEFAULT NULL)
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_create_continuous_view';
COMMENT ON FUNCTION stream_ext.create_continuous_view(text, text, integer, boolean, boolean, text,
                                                      text, text, interval, text, interval, text,
                                                      interval, interval, interval, interval) IS
    'creates a continuous view: a result table kept up to date with the query over the events of a stream';

-- Output streams (view.c): the columns of a stream that hold aggregate
-- states, written by continuous views with output_stream, read back with
-- combine() by the views over that stream.
CREATE TABLE stream_ext.state_column (
    stream          regclass NOT NULL REFERENCES stream_ext.stream ON DELETE CASCADE,
    attnum          int2 NOT NULL,          -- the column
    aggregate       regprocedure NOT NULL,  -- whose state it holds
    argument_types  regtype[] NOT NULL,     -- of the aggregate call
    star            boolean NOT NULL,       -- count(*)
    result_type     regtype NOT NULL,       -- the finalized value's type
    input_collation regcollation,
    result_collation regcollation,
    PRIMARY KEY (stream, attnum)
);
COMMENT ON TABLE stream_ext.state_column IS 'stream_ext: stream columns holding aggregate states';
SELECT pg_catalog.pg_extension_config_dump('stream_ext.state_column', '');
GRANT SELECT ON stream_ext.state_column TO PUBLIC;

CREATE FUNCTION stream_ext._combine_outside(state anyelement, value anyelement)
RETURNS anyelement
LANGUAGE C IMMUTABLE
AS 'MODULE_PATHNAME', 'stream_ext_combine_outside';
CREATE AGGREGATE stream_ext.combine(anyelement) (
    SFUNC = stream_ext._combine_outside,
    STYPE = anyelement
);
COMMENT ON AGGREGATE stream_ext.combine(anyelement) IS
    'in a continuous view over an output stream: the aggregate whose states the column holds, combined';

-- Views by name (view_api.c), resolved with the caller's search_path.
CREATE FUNCTION stream_ext.pause_continuous_view(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_pause_continuous_view';
COMMENT ON FUNCTION stream_ext.pause_continuous_view(text) IS
    'stops a continuous view''s batches until it is resumed; its events wait in the stream';
CREATE FUNCTION stream_ext.resume_continuous_view(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_resume_continuous_view';
COMMENT ON FUNCTION stream_ext.resume_continuous_view(text) IS
    'lets a paused continuous view, or one in error, run its batches again';
CREATE FUNCTION stream_ext.drop_continuous_view(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_drop_continuous_view';
COMMENT ON FUNCTION stream_ext.drop_continuous_view(text) IS
    'drops a continuous view: its result table, its state and its catalog entry';

CREATE FUNCTION stream_ext.replace_continuous_view(name text, query text)
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_replace_continuous_view';
COMMENT ON FUNCTION stream_ext.replace_continuous_view(text, text) IS
    'gives a continuous view a new query whose results follow from its stored states (keys dropped, aggregates among the old ones)';

CREATE FUNCTION stream_ext.flush(timeout interval DEFAULT '30 s')
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_flush';
COMMENT ON FUNCTION stream_ext.flush(interval) IS
    'returns once every event committed before the call is reflected in every active continuous view';

CREATE VIEW stream_ext.continuous_views AS
SELECT c.result AS name, c.query, c.stream, c.result AS result_table, c.state,
       c.owner, c.batch_size, c.notify, c.emit, c.append_to, c.output_stream, c.allowed_lateness,
       c.late, c.max_future, c.sliding, c.step, c.ttl, c.session_gap, c.batches, c.last_batch_at, c.last_error,
       c.created_at
  FROM stream_ext.continuous_view c
 WHERE c.kind = 'view' AND pg_catalog.has_table_privilege(c.result, 'SELECT');
GRANT SELECT ON stream_ext.continuous_views TO PUBLIC;

-- ---------------------------------------------------------------------
-- Continuous transforms (view.c): rows of a query without aggregates,
-- written into a table or stream by the worker's batches
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext.create_transform(name text, query text, target regclass,
                                            batch_size integer DEFAULT NULL,
                                            paused boolean DEFAULT false,
                                            backfill boolean DEFAULT false)
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_create_transform';
COMMENT ON FUNCTION stream_ext.create_transform(text, text, regclass, integer, boolean, boolean) IS
    'creates a continuous transform: the rows of a query over a stream''s events, written into a table or stream once per event';

-- Transforms by name (view_api.c), resolved with the caller's search_path.
CREATE FUNCTION stream_ext.drop_transform(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_drop_transform';
COMMENT ON FUNCTION stream_ext.drop_transform(text) IS
    'drops a continuous transform; the rows it wrote stay in its target';
CREATE FUNCTION stream_ext.pause_transform(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_pause_transform';
COMMENT ON FUNCTION stream_ext.pause_transform(text) IS
    'stops a continuous transform''s batches until it is resumed';
CREATE FUNCTION stream_ext.resume_transform(name text)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_resume_transform';
COMMENT ON FUNCTION stream_ext.resume_transform(text) IS
    'lets a paused continuous transform, or one in error, run its batches again';

CREATE VIEW stream_ext.transforms AS
SELECT c.result AS name, c.query, c.stream, c.target, c.state, c.owner, c.batch_size,
       c.batches, c.last_batch_at, c.last_error, c.created_at
  FROM stream_ext.continuous_view c
 WHERE c.kind = 'transform' AND pg_catalog.has_table_privilege(c.result, 'SELECT');
GRANT SELECT ON stream_ext.transforms TO PUBLIC;

CREATE FUNCTION stream_ext._view_sql(query text, result_table text)
RETURNS text
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_view_sql';
COMMENT ON FUNCTION stream_ext._view_sql(text, text) IS
    'internal: checks a continuous view''s query, creates its result table, returns its batch statement';

-- ---------------------------------------------------------------------
-- Streams are append-only
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext._pruning()
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_pruning';
COMMENT ON FUNCTION stream_ext._pruning() IS
    'internal: whether this backend is emptying a consumed segment (prune.c)';

-- Whether finish_restore() is renumbering the tags of this stream, restored
-- from another cluster (restore.c): the only UPDATE a stream takes.
CREATE FUNCTION stream_ext._rebasing(stream regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT current_setting('stream_ext.restoring') = 'on'
       AND EXISTS (SELECT 1 FROM stream_ext.stream s
                    WHERE s.relid = stream
                      AND s.system_identifier <> stream_ext._system_identifier())
$$;

CREATE FUNCTION stream_ext._refuse_modification()
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

-- ---------------------------------------------------------------------
-- create_stream
-- ---------------------------------------------------------------------

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

CREATE FUNCTION stream_ext.create_stream(stream regclass,
                                         event_time name DEFAULT NULL,
                                         arrival_column name DEFAULT 'arrival_time')
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_create_stream';
COMMENT ON FUNCTION stream_ext.create_stream(regclass, name, name) IS
    'registers an empty table as a stream, rebuilding it as a segmented table under the same name';

-- ---------------------------------------------------------------------
-- drop_stream, and keeping the catalog in step with DROP TABLE
-- ---------------------------------------------------------------------

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

CREATE FUNCTION stream_ext.drop_stream(stream regclass, "cascade" boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_drop_stream';
COMMENT ON FUNCTION stream_ext.drop_stream(regclass, boolean) IS
    'drops a stream with its events; with cascade, also the continuous views that read it and the triggers of tables that feed it';

CREATE FUNCTION stream_ext._on_sql_drop()
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
     WHERE (d.classid = 'pg_proc'::regclass AND x.function::oid = d.objid)
        OR (d.classid = 'pg_class'::regclass AND d.objsubid = 0
            AND d.objid IN (x.source::oid, x.stream::oid));

    DELETE FROM stream_ext.continuous_view v
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND v.result::oid = d.objid;

    DELETE FROM stream_ext.stream s
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND s.relid::oid = d.objid;
END;
$$;

-- Before DROP EXTENSION (utility.c): what stream_ext made of the user's
-- tables goes, the tables and their data stay.  Streams become plain
-- partitioned tables (their segments move to the stream's schema; the
-- tag column stays, without its default and check), result tables plain
-- tables, trigger-fed sources plain tables again; state tables and the
-- views that read them (sliding windows) go with the extension.
CREATE FUNCTION stream_ext._release_user_objects()
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
    FOR r IN SELECT t.tgname, t.tgrelid::regclass AS rel FROM pg_trigger t
               JOIN stream_ext.source x ON x.function::oid = t.tgfoid AND x.source::oid = t.tgrelid LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', r.tgname, r.rel);
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

CREATE EVENT TRIGGER stream_ext_sql_drop ON sql_drop
    EXECUTE FUNCTION stream_ext._on_sql_drop();

-- After ALTER TABLE on a stream: its event-time column must still exist
-- under its name, and its segments must still be its partitions.
CREATE FUNCTION stream_ext._on_alter_table()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT s.relid, s.event_time
               FROM pg_event_trigger_ddl_commands() c
               JOIN stream_ext.stream s ON s.relid::oid = c.objid
                 OR s.relid::oid IN (SELECT g.stream::oid FROM stream_ext.segment g
                                      WHERE g.partition::oid = c.objid)
              WHERE c.classid = 'pg_class'::regclass LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = r.relid AND a.attname = r.event_time
                          AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'cannot rename column "%" of stream %', r.event_time, r.relid
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'It is the event time of the stream.';
        END IF;
        IF EXISTS (SELECT 1 FROM stream_ext.segment g
                    WHERE g.stream = r.relid
                      AND NOT EXISTS (SELECT 1 FROM pg_inherits i
                                       WHERE i.inhrelid = g.partition AND i.inhparent = r.relid)) THEN
            RAISE EXCEPTION 'cannot detach a segment of stream %', r.relid
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Segments hold the events of the stream.',
                      HINT = 'Use stream_ext.drop_stream() to drop the stream with its segments.';
        END IF;
    END LOOP;
END;
$$;

CREATE EVENT TRIGGER stream_ext_alter_table ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION stream_ext._on_alter_table();

-- ---------------------------------------------------------------------
-- Pruning (prune.c): segments rotate, consumed ones are truncated
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext.set_retention(stream regclass, retention interval)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_set_retention';
COMMENT ON FUNCTION stream_ext.set_retention(regclass, interval) IS
    'keeps a stream''s consumed events for this long after their event time (NULL: until consumed), for replay and backfill';

CREATE FUNCTION stream_ext.set_segment_size(stream regclass, size text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_set_segment_size';
COMMENT ON FUNCTION stream_ext.set_segment_size(regclass, text) IS
    'sets the size (e.g. ''64MB'') at which a stream''s current segment is retired for the next; NULL: stream_ext.segment_size';

CREATE FUNCTION stream_ext.prune(stream regclass DEFAULT NULL, wait boolean DEFAULT false)
RETURNS integer
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_prune';
COMMENT ON FUNCTION stream_ext.prune(regclass, boolean) IS
    'truncates the consumed segments of a stream (of every stream you own when NULL) and rotates a full one; returns the segments truncated';

-- ---------------------------------------------------------------------
-- Restoring into another cluster (restore.c): the transaction ids held by
-- restored tags, progress and segment bounds, renumbered
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext._rebase_xid(xid int8, bounds int8[])
RETURNS int8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_rebase_xid';
COMMENT ON FUNCTION stream_ext._rebase_xid(int8, int8[]) IS
    'internal: a transaction id renumbered by its place among the sorted bounds';

CREATE FUNCTION stream_ext._rebase_tag(tag int8, bounds int8[])
RETURNS int8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_rebase_tag';
COMMENT ON FUNCTION stream_ext._rebase_tag(int8, int8[]) IS
    'internal: an event''s tag with its transaction id renumbered, its slot kept';

CREATE FUNCTION stream_ext._rebase_snapshot(snapshot pg_snapshot, bounds int8[])
RETURNS pg_snapshot
LANGUAGE sql IMMUTABLE STRICT
AS $$
SELECT (stream_ext._rebase_xid(pg_catalog.pg_snapshot_xmin(snapshot)::pg_catalog.text::pg_catalog.int8, bounds)
        OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||)
        stream_ext._rebase_xid(pg_catalog.pg_snapshot_xmax(snapshot)::pg_catalog.text::pg_catalog.int8, bounds)
        OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||)
        coalesce((SELECT pg_catalog.string_agg(stream_ext._rebase_xid(x::pg_catalog.text::pg_catalog.int8,
                                                                      bounds)::pg_catalog.text,
                                               ',' ORDER BY x)
                    FROM pg_catalog.pg_snapshot_xip(snapshot) x), ''))::pg_catalog.pg_snapshot
$$;
COMMENT ON FUNCTION stream_ext._rebase_snapshot(pg_snapshot, int8[]) IS
    'internal: a progress snapshot with its transaction ids renumbered';

-- One stream: its events, its views' progress and its segment bounds, in
-- the caller's transaction.  stream_ext.restoring lets the UPDATE through
-- the stream's append-only trigger and tag check.
CREATE FUNCTION stream_ext._rebase_stream(rel regclass, OUT events bigint, OUT views integer)
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
    UPDATE stream_ext.stream s SET system_identifier = stream_ext._system_identifier()
     WHERE s.relid = rel;
END;
$$;
REVOKE ALL ON FUNCTION stream_ext._rebase_stream(regclass) FROM PUBLIC;

CREATE FUNCTION stream_ext.finish_restore()
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
                WHERE s.system_identifier <> stream_ext._system_identifier()
                ORDER BY s.relid LOOP
        stream := rel;
        SELECT r.events, r.views INTO events, views FROM stream_ext._rebase_stream(rel) r;
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION stream_ext.finish_restore() IS
    'after pg_restore into another cluster: renumbers the transaction ids the restored streams'' events and views hold, so that processing resumes exactly';

-- ---------------------------------------------------------------------
-- Trigger-fed streams (source.c): an ordinary table's writes as events
-- ---------------------------------------------------------------------

CREATE TABLE stream_ext.source (
    source     regclass NOT NULL,             -- the ordinary table
    stream     regclass NOT NULL REFERENCES stream_ext.stream ON DELETE CASCADE,
    operation  text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    function   regprocedure NOT NULL,         -- its trigger function
    attached_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, stream, operation)
);
COMMENT ON TABLE stream_ext.source IS 'stream_ext: tables whose writes feed a stream';
SELECT pg_catalog.pg_extension_config_dump('stream_ext.source', '');
GRANT SELECT ON stream_ext.source TO PUBLIC;

-- attach_source's checks and trigger bodies, run as the caller by
-- attach_source (source.c), which creates the functions and triggers:
-- {operation, body, operation, body, ...}.
CREATE FUNCTION stream_ext._source_bodies(source regclass, stream regclass,
                                          operations text[], operation_column name)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op text;
    st record;
    targets text[];
    exprs text[];
    c record;
    rowsrc text;
    body text;
    bodies text[] := '{}';
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
                    WHERE x.source = _source_bodies.source AND x.stream = _source_bodies.stream
                      AND x.operation = op) THEN
            RAISE EXCEPTION '% already feeds % on %', source, stream, op
                USING ERRCODE = 'duplicate_object',
                      HINT = 'stream_ext.detach_source() removes it.';
        END IF;

        -- Stream columns named like a column of the source take its value
        -- (the old one for DELETE); old_<column> takes the old value of an
        -- UPDATE; the operation column says which; the rest take defaults.
        targets := ARRAY[]::text[];
        exprs := ARRAY[]::text[];
        FOR c IN
            SELECT a.attname,
                   (SELECT b.attname FROM pg_attribute b
                     WHERE b.attrelid = source AND b.attnum > 0 AND NOT b.attisdropped
                       AND b.attname = a.attname) AS same,
                   (SELECT b.attname FROM pg_attribute b
                     WHERE b.attrelid = source AND b.attnum > 0 AND NOT b.attisdropped
                       AND 'old_' || b.attname = a.attname) AS old
              FROM pg_attribute a
             WHERE a.attrelid = stream AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attname <> 'stream_ext_tx' AND a.attgenerated = ''
             ORDER BY a.attnum
        LOOP
            IF c.attname = operation_column THEN
                targets := targets || quote_ident(c.attname);
                exprs := exprs || quote_literal(op);
            ELSIF c.same IS NOT NULL THEN
                targets := targets || quote_ident(c.attname);
                exprs := exprs || ('n.' || quote_ident(c.same));
            ELSIF c.old IS NOT NULL AND op = 'UPDATE' THEN
                targets := targets || quote_ident(c.attname);
                exprs := exprs || ('o.' || quote_ident(c.old));
            END IF;
        END LOOP;
        IF NOT EXISTS (SELECT 1 FROM unnest(targets) t
                        WHERE operation_column IS NULL OR t <> quote_ident(operation_column)) THEN
            RAISE EXCEPTION 'stream % has no column of table %', stream, source
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Columns are matched by name; give the stream columns named like the source''s.';
        END IF;

        -- The statement's rows, from its transition table(s).  The old and
        -- new rows of an UPDATE are paired by position: PostgreSQL stores
        -- them row by row, in the same order, in the two tables.
        rowsrc := CASE op
            WHEN 'INSERT' THEN 'stream_ext_new n'
            WHEN 'DELETE' THEN 'stream_ext_old n'
            ELSE '(SELECT *, row_number() OVER () AS stream_ext_pos FROM stream_ext_new) n'
                 ' JOIN (SELECT *, row_number() OVER () AS stream_ext_pos FROM stream_ext_old) o'
                 ' USING (stream_ext_pos)' END;
        body := format($body$
BEGIN
    EXECUTE format('INSERT INTO %%s (%s) SELECT %s FROM %s', %s::pg_catalog.regclass);
    RETURN NULL;
END
$body$, replace(replace(array_to_string(targets, ', '), '%', '%%'), '''', ''''''),
        replace(replace(array_to_string(exprs, ', '), '%', '%%'), '''', ''''''),
        rowsrc, stream::oid);

        bodies := bodies || ARRAY[op, body];
    END LOOP;
    RETURN bodies;
END;
$$;
COMMENT ON FUNCTION stream_ext._source_bodies(regclass, regclass, text[], name) IS
    'internal: attach_source''s checks, and the body of the trigger function of each operation';

CREATE FUNCTION stream_ext.attach_source(source regclass, stream regclass,
                                         operations text[] DEFAULT ARRAY['INSERT'],
                                         operation_column name DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_attach_source';
COMMENT ON FUNCTION stream_ext.attach_source(regclass, regclass, text[], name) IS
    'makes the inserts (and, if asked, updates and deletes) of an ordinary table events of a stream';

CREATE FUNCTION stream_ext.detach_source(source regclass, stream regclass DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fn regprocedure;
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
    -- Dropping the function drops its trigger; the event trigger then
    -- deletes the catalog row.  The caller must own the function (it was
    -- created for whoever attached the source) or the source.
    FOR fn IN SELECT x.function FROM stream_ext.source x
               WHERE x.source = detach_source.source
                 AND (detach_source.stream IS NULL OR x.stream = detach_source.stream) LOOP
        FOR t IN SELECT tgname FROM pg_trigger WHERE tgrelid = source AND tgfoid = fn::oid LOOP
            EXECUTE format('DROP TRIGGER %I ON %s', t, source);
        END LOOP;
        EXECUTE format('DROP FUNCTION %s', fn);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION stream_ext.detach_source(regclass, regclass) IS
    'stops a table''s writes from feeding a stream (all its streams when stream is NULL)';

-- ---------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext._events_waiting(stream regclass)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', stream) INTO n;
    RETURN n;
END;
$$;

CREATE VIEW stream_ext.streams AS
SELECT s.relid AS stream,
       s.event_time,
       s.arrival_column,
       s.segments,
       s.created_at,
       stream_ext._events_waiting(s.relid) AS events_waiting,
       s.retention,
       s.system_identifier <> stream_ext._system_identifier() AS restore_pending,
       COALESCE(s.segment_size,
                pg_catalog.pg_size_bytes(pg_catalog.current_setting('stream_ext.segment_size'))) AS segment_size
  FROM stream_ext.stream s
 WHERE pg_catalog.has_table_privilege(s.relid, 'SELECT');
COMMENT ON VIEW stream_ext.streams IS 'stream_ext: streams the current user can read';
GRANT SELECT ON stream_ext.streams TO PUBLIC;

-- What a view has still to consume: the events of its stream its progress
-- has not seen, and how long the oldest of them has waited (by its arrival
-- time, or else since the view's last batch).  NULL when the caller cannot
-- read the stream.
CREATE FUNCTION stream_ext._view_backlog(view regclass,
                                         OUT events_waiting bigint, OUT lag interval)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    SELECT c.stream, c.progress, c.last_batch_at, c.created_at, s.arrival_column
      INTO v
      FROM stream_ext.continuous_view c JOIN stream_ext.stream s ON s.relid = c.stream
     WHERE c.result = view;
    IF NOT FOUND OR NOT has_table_privilege(v.stream, 'SELECT') THEN
        RETURN;
    END IF;
    IF v.arrival_column IS NOT NULL THEN
        EXECUTE format('SELECT count(*), now() - min(%I) FROM %s'
                       ' WHERE NOT stream_ext.seen(stream_ext_tx, $1)',
                       v.arrival_column, v.stream)
           INTO events_waiting, lag USING v.progress;
    ELSE
        EXECUTE format('SELECT count(*) FROM %s WHERE NOT stream_ext.seen(stream_ext_tx, $1)',
                       v.stream)
           INTO events_waiting USING v.progress;
        IF events_waiting > 0 THEN
            lag := now() - coalesce(v.last_batch_at, v.created_at);
        END IF;
    END IF;
    lag := coalesce(lag, interval '0');
END;
$$;

CREATE FUNCTION stream_ext.worker_state()
RETURNS text
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'stream_ext_worker_state';
COMMENT ON FUNCTION stream_ext.worker_state() IS
    'what the worker of the current database is doing: running, starting, waiting (for a free slot, and which setting to raise), restarting, paused or disabled';

CREATE VIEW stream_ext.stats AS
SELECT c.result AS view,
       c.stream,
       CASE WHEN s.system_identifier <> stream_ext._system_identifier() THEN 'restoring'
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
       stream_ext.worker_state() AS worker
  FROM stream_ext.continuous_view c
       JOIN stream_ext.stream s ON s.relid = c.stream,
       LATERAL stream_ext._view_backlog(c.result) b
 WHERE pg_catalog.has_table_privilege(c.result, 'SELECT');
COMMENT ON VIEW stream_ext.stats IS
    'stream_ext: per continuous view, what its batches did and what waits for it; counters are kept with the results and survive restarts';
GRANT SELECT ON stream_ext.stats TO PUBLIC;

CREATE VIEW stream_ext.workers AS
SELECT a.pid,
       a.datname AS database,
       a.backend_type,
       a.backend_start,
       a.state,
       a.query AS activity,
       a.query_start AS activity_start
  FROM pg_catalog.pg_stat_activity a
 WHERE a.backend_type IN ('stream_ext launcher', 'stream_ext worker');
COMMENT ON VIEW stream_ext.workers IS 'stream_ext: the launcher and the per-database workers, with what they run';
GRANT SELECT ON stream_ext.workers TO PUBLIC;

-- ---------------------------------------------------------------------
-- Workers: the launcher starts this database's worker once the
-- extension's creation commits.
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext._wake_launcher()
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_wake_launcher';
COMMENT ON FUNCTION stream_ext._wake_launcher() IS
    'internal: tells the launcher to start this database''s worker';

-- ---------------------------------------------------------------------
-- Internal functions are not executable by PUBLIC.  The extension's own
-- SQL functions that need them are written in C and call them through
-- the function manager (privilege.c); trigger functions fire whatever
-- their EXECUTE privilege; aggregates' support functions are checked
-- against the aggregate's owner.  Executable by all remain only the pure
-- functions that a view's batches (run as the view's owner), the
-- monitoring views and hop() evaluate as their caller: _system_identifier,
-- _snapshot_before, _detoast, _keep, _checked_slide, _pane,
-- _events_waiting and _view_backlog (test/sql/internal_privileges.sql
-- lists them).
-- ---------------------------------------------------------------------

REVOKE ALL ON FUNCTION
    stream_ext._keep_first(anyelement, anyelement),
    stream_ext._guard_result(),
    stream_ext._combine_outside(anyelement, anyelement),
    stream_ext._view_sql(text, text),
    stream_ext._pruning(),
    stream_ext._rebasing(regclass),
    stream_ext._refuse_modification(),
    stream_ext._rebuild_stream(regclass, name, name),
    stream_ext._check_drop_stream(regclass, boolean),
    stream_ext._on_sql_drop(),
    stream_ext._release_user_objects(),
    stream_ext._on_alter_table(),
    stream_ext._rebase_xid(int8, int8[]),
    stream_ext._rebase_tag(int8, int8[]),
    stream_ext._rebase_snapshot(pg_snapshot, int8[]),
    stream_ext._source_bodies(regclass, regclass, text[], name),
    stream_ext._wake_launcher()
  FROM PUBLIC;

SELECT stream_ext._wake_launcher();
