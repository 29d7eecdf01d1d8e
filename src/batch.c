/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Which events a batch holds: the transaction of an event against the
 *	  snapshots of batches.
 *
 * A view's progress is a pg_snapshot P: it has consumed exactly the events
 * whose transaction P sees as committed.  A batch taken under a newer
 * snapshot S holds the events S sees (MVCC decides that, rolled-back
 * events and savepoints included) whose transaction P does not see:
 * NOT stream_ext.seen(stream_ext_tx, P).  Applying the batch and storing S
 * as the new progress in one transaction makes every event count once.
 * The tag holds the top-level transaction id, which is what pg_snapshot's
 * xip lists; an event inserted in a subtransaction is still judged by its
 * top-level transaction.
 *
 * flush() waits until the progress of every view covers the snapshot
 * taken when it was called: stream_ext.covers(P, S).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "stream_ext.h"

/* The layout of pg_snapshot (src/backend/utils/adt/xid8funcs.c). */
typedef struct StreamSnapshot
{
	int32		vl_len_;
	uint32		nxip;
	FullTransactionId xmin;
	FullTransactionId xmax;
	FullTransactionId xip[FLEXIBLE_ARRAY_MEMBER];	/* sorted */
} StreamSnapshot;

static bool SnapshotSees(const StreamSnapshot *snap, uint64 xid);

PG_FUNCTION_INFO_V1(stream_ext_seen);
PG_FUNCTION_INFO_V1(stream_ext_covers);
PG_FUNCTION_INFO_V1(stream_ext_snapshot_before);

/*
 * SnapshotSees tells whether a committed transaction (its full id, at
 * most 48 bits) was visible to the snapshot.
 */
static bool
SnapshotSees(const StreamSnapshot *snap, uint64 xid)
{
	uint32		lo = 0;
	uint32		hi = snap->nxip;

	if (xid < U64FromFullTransactionId(snap->xmin))
		return true;
	if (xid >= U64FromFullTransactionId(snap->xmax))
		return false;
	while (lo < hi)
	{
		uint32		mid = lo + (hi - lo) / 2;
		uint64		x = U64FromFullTransactionId(snap->xip[mid]);

		if (x == xid)
			return false;
		if (x < xid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return true;
}

/*
 * stream_ext_seen tells whether the transaction of an event (its tag) was
 * committed as seen by the snapshot, i.e. whether a batch taken under it
 * already held the event.  Only meaningful for events the caller's own
 * snapshot sees.
 */
Datum
stream_ext_seen(PG_FUNCTION_ARGS)
{
	int64		tag = PG_GETARG_INT64(0);
	StreamSnapshot *snap = (StreamSnapshot *) PG_GETARG_VARLENA_P(1);

	PG_RETURN_BOOL(SnapshotSees(snap, (uint64) tag & STREAM_TAG_XID_MASK));
}

/*
 * stream_ext_covers tells whether snapshot a sees every transaction that
 * snapshot b sees as committed.
 */
Datum
stream_ext_covers(PG_FUNCTION_ARGS)
{
	StreamSnapshot *a = (StreamSnapshot *) PG_GETARG_VARLENA_P(0);
	StreamSnapshot *b = (StreamSnapshot *) PG_GETARG_VARLENA_P(1);
	uint64		a_xmax = U64FromFullTransactionId(a->xmax);
	uint64		b_xmax = U64FromFullTransactionId(b->xmax);

	/* What a has in progress, b must not see. */
	for (uint32 i = 0; i < a->nxip; i++)
	{
		if (SnapshotSees(b, U64FromFullTransactionId(a->xip[i])))
			PG_RETURN_BOOL(false);
	}

	/*
	 * What a had not started yet, [a.xmax, b.xmax), b must not see either:
	 * all of it must be in progress for b.
	 */
	if (b_xmax > a_xmax)
	{
		uint64		in_progress = 0;

		if (a_xmax < U64FromFullTransactionId(b->xmin))
			PG_RETURN_BOOL(false);
		for (uint32 i = 0; i < b->nxip; i++)
		{
			if (U64FromFullTransactionId(b->xip[i]) >= a_xmax)
				in_progress++;
		}
		if (in_progress != b_xmax - a_xmax)
			PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

/*
 * stream_ext_snapshot_before(snapshot, xid) returns the snapshot limited
 * to the transactions before xid: it sees what the snapshot sees among
 * them and nothing from xid on.  A bounded batch ends there.  It is not a
 * snapshot any backend ever had, but seen() and covers() only need it to
 * describe a set of finished transactions, which it does: every xid below
 * its xmax that it sees, the original snapshot saw finished.
 */
Datum
stream_ext_snapshot_before(PG_FUNCTION_ARGS)
{
	StreamSnapshot *snap = (StreamSnapshot *) PG_GETARG_VARLENA_P(0);
	uint64		limit = (uint64) PG_GETARG_INT64(1);
	StreamSnapshot *result;
	uint32		nxip = 0;

	if (limit >= U64FromFullTransactionId(snap->xmax))
		PG_RETURN_POINTER(snap);

	result = palloc(offsetof(StreamSnapshot, xip) + sizeof(FullTransactionId) * snap->nxip);
	result->xmax = FullTransactionIdFromU64(limit);
	result->xmin = FullTransactionIdFromU64(Min(U64FromFullTransactionId(snap->xmin), limit));
	for (uint32 i = 0; i < snap->nxip; i++)
	{
		if (U64FromFullTransactionId(snap->xip[i]) < limit)
			result->xip[nxip++] = snap->xip[i];
	}
	result->nxip = nxip;
	SET_VARSIZE(result, offsetof(StreamSnapshot, xip) + sizeof(FullTransactionId) * nxip);
	PG_RETURN_POINTER(result);
}
