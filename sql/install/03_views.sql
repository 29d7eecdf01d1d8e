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
    query        text NOT NULL,            -- as the user wrote it
    definition   text NOT NULL,            -- resolved: names qualified, following renames (view_definition.c)
    state_table  regclass CHECK (state_table IS NULL OR sliding IS NOT NULL),  -- a sliding window's steps
    target       regclass CHECK ((target IS NULL) = (kind = 'view')),  -- a transform's rows go here
    part         integer NOT NULL UNIQUE,  -- which names the CTEs of its part of a batch (view_part)
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
    on_error     text NOT NULL DEFAULT 'stop' CHECK (on_error IN ('stop', 'skip')),  -- events its query fails on
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
    events_skipped bigint NOT NULL DEFAULT 0,  -- events its query failed on, kept in dead_letter
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
                                                  session_gap interval DEFAULT NULL,
                                                  on_error text DEFAULT 'stop')
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_create_continuous_view';
COMMENT ON FUNCTION stream_ext.create_continuous_view(text, text, integer, boolean, boolean, text,
                                                      text, text, interval, text, interval, text,
                                                      interval, interval, interval, interval, text) IS
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

CREATE FUNCTION stream_ext.set_on_error(name text, on_error text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_set_on_error';
COMMENT ON FUNCTION stream_ext.set_on_error(text, text) IS
    'what a continuous view''s batches do with the events its query fails on: stop (the view goes to error) or skip (dead letters)';

CREATE FUNCTION stream_ext.flush(timeout interval DEFAULT '30 s', strict boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stream_ext_flush';
COMMENT ON FUNCTION stream_ext.flush(interval, boolean) IS
    'returns once every event committed before the call is reflected in every active continuous view; views in error are reported by a warning (an error with strict)';

CREATE VIEW stream_ext.continuous_views AS
SELECT c.result AS name, c.query, c.stream, c.result AS result_table, c.state,
       c.owner, c.batch_size, c.notify, c.emit, c.append_to, c.output_stream, c.allowed_lateness,
       c.late, c.max_future, c.sliding, c.step, c.ttl, c.session_gap, c.batches, c.last_batch_at, c.last_error,
       c.created_at, c.on_error
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

