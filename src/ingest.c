/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  Events arriving: the tag every event carries, and COPY without a
 *	  column list.
 *
 * A stream's tag column has DEFAULT stream_ext.tx(stream) and
 * CHECK (stream_ext.check_tx(stream_ext_tx, stream)).  Both call into
 * here once per row, so the value is computed once per transaction and
 * stream and cached: the current top-level transaction id is compared
 * with the cached one, nothing more.  Reading the slot once per
 * transaction is also what makes segment rotation safe: a transaction
 * writes all its events of a stream into the slot it saw first, and it
 * had its transaction id before it looked.
 *
 * stream_ext.restoring (superuser only) lets pg_restore load events with
 * the tags they were dumped with.
 *
 * Both functions are STABLE (they return the same value for the whole
 * transaction), so COPY keeps inserting in batches.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "stream_ext.h"

#define TAG_CACHE_SIZE 8

typedef struct TagCacheEntry
{
	Oid			relid;
	int64		tag;
	uint64		rows;			/* rows the default tagged */
} TagCacheEntry;

/* Tags of the streams the current top-level transaction has written. */
static FullTransactionId tag_cache_fxid;
static int	tag_cache_used = 0;
static TagCacheEntry tag_cache[TAG_CACHE_SIZE];

static int64 StreamTag(Oid relid);
static void CountAtCommit(XactEvent event, void *arg);
static bool count_callback = false;
static List *StreamCopyColumns(Oid relid);

PG_FUNCTION_INFO_V1(stream_ext_tx);
PG_FUNCTION_INFO_V1(stream_ext_check_tx);

/*
 * stream_ext_tx is the default of a stream's tag column.
 */
Datum
stream_ext_tx(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		tag = StreamTag(relid);

	/* Count the row: the worker sizes its batches by it (apply.c). */
	for (int i = 0; i < tag_cache_used; i++)
	{
		if (tag_cache[i].relid == relid)
		{
			tag_cache[i].rows++;
			break;
		}
	}
	PG_RETURN_INT64(tag);
}

/*
 * CountAtCommit adds the rows a committed transaction wrote to each
 * stream's count in shared memory.
 */
static void
CountAtCommit(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT)
	{
		for (int i = 0; i < tag_cache_used; i++)
		{
			if (tag_cache[i].rows > 0)
				StreamAddEvents(tag_cache[i].relid, tag_cache[i].rows);
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		for (int i = 0; i < tag_cache_used; i++)
			tag_cache[i].rows = 0;
	}
}

/*
 * stream_ext_check_tx is the check constraint of a stream's tag column: a
 * value given by the writer instead of the default would let an event
 * escape processing or land in a segment that is being pruned.
 */
Datum
stream_ext_check_tx(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(1);

	/* pg_restore loads events with the tags they were dumped with. */
	if (stream_ext_restoring && !PG_ARGISNULL(0))
		PG_RETURN_BOOL(true);

	if (PG_ARGISNULL(0) || PG_GETARG_INT64(0) != StreamTag(relid))
	{
		char	   *relname = get_rel_name(relid);

		ereport(ERROR,
				(errcode(ERRCODE_GENERATED_ALWAYS),
				 errmsg("cannot insert a value into column \"%s\" of stream \"%s\"",
						STREAM_TAG_COLUMN, relname ? relname : "?"),
				 errdetail("The column is filled in by stream_ext to track which events have been processed."),
				 errhint("Leave the column out of the column list, or write DEFAULT.")));
	}
	PG_RETURN_BOOL(true);
}

/*
 * StreamTag returns the tag of the current transaction's events in the
 * stream, assigning the transaction id first if there is none yet.
 */
static int64
StreamTag(Oid relid)
{
	FullTransactionId fxid = GetTopFullTransactionId();
	int			slot;
	int			i;

	if (!FullTransactionIdEquals(fxid, tag_cache_fxid))
	{
		tag_cache_fxid = fxid;
		tag_cache_used = 0;
	}
	for (i = 0; i < tag_cache_used; i++)
	{
		if (tag_cache[i].relid == relid)
			return tag_cache[i].tag;
	}

	/*
	 * The id is assigned above, before the slot is read: a rotation that
	 * happens after this read sees a next transaction id above ours.
	 */
	slot = StreamCurrentSlot(relid);

	/* The worker applies the transaction's events as soon as it commits. */
	StreamWakeWorkerAtCommit();

	if (tag_cache_used == TAG_CACHE_SIZE)
		tag_cache_used--;		/* many streams in one transaction: reuse */
	tag_cache[tag_cache_used].relid = relid;
	tag_cache[tag_cache_used].tag = StreamTagMake(slot, fxid);
	tag_cache[tag_cache_used].rows = 0;
	if (!count_callback)
	{
		RegisterXactCallback(CountAtCommit, NULL);
		count_callback = true;
	}
	return tag_cache[tag_cache_used++].tag;
}

/*
 * RelationIsStream tells cheaply, without reading our catalog, whether a
 * relation looks like a stream: a partitioned table with the tag column.
 */
bool
RelationIsStream(Oid relid)
{
	AttrNumber	attnum;

	if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		return false;
	attnum = get_attnum(relid, STREAM_TAG_COLUMN);
	return attnum != InvalidAttrNumber &&
		get_atttype(relid, attnum) == INT8OID;
}

/*
 * StreamCopyDefaultColumns gives COPY FROM into a stream without a column
 * list the stream's own columns, leaving out the ones stream_ext added, so
 * that data shaped like the table the user created loads as it would have.
 * Returns the statement to run: pstmt, or a modified copy.
 */
PlannedStmt *
StreamCopyDefaultColumns(PlannedStmt *pstmt, bool readOnlyTree)
{
	CopyStmt   *stmt = (CopyStmt *) pstmt->utilityStmt;
	Oid			relid;
	List	   *columns;

	if (!stmt->is_from || stmt->relation == NULL || stmt->attlist != NIL ||
		!IsTransactionState())
		return pstmt;

	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) || !RelationIsStream(relid))
		return pstmt;
	columns = StreamCopyColumns(relid);
	if (columns == NIL)
		return pstmt;

	if (readOnlyTree)
	{
		pstmt = copyObject(pstmt);
		stmt = (CopyStmt *) pstmt->utilityStmt;
	}
	stmt->attlist = columns;
	return pstmt;
}

/*
 * StreamCopyColumns lists the columns COPY fills by default: all but the
 * tag column and the arrival-time column, or NIL when the relation is not
 * a registered stream of this database.
 */
static List *
StreamCopyColumns(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	List	   *columns = NIL;
	MemoryContext callercxt = CurrentMemoryContext;

	if (!OidIsValid(get_extension_oid("stream_ext", true)))
		return NIL;

	values[0] = ObjectIdGetDatum(relid);

	SPI_connect();
	if (SPI_execute_with_args("SELECT a.attname::pg_catalog.text"
							  "  FROM stream_ext.stream s"
							  "  JOIN pg_catalog.pg_attribute a ON a.attrelid = s.relid"
							  " WHERE s.relid = $1::pg_catalog.oid"
							  "   AND a.attnum > 0 AND NOT a.attisdropped"
							  "   AND a.attgenerated = ''"
							  "   AND a.attname <> '" STREAM_TAG_COLUMN "'"
							  "   AND a.attname IS DISTINCT FROM s.arrival_column"
							  " ORDER BY a.attnum",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the columns of stream %u", relid);

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 1);
		MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);

		columns = lappend(columns, makeString(pstrdup(name)));
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();

	return columns;
}
