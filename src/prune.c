/*-------------------------------------------------------------------------
 *
 * prune.c
 *	  Bounded storage: a stream's full segment is retired for an empty one,
 *	  and a retired segment is truncated once every continuous view of the
 *	  stream has consumed it.
 *
 * Writers take the stream's current slot from shared memory once per
 * transaction, after their transaction id is assigned (ingest.c).
 * Rotation makes the next slot current in the catalog, commits, and then
 * publishes it in shared memory (StreamSetSlot, at commit).  A retired
 * segment gets its bound N, retired_before, only in a later pass that
 * finds shared memory agreeing with the catalog: N is the next
 * transaction id at that moment, so every transaction that read the old
 * slot, which it did before the new one was published and after getting
 * its id, has an id below N.  Once every view's progress has an xmin of N
 * or more, all of those transactions are over and their events applied,
 * and the segment holds nothing anyone needs: it is truncated.  (After a
 * crash, shared memory is loaded from the catalog, so it agrees; a pass
 * that finds it stale, e.g. after the rotating backend was terminated
 * between commit and publishing, publishes the catalog's slot itself.)
 *
 * TRUNCATE locks only the segment, and only if the lock is free at once
 * (ConditionalLockRelationOid): writers of the current segment never
 * wait for pruning, and a reader of the stream (a user's query, a batch)
 * only makes it wait for the next pass.  Only a stream with continuous
 * views rotates; a paused or failed view keeps its unconsumed events; a
 * stream without views keeps everything (what a backfilled view would
 * read).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/xid8.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "access/table.h"

#include "stream_ext.h"

/* Whether this backend is truncating a segment (see _refuse_modification). */
static bool pruning = false;

/* Slots to publish when the transaction that made them current commits. */
typedef struct PendingSlot
{
	Oid			relid;
	int			slot;
} PendingSlot;

static List *pending_slots = NIL;
static bool callback_registered = false;

static int	PruneStream(Oid relid, bool wait);
static Oid	OwnedStream(FunctionCallInfo fcinfo, const char *fname);
static BlockNumber SegmentBlocks(Oid partition);
static bool Retained(Oid relid, Oid partition, const char *event_time);
static bool TruncateSegment(Oid partition, bool wait);
static void PublishAtCommit(Oid relid, int slot);
static void PublishSlots(XactEvent event, void *arg);

PG_FUNCTION_INFO_V1(stream_ext_pruning);
PG_FUNCTION_INFO_V1(stream_ext_prune);
PG_FUNCTION_INFO_V1(stream_ext_set_retention);
PG_FUNCTION_INFO_V1(stream_ext_set_segment_size);

Datum
stream_ext_pruning(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(pruning);
}

/*
 * stream_ext_prune(stream regclass, wait boolean) prunes a stream the
 * caller owns, or every stream the caller owns when stream is NULL, and
 * returns the number of segments truncated.  With wait, it waits for the
 * locks of consumed segments instead of leaving them for later.
 */
Datum
stream_ext_prune(PG_FUNCTION_ARGS)
{
	bool		wait = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	List	   *streams = NIL;
	ListCell   *lc;
	int			truncated = 0;

	StreamCheckVersion();
	if (!PG_ARGISNULL(0))
	{
		Oid			relid = PG_GETARG_OID(0);

		if (!RelationIsStream(relid))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a stream", get_rel_name(relid)),
					 errhint("SELECT * FROM stream_ext.streams lists the streams.")));
		StreamCheckOwner(relid);
		streams = list_make1_oid(relid);
	}
	else
	{
		SPI_connect();
		if (SPI_execute("SELECT relid::pg_catalog.oid FROM stream_ext.stream"
						" WHERE pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class"
						"                               WHERE oid = relid), 'USAGE')"
						" ORDER BY relid", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list streams");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			MemoryContext old = MemoryContextSwitchTo(CurTransactionContext);

			streams = lappend_oid(streams,
								  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																 SPI_tuptable->tupdesc, 1, &isnull)));
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}

	foreach(lc, streams)
		truncated += PruneStream(lfirst_oid(lc), wait);
	PG_RETURN_INT32(truncated);
}

/*
 * StreamPruneStreams prunes every stream of the database that has
 * continuous views, each in a transaction of its own; a failure is logged
 * and left for the next pass.  It tells whether a retired segment is
 * still waiting to be truncated.
 */
