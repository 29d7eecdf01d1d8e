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

CREATE FUNCTION stream_ext.snapshot_before(snapshot pg_snapshot, xid int8)
RETURNS pg_snapshot
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'stream_ext_snapshot_before';
COMMENT ON FUNCTION stream_ext.snapshot_before(pg_snapshot, int8) IS
    'the snapshot limited to the transactions before xid: where a batch of at most batch_size events ends';

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
