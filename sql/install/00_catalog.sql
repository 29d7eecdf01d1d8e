/*
 * stream_ext--0.2.0.sql: streams, continuous views, transforms and their
 * catalog.  Built by the Makefile from the files of sql/install, in the
 * order of their names; edit those.
 */

\echo Use "CREATE EXTENSION stream_ext" to load this file. \quit

-- ---------------------------------------------------------------------
-- Catalog.  Written only by stream_ext's own functions (as the extension
-- owner); readable by everybody, like pg_catalog.
-- ---------------------------------------------------------------------

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
                    DEFAULT (pg_catalog.pg_control_system()).system_identifier,
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