bool
StreamPruneStreams(void)
{
	List	   *volatile streams = NIL;
	ListCell   *lc;
	volatile bool waiting = false;
	MemoryContext cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT s.relid::pg_catalog.oid FROM stream_ext.stream s"
					" WHERE EXISTS (SELECT 1 FROM stream_ext.continuous_view c WHERE c.stream = s.relid)"
					" ORDER BY s.relid", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list streams");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		streams = lappend_oid(streams,
							  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc, 1, &isnull)));
		MemoryContextSwitchTo(old);
	}
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();

	foreach(lc, streams)
	{
		Oid			relid = lfirst_oid(lc);
		ResourceOwner owner = CurrentResourceOwner;

		CHECK_FOR_INTERRUPTS();
		PG_TRY();
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			pgstat_report_activity(STATE_RUNNING, "stream_ext: pruning segments");
			(void) PruneStream(relid, false);
			PopActiveSnapshot();
			CommitTransactionCommand();

			/* Anything retired and not yet truncated? */
			StartTransactionCommand();
			SPI_connect();
			PushActiveSnapshot(GetTransactionSnapshot());
			if (SPI_execute(psprintf("SELECT 1 FROM stream_ext.segment WHERE stream = %u"
									 " AND retired_before IS NOT NULL", relid),
							true, 1) == SPI_OK_SELECT && SPI_processed > 0)
				waiting = true;
			PopActiveSnapshot();
			SPI_finish();
			CommitTransactionCommand();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			edata = StreamRecoverFromError(cxt, owner);
			pruning = false;
			ereport(LOG,
					(errmsg("stream_ext: could not prune stream %u: %s", relid, edata->message)));
			FreeErrorData(edata);
		}
		PG_END_TRY();
	}
	list_free(streams);
	return waiting;
}

/*
 * PruneStream does one pass over a stream's segments in the current
 * transaction (see the top of the file) and returns how many it
 * truncated.
 */
