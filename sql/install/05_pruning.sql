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

