/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  A dump restored into another cluster: rebasing the transaction ids
 *	  that tags, progress and segment bounds hold.
 *
 * Tags (ingest.c), the views' progress snapshots (batch.c) and segment
 * bounds (prune.c) hold transaction ids of the cluster that wrote them.
 * A dump restored into the same cluster keeps them meaningful; restored
 * into another one, they mean nothing there: a new transaction there may
 * have an id a restored view's progress already claims to have seen, and
 * the new cluster's first transactions can sit above every restored tag.
 * stream_ext.stream.system_identifier records the cluster whose ids a
 * stream's rows hold.  A stream restored from another cluster takes no
 * events, no batches and no pruning until stream_ext.finish_restore()
 * (sql/) has renumbered them, each stream in the transaction that locks
 * it, into ids of the new cluster that every snapshot from then on sees
 * as committed.
 *
 * Only order matters to seen() and covers(): whether an event's id is
 * below a snapshot's xmin, at or above its xmax, or in its xip list.  So
 * the renumbering maps the sorted distinct values B of every xmin, xmax
 * and xip of the stream's views' progress and every segment bound to
 * FirstNormalTransactionId + 2i + 1 (the i-th of them), and an id between
 * B[i-1] and B[i] to FirstNormalTransactionId + 2i: strictly increasing
 * on B and monotone everywhere, so every comparison comes out as before.
 * The new values sit below the xmin of the renumbering transaction's
 * snapshot, so later snapshots see them as finished and new transactions
 * have larger ids than every renumbered progress.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "stream_ext.h"

static uint64 RebaseXid(uint64 xid, const int64 *bounds, int nbounds);

PG_FUNCTION_INFO_V1(stream_ext_rebase_xid);
PG_FUNCTION_INFO_V1(stream_ext_rebase_tag);

/*
 * RebaseXid maps a transaction id by its place among the sorted distinct
 * bounds (see the top of the file).
 */
static uint64
RebaseXid(uint64 xid, const int64 *bounds, int nbounds)
{
	int			lo = 0;
	int			hi = nbounds;

	/* lo: how many bounds are below xid */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if ((uint64) bounds[mid] < xid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return FirstNormalTransactionId + 2 * (uint64) lo +
		(lo < nbounds && (uint64) bounds[lo] == xid ? 1 : 0);
}

/* The bounds argument (the functions are strict): a one-dimensional int8 array without NULLs. */
static void
BoundsArgument(FunctionCallInfo fcinfo, int argno, int64 **bounds, int *nbounds)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(argno);

	if (ARR_NDIM(array) > 1 || ARR_HASNULL(array) || ARR_ELEMTYPE(array) != INT8OID)
		elog(ERROR, "transaction id bounds must be a one-dimensional int8 array without NULLs");
	*nbounds = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	*bounds = (int64 *) ARR_DATA_PTR(array);
	for (int i = 1; i < *nbounds; i++)
	{
		if ((*bounds)[i - 1] >= (*bounds)[i])
			elog(ERROR, "transaction id bounds must be sorted and distinct");
	}
}

/*
 * stream_ext_rebase_xid(xid int8, bounds int8[]) maps a full transaction
 * id (of a snapshot or a segment bound).
 */
Datum
stream_ext_rebase_xid(PG_FUNCTION_ARGS)
{
	int64	   *bounds;
	int			nbounds;

	BoundsArgument(fcinfo, 1, &bounds, &nbounds);
	PG_RETURN_INT64((int64) RebaseXid((uint64) PG_GETARG_INT64(0), bounds, nbounds));
}

/*
 * stream_ext_rebase_tag(tag int8, bounds int8[]) maps the transaction id
 * in an event's tag and keeps its slot.
 */
Datum
stream_ext_rebase_tag(PG_FUNCTION_ARGS)
{
	uint64		tag = (uint64) PG_GETARG_INT64(0);
	int64	   *bounds;
	int			nbounds;

	BoundsArgument(fcinfo, 1, &bounds, &nbounds);
	PG_RETURN_INT64((int64) ((tag & ~STREAM_TAG_XID_MASK) |
							 RebaseXid(tag & STREAM_TAG_XID_MASK, bounds, nbounds)));
}

/*
 * StreamCheckRestored refuses to go on with a stream restored from
 * another cluster that stream_ext.finish_restore() has not rebased yet
 * (see the top of the file).  system_identifier is the stream's, from
 * its catalog row.
 */
void
StreamCheckRestored(Oid relid, int64 system_identifier)
{
	if ((uint64) system_identifier != GetSystemIdentifier())
	{
		char	   *relname = get_rel_name(relid);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stream \"%s\" was restored from another cluster and is not rebased yet",
						relname ? relname : "?"),
				 errdetail("Its events and its views' progress hold transaction ids of the cluster it was dumped from."),
				 errhint("Once pg_restore is done, run SELECT * FROM stream_ext.finish_restore(); as a superuser.")));
	}
}

/*
 * StreamCheckStreamRestored reads the stream's catalog row and checks it
 * (StreamCheckRestored); for a relation that is not a stream it does
 * nothing.
 */
void
StreamCheckStreamRestored(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	int64		system_identifier = 0;
	bool		found = false;

	SPI_connect();
	if (SPI_execute_with_args("SELECT system_identifier FROM stream_ext.stream"
							  " WHERE relid = $1::pg_catalog.oid",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the catalog of stream %u", relid);
	if (SPI_processed == 1)
	{
		bool		isnull;

		system_identifier = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 1, &isnull));
		found = true;
	}
	SPI_finish();
	if (found)
		StreamCheckRestored(relid, system_identifier);
}