static int
PruneStream(Oid relid, bool wait)
{
	Oid			argtypes[2] = {OIDOID, XID8OID};
	Datum		values[2];
	int64		segment_bytes;
	int			current;
	int			segments;
	int			published;
	int			truncated = 0;
	bool		has_views;
	int			nsegs;
	Oid		   *partitions;
	bool	   *retired;
	bool	   *consumed;
	bool		retains;
	char	   *event_time;

	/*
	 * The stream's table before its catalog row, in the order DROP TABLE
	 * takes them (its sql_drop trigger then deletes the row); a stream
	 * dropped meanwhile is skipped.
	 */
	LockRelationOid(relid, AccessShareLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return 0;

	SPI_connect();
	values[0] = ObjectIdGetDatum(relid);

	/*
	 * The stream's row, locked: one pass at a time per stream.  A stream
	 * restored from another cluster and not rebased yet is left alone: its
	 * bounds are ids of that cluster (restore.c).
	 */
	if (SPI_execute_with_args("SELECT current_slot, segments,"
							  "       EXISTS (SELECT 1 FROM stream_ext.continuous_view c WHERE c.stream = s.relid),"
							  "       retention IS NOT NULL, event_time::pg_catalog.text,"
							  "       COALESCE(segment_size, $2)"
							  "  FROM stream_ext.stream s WHERE relid = $1::pg_catalog.oid"
							  "   AND system_identifier = $3 FOR UPDATE",
							  3, (Oid[]) {OIDOID, INT8OID, INT8OID},
							  (Datum[]) {values[0], Int64GetDatum((int64) stream_ext_segment_size * 1024),
							  Int64GetDatum((int64) GetSystemIdentifier())},
							  NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read stream %u", relid);
	if (SPI_processed != 1)
	{
		SPI_finish();
		return 0;
	}
	{
		bool		isnull;

		current = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		segments = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		has_views = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		retains = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
		event_time = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
		segment_bytes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));
	}

	/* Shared memory must hold the catalog's slot before N is taken. */
	published = StreamPeekSlot(relid);
	if (published >= 0 && published != current)
		StreamSetSlot(relid, current);

	/*
	 * Retired segments: give each its bound N, then truncate those every
	 * view has consumed.
	 */
	values[1] = FullTransactionIdGetDatum(ReadNextFullTransactionId());
	if (SPI_execute_with_args("UPDATE stream_ext.segment g SET retired_before = $2"
							  "  FROM stream_ext.stream s"
							  " WHERE g.stream = $1::pg_catalog.oid AND s.relid = g.stream"
							  "   AND g.slot <> s.current_slot AND g.retired_before IS NULL"
							  "   AND pg_catalog.pg_relation_size(g.partition) > 0",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not retire the segments of stream %u", relid);

	if (SPI_execute_with_args("SELECT g.partition::pg_catalog.oid, g.retired_before IS NOT NULL,"
							  "       g.retired_before IS NOT NULL AND EXISTS ("
							  "         SELECT 1 FROM stream_ext.continuous_view c WHERE c.stream = g.stream)"
							  "       AND NOT EXISTS ("
							  "         SELECT 1 FROM stream_ext.continuous_view c WHERE c.stream = g.stream"
							  "            AND pg_catalog.pg_snapshot_xmin(c.progress) < g.retired_before)"
							  "  FROM stream_ext.segment g WHERE g.stream = $1::pg_catalog.oid"
							  " ORDER BY g.slot",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the segments of stream %u", relid);
	nsegs = SPI_processed;
	partitions = palloc(sizeof(Oid) * nsegs);
	retired = palloc(sizeof(bool) * nsegs);
	consumed = palloc(sizeof(bool) * nsegs);
	for (int i = 0; i < nsegs; i++)
	{
		bool		isnull;

		partitions[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		retired[i] = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		consumed[i] = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
	}
	for (int i = 0; i < nsegs; i++)
	{
		if (!consumed[i] || (retains && Retained(relid, partitions[i], event_time)) ||
			!TruncateSegment(partitions[i], wait))
			continue;
		values[1] = ObjectIdGetDatum(partitions[i]);
		argtypes[1] = OIDOID;
		if (SPI_execute_with_args("UPDATE stream_ext.segment SET retired_before = NULL, kept_until = NULL"
								  " WHERE stream = $1::pg_catalog.oid AND partition = $2::pg_catalog.oid",
								  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record the truncation of segment %u", partitions[i]);
		retired[i] = false;
		truncated++;
		StreamInjectionPoint("prune-truncated");
	}

	/*
	 * Rotation: a full current segment of a stream with views is retired
	 * for the next slot, if that one is empty and not waiting.
	 */
	if (has_views && nsegs == segments && segments > 1 &&
		(uint64) SegmentBlocks(partitions[current]) * BLCKSZ >= (uint64) segment_bytes)
	{
		int			next = (current + 1) % segments;

		if (!retired[next] && SegmentBlocks(partitions[next]) == 0)
		{
			argtypes[1] = INT4OID;
			values[1] = Int32GetDatum(next);
			if (SPI_execute_with_args("UPDATE stream_ext.stream SET current_slot = $2"
									  " WHERE relid = $1::pg_catalog.oid",
									  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not rotate the segments of stream %u", relid);
			PublishAtCommit(relid, next);
		}
	}

	SPI_finish();
	return truncated;
}

/*
 * OwnedStream returns the stream that is the first argument of the SQL
 * function fname, after checking that it is one and the caller owns it.
 */
static Oid
OwnedStream(FunctionCallInfo fcinfo, const char *fname)
{
	Oid			relid;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s needs a stream", fname)));
	relid = PG_GETARG_OID(0);
	if (!RelationIsStream(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a stream", get_rel_name(relid) ? get_rel_name(relid) : "?"),
				 errhint("SELECT * FROM stream_ext.streams lists the streams.")));
	StreamCheckOwner(relid);
	return relid;
}

/*
 * stream_ext_set_retention sets how long a stream keeps consumed events
 * (NULL: until every view has consumed them), for its owner.
 */
Datum
stream_ext_set_retention(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Interval   *retention = PG_ARGISNULL(1) ? NULL : PG_GETARG_INTERVAL_P(1);
	Interval	zero = {0, 0, 0};
	Oid			argtypes[2] = {OIDOID, INTERVALOID};
	Datum		values[2];
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	StreamCheckVersion();
	relid = OwnedStream(fcinfo, "set_retention");
	if (retention != NULL &&
		DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(retention),
										  IntervalPGetDatum(&zero))) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention must be positive"),
				 errhint("NULL keeps events only until every continuous view has consumed them.")));

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	values[0] = ObjectIdGetDatum(relid);
	values[1] = retention ? IntervalPGetDatum(retention) : (Datum) 0;
	if (SPI_execute_with_args("WITH s AS (UPDATE stream_ext.stream SET retention = $2"
							  "  WHERE relid = $1::pg_catalog.oid RETURNING 1)"
							  " UPDATE stream_ext.segment SET kept_until = NULL"
							  "  WHERE stream = $1::pg_catalog.oid AND EXISTS (SELECT 1 FROM s)",
							  2, argtypes, values, retention ? "  " : " n", false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not set the retention of stream %u", relid);
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
	PG_RETURN_VOID();
}

/*
 * stream_ext_set_segment_size sets the size at which a stream's current
 * segment is retired for the next (NULL: stream_ext.segment_size), for its
 * owner.  Whoever prunes the stream, the worker or prune() in any session,
 * goes by it.
 */
Datum
stream_ext_set_segment_size(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		bytes = 0;
	Datum		values[2];
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	StreamCheckVersion();
	relid = OwnedStream(fcinfo, "set_segment_size");
	if (!PG_ARGISNULL(1))
	{
		bytes = DatumGetInt64(DirectFunctionCall1(pg_size_bytes, PG_GETARG_DATUM(1)));
		if (bytes < BLCKSZ || bytes > (int64) (INT_MAX / 2) * 1024)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("segment size must be between %d bytes and %d kB", BLCKSZ, INT_MAX / 2),
					 errhint("NULL uses stream_ext.segment_size.")));
	}

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(bytes);
	if (SPI_execute_with_args("UPDATE stream_ext.stream SET segment_size = $2 WHERE relid = $1::pg_catalog.oid",
							  2, (Oid[]) {OIDOID, INT8OID}, values, PG_ARGISNULL(1) ? " n" : "  ",
							  false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not set the segment size of stream %u", relid);
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
	PG_RETURN_VOID();
}

/*
 * Retained tells whether a consumed segment of a stream with a retention
 * must still be kept: until the retention has passed since the latest
 * event time in it.  A consumed segment receives no more events (every
 * transaction that could write into it is over), so that time is read
 * once and kept in the catalog.
 */
static bool
Retained(Oid relid, Oid partition, const char *event_time)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(relid), ObjectIdGetDatum(partition)};
	bool		isnull;
	bool		kept;

	if (SPI_execute_with_args(psprintf("UPDATE stream_ext.segment g"
									   "   SET kept_until = COALESCE(g.kept_until,"
									   "       (SELECT pg_catalog.max(%s)::pg_catalog.timestamptz FROM %s) + s.retention,"
									   "       '-infinity')"
									   "  FROM stream_ext.stream s"
									   " WHERE s.relid = g.stream AND g.stream = $1::pg_catalog.oid"
									   "   AND g.partition = $2::pg_catalog.oid"
									   " RETURNING g.kept_until > pg_catalog.now()",
									   quote_identifier(event_time),
									   quote_qualified_identifier(get_namespace_name(get_rel_namespace(partition)),
																  get_rel_name(partition))),
							  2, argtypes, values, NULL, false, 1) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not read the retention of segment %u", partition);
	if (SPI_processed != 1)
		return true;
	kept = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return isnull || kept;
}

/*
 * SegmentBlocks returns the size of a segment in blocks.
 */
static BlockNumber
SegmentBlocks(Oid partition)
{
	Relation	rel = table_open(partition, AccessShareLock);
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);

	table_close(rel, AccessShareLock);
	return nblocks;
}

/*
 * TruncateSegment empties a consumed segment if its lock can be had
 * (waiting for it only when asked).
 */
static bool
TruncateSegment(Oid partition, bool wait)
{
	if (wait)
		LockRelationOid(partition, AccessExclusiveLock);
	else if (!ConditionalLockRelationOid(partition, AccessExclusiveLock))
		return false;

	pruning = true;
	PG_TRY();
	{
		if (SPI_execute(psprintf("TRUNCATE %s",
								 quote_qualified_identifier(get_namespace_name(get_rel_namespace(partition)),
															get_rel_name(partition))),
						false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not truncate segment %u", partition);
	}
	PG_FINALLY();
	{
		pruning = false;
	}
	PG_END_TRY();
	return true;
}

/*
 * PublishAtCommit makes a rotation visible to writers once the catalog
 * holds it.
 */
static void
PublishAtCommit(Oid relid, int slot)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	PendingSlot *p = palloc(sizeof(PendingSlot));

	p->relid = relid;
	p->slot = slot;
	pending_slots = lappend(pending_slots, p);
	MemoryContextSwitchTo(old);
	if (!callback_registered)
	{
		RegisterXactCallback(PublishSlots, NULL);
		callback_registered = true;
	}
}

static void
PublishSlots(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		foreach(lc, pending_slots)
		{
			PendingSlot *p = lfirst(lc);

			StreamSetSlot(p->relid, p->slot);
		}
	}
	list_free_deep(pending_slots);
	pending_slots = NIL;
}
