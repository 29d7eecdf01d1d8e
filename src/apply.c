/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  Applying batches: the worker reads a batch of a stream's events once
 *	  for all the views that have consumed the same events so far, runs
 *	  their batch statements (view.c) over it and advances their progress,
 *	  in one transaction.
 *
 * Views of one stream whose progress is equal (and that run as the same
 * owner with the same settings) form a group; after one batch every
 * active view of a stream has the same progress, so there is usually one
 * group per stream.  A view created later, paused or failed joins its
 * stream's group again after its first batch.
 *
 * The transaction is REPEATABLE READ, so the batch statement, the new
 * progress and the bound of a batch share one snapshot: the events the
 * batch applies are exactly those the new progress sees and the old one
 * did not (batch.c).  A batch holds at most batch_size events, rounded up
 * to whole transactions: when more are waiting, the new progress is the
 * snapshot limited to the transactions before the first one left out
 * (stream_ext.snapshot_before), and the worker goes on at once.
 *
 * The result tables and then the catalog rows (FOR UPDATE) are locked
 * first, so a concurrent pause, resume or drop either waits for the batch
 * or makes it skip or retry, and never deadlocks with it.  The statement
 * runs as the views' owner, never as superuser, with the TimeZone,
 * DateStyle and search_path captured when the view was created (with
 * pg_catalog first: the statement itself names everything else with its
 * schema, and its operators must be pg_catalog's) and a statement_timeout
 * of 0.
 *
 * Failures are contained.  Before a batch, each view's attempts counter
 * is raised in a transaction of its own; the batch's transaction sets it
 * back to 0.  A view whose counter reaches stream_ext.max_batch_attempts
 * (its batches crashed the worker that many times in a row) is put in
 * error instead of crashing the worker again; a view that has an attempt
 * pending is tried alone, so the others of its group go on.  A batch that
 * fails for a transient reason (serialization failure, deadlock, lock not
 * available, cancel) is retried with an exponential backoff; any other
 * error puts the view in state 'error' with the message, after the views
 * of its group are tried one by one so that the others go on.  Events a
 * failed or paused view has not consumed are kept (prune.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "batch_statement.h"

/* An active view, as listed at the start of a round. */
typedef struct ActiveView
{
	Oid			view;			/* its result table */
	Oid			stream;
	Oid			owner;
	char	   *timezone;
	char	   *datestyle;
	char	   *search_path;
	char	   *progress;		/* text: equal progress, one batch */
	int			batch_size;
	int			attempts;		/* batches begun and not finished */
	bool		skip;			/* on_error => 'skip' */
} ActiveView;

/* An event a view's query fails on, as a batch restricted to it found. */
typedef struct PoisonEvent
{
	ItemPointerData tid;
	ErrorData  *edata;
} PoisonEvent;

/* A view whose batch failed for a transient reason waits a while. */
typedef struct Backoff
{
	Oid			view;
	int			failures;
	TimestampTz retry_at;
} Backoff;

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	30000

static HTAB *backoffs = NULL;

/*
 * For each view, the stream's committed-events count (shmem.c) when its
 * last batch began: when no more than batch_size events can have come
 * since, finding a batch's end needs no count of the waiting events.
 */
typedef struct SeenCount
{
	Oid			view;
	uint64		events;
	uint64		commits;		/* of that many transactions */
} SeenCount;

static HTAB *seen_counts = NULL;

/*
 * For each stream, the ends of the batches that follow the last one this
 * worker applied, as found by its last scan of the backlog: a backlog is
 * counted once, not once per batch.  They are used only while the views'
 * progress is still where that batch ended (expected), with the same
 * batch_size; each is a snapshot the scan's snapshot covers, limited to
 * the transactions up to a cut, so a batch that ends there holds whole
 * transactions that had committed then.  With it, as "end;lo;hi", the
 * lowest and highest ctid of those transactions' rows in any segment (the
 * scan saw every one of them, and stream rows never move): the batch
 * reads only the blocks between, not the rest of a large segment.
 */
typedef struct BatchCuts
{
	Oid			stream;
	int			batch_size;
	char	   *expected;		/* text of the progress they follow */
	List	   *ends;			/* text of each next batch's end */
} BatchCuts;

static List *batch_cuts = NIL;

static BatchCuts *FindCuts(Oid stream);
static void KeepCuts(Oid stream, int batch_size, const char *expected, List *ends);
static bool MayExceed(List *views, uint64 committed, uint64 commits, int batch_size);
static void RememberCount(List *views, uint64 committed, uint64 commits);

/* Lives for one round of batches. */
static MemoryContext round_context = NULL;

/* Events the round's batches applied; streams with active views. */
static int64 round_events = 0;
static int	round_streams = 0;

/*
 * The statements of batches, prepared once and kept (SPI_keepplan): the
 * plan cache replans them when a table they read changes, and analyzes
 * them again under another search_path or, where row-level security
 * applies, another role.  The text names the tables, so a rename makes a
 * new entry; at PREPARED_STATEMENTS_MAX they are all dropped.
 */
typedef struct PreparedStatement
{
	char	   *sql;
	int			nargs;
	SPIPlanPtr	plan;
} PreparedStatement;

#define PREPARED_STATEMENTS_MAX 64

static List *prepared = NIL;

/* RunBatch is locking its views' catalog rows (ApplyGroup). */
static bool locking_views = false;

static SPIPlanPtr Prepare(const char *sql, int nargs, Oid *argtypes);

static List *ActiveViews(void);
static bool SameGroup(ActiveView *a, ActiveView *b);
static bool ApplyGroup(List *group, char **stream_end, bool skipping);
static bool RunBatch(List *group, char **stream_end, bool skipping);
static List *LockGroupTables(List *group, int *batch_size);
static void ReportBatch(const char *stream_name, List *views);
static List *LeaveOutPoison(Oid stream, const char *sql, bool ranged, Oid *argtypes,
							Datum *values, char *nulls);
static List *FindPoison(SPIPlanPtr plan, Datum *values, char *nulls, ItemPointer tids,
						int lo, int hi);
static void RecordDeadLetters(Oid view, Oid stream, List *poison);
static int	ApplyViewSettings(ActiveView *first);
static void AdvanceViews(List *views, Datum batch_end, int64 events, Datum *outcome,
						 char *outnulls);
static Datum ReadGroupViews(ActiveView *first, List *locked, List **views, List **parts_numbers,
							List **fragments, List **columns);
static Datum FindBatchEnd(ActiveView *first, List *views, char **stream_end, Datum progress,
						  int batch_size, uint64 committed, uint64 commits, const char *stream_name,
						  char **end_text, char **lo_text, char **hi_text, List **later_ends,
						  bool *more);
/*
 * The catalog rows of views $1, locked in the order every writer of several
 * of them takes them (the batch, drop_stream(): by result OID), so that no
 * two of them wait for each other.
 */
#define VIEW_ROWS_IN_ORDER \
	"SELECT result FROM stream_ext.continuous_view WHERE result = ANY ($1)" \
	" ORDER BY result FOR UPDATE"


static void SegmentsToRead(Oid stream, Datum progress, Datum *ranges);
static void CountAttempt(List *group, bool undo);
static void RecordRetry(List *group, const char *message);
static void CountRetry(List *group);
static void MarkViewError(Oid view, const char *message, ErrorData *edata);
static bool BackingOff(Oid view);
static void ForgetBackoff(List *group);
static Datum ViewOidArray(List *group);


/*
 * StreamApplyViews runs one batch for every group of active views of the
 * database, of the streams no other worker of the database holds, and
 * tells whether it applied any events; *more is set when events were left
 * for another batch.
 *
 * Each stream is claimed for the batches of its groups (launcher.c), so
 * that the database's workers share its streams; the worker then reports
 * how many workers the round could have kept busy: its streams with a
 * backlog and those held by other workers.
 */
bool
StreamApplyViews(bool *more)
{
	MemoryContext old;
	List	   *views;
	List	   *group = NIL;
	ListCell   *lc;
	char	   *stream_end = NULL;
	Oid			end_stream = InvalidOid;
	bool		held = false;	/* end_stream is another worker's */
	bool		stream_more = false;
	int			backlogs = 0;
	int			held_elsewhere = 0;

	*more = false;
	round_events = 0;
	round_context = AllocSetContextCreate(CurrentMemoryContext,
										  "stream_ext round",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(round_context);
	views = ActiveViews();
	round_streams = 0;
	foreach(lc, views)
	{
		/* The views come ordered by stream. */
		if (((ActiveView *) lfirst(lc))->stream != end_stream)
			round_streams++;
		end_stream = ((ActiveView *) lfirst(lc))->stream;
	}
	end_stream = InvalidOid;

	foreach(lc, views)
	{
		ActiveView *v = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		if (v->stream != end_stream)
		{
			if (group != NIL)
				stream_more |= ApplyGroup(group, &stream_end, false);
			group = NIL;
			backlogs += stream_more;
			*more |= stream_more;
			stream_more = false;
			stream_end = NULL;
			end_stream = v->stream;
			held = !StreamClaimStream(MyStreamWorkerSlot, v->stream);
			held_elsewhere += held;
		}
		if (held)
			continue;

		if (v->attempts >= stream_ext_max_batch_attempts)
		{
			MarkViewError(v->view,
						  psprintf("a batch of this view was begun %d times without finishing: the worker stopped or crashed during it",
								   v->attempts), NULL);
			continue;
		}
		if (BackingOff(v->view))
			continue;

		/* A view with an attempt pending goes alone. */
		if (group != NIL &&
			(v->attempts > 0 || !SameGroup(linitial(group), v)))
		{
			stream_more |= ApplyGroup(group, &stream_end, false);
			group = NIL;
		}
		group = lappend(group, v);
		if (v->attempts > 0)
		{
			stream_more |= ApplyGroup(group, &stream_end, false);
			group = NIL;
		}
	}
	if (group != NIL)
		stream_more |= ApplyGroup(group, &stream_end, false);
	backlogs += stream_more;
	*more |= stream_more;
	StreamReleaseStream(MyStreamWorkerSlot);
	StreamWantWorkers(MyStreamWorkerSlot, backlogs > 0 ? backlogs + held_elsewhere : 1);

	ConditionVariableBroadcast(StreamFlushCV());
	MemoryContextSwitchTo(old);
	MemoryContextDelete(round_context);
	round_context = NULL;
	return round_events > 0;
}

/*
 * StreamRetriesPending tells whether a batch waits to be retried after a
 * transient failure.
 */
bool
StreamRetriesPending(void)
{
	return backoffs != NULL && hash_get_num_entries(backoffs) > 0;
}

/*
 * ActiveViews lists the active views, those that can share a batch next
 * to each other.  Views of a stream restored from another cluster wait
 * until it is rebased (restore.c).
 */
static List *
ActiveViews(void)
{
	List	   *views = NIL;
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[2] = {INT4OID, INT8OID};
	Datum		values[2] = {Int32GetDatum(stream_ext_batch_size), Int64GetDatum((int64) GetSystemIdentifier())};

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args("SELECT result::pg_catalog.oid, stream::pg_catalog.oid,"
							  "       owner::pg_catalog.oid, timezone, datestyle,"
							  "       progress::pg_catalog.text,"
							  "       coalesce(batch_size, $1),"
							  "       CASE WHEN attempted_at < pg_catalog.pg_postmaster_start_time() THEN 0"
							  "            ELSE attempts END, search_path, on_error = 'skip'"
							  "  FROM stream_ext.continuous_view c"
							  " WHERE state = 'active'"
							  "   AND EXISTS (SELECT 1 FROM stream_ext.stream s WHERE s.relid = c.stream"
							  "                  AND s.system_identifier = $2)"
							  " ORDER BY stream, owner, timezone, datestyle, search_path,"
							  "          progress::pg_catalog.text, result",
							  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list continuous views");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(caller);
		ActiveView *v = palloc(sizeof(ActiveView));

		v->view = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		v->stream = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
		v->owner = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
		v->timezone = SPI_getvalue(row, desc, 4);
		v->datestyle = SPI_getvalue(row, desc, 5);
		v->progress = SPI_getvalue(row, desc, 6);
		v->batch_size = DatumGetInt32(SPI_getbinval(row, desc, 7, &isnull));
		v->attempts = DatumGetInt32(SPI_getbinval(row, desc, 8, &isnull));

		/*
		 * A batch taken again after one was interrupted is 16 times smaller
		 * per attempt, so that it can finish between crashes that are not
		 * its fault; one that crashes the worker by itself still does.
		 */
		for (int a = 0; a < v->attempts && v->batch_size > 1; a++)
			v->batch_size = Max(1, v->batch_size / 16);
		v->search_path = SPI_getvalue(row, desc, 9);
		v->skip = DatumGetBool(SPI_getbinval(row, desc, 10, &isnull));
		views = lappend(views, v);
		MemoryContextSwitchTo(old);
	}
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	return views;
}

/*
 * SameGroup tells whether two views can share a batch.
 */
static bool
SameGroup(ActiveView *a, ActiveView *b)
{
	return a->stream == b->stream && a->owner == b->owner &&
		strcmp(a->timezone, b->timezone) == 0 &&
		strcmp(a->datestyle, b->datestyle) == 0 &&
		strcmp(a->search_path, b->search_path) == 0 &&
		strcmp(a->progress, b->progress) == 0;
}

/*
 * ApplyGroup runs one batch for a group of views, or records why it could
 * not, and tells whether events were left for another batch.
 *
 * *stream_end is where the last batch of the same stream in this round
 * ended; a group that has not consumed that far ends its batch there too,
 * so that its views and those of the earlier group have the same progress
 * afterwards and share their batches from the next round on.
 */
static bool
ApplyGroup(List *group, char **stream_end, bool skipping)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool more = false;

	PG_TRY();
	{
		CountAttempt(group, false);
		more = RunBatch(group, stream_end, skipping);
		ForgetBackoff(group);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		conflict;

		StreamApplyingBatch = false;
		edata = StreamRecoverFromError(cxt, owner);
		conflict = locking_views;
		locking_views = false;

		switch (edata->sqlerrcode)
		{
			case ERRCODE_T_R_SERIALIZATION_FAILURE:
				if (conflict)
				{
					/*
					 * A view's catalog row changed (paused, resumed, its
					 * options set) after the batch took its snapshot and
					 * before it locked the row.  Nothing was done, and the
					 * group was formed on what is no longer true: not a
					 * failure, the next round forms the groups again.
					 */
					ereport(DEBUG1,
							(errmsg_internal("stream_ext: a continuous view changed as its batch began: %s",
											 edata->message)));
					CountAttempt(group, true);
					more = true;
					break;
				}
				/* FALLTHROUGH */
			case ERRCODE_T_R_DEADLOCK_DETECTED:
			case ERRCODE_LOCK_NOT_AVAILABLE:
			case ERRCODE_QUERY_CANCELED:
				/* Transient: retried after a while. */
				RecordRetry(group, edata->message);
				break;
			default:
				/* It failed, it did not crash: it is not an attempt pending. */
				CountAttempt(group, true);
				if (list_length(group) > 1)
				{
					ListCell   *lc;

					/* Find the view that fails; the others go on. */
					foreach(lc, group)
						more |= ApplyGroup(list_make1(lfirst(lc)), stream_end, false);
				}
				else if (((ActiveView *) linitial(group))->skip && !skipping)
				{
					/* on_error => 'skip': again, without the events it fails on. */
					more = ApplyGroup(group, stream_end, true);
				}
				else
					MarkViewError(((ActiveView *) linitial(group))->view, edata->message, edata);
				break;
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return more;
}

/*
 * FindBatchEnd returns where the batch ends: where the stream's last
 * batch of this round ended if that is further than the views' progress,
 * else this transaction's snapshot; or, when more than batch_size events wait
 * before that, the snapshot limited to the transactions before the
 * first one past batch_size events.  Counting them means a scan, so it
 * is done only when more than batch_size events can have been committed
 * since the views' last batches began (MayExceed) and the stream's
 * segments are large enough to hold that many (36 bytes is the least a
 * row takes), and once for a backlog of many batches (BatchCuts).
 */
static Datum
FindBatchEnd(ActiveView *first, List *views, char **stream_end, Datum progress, int batch_size,
			 uint64 committed, uint64 commits, const char *stream_name, char **end_text,
			 char **lo_text, char **hi_text, List **later_ends, bool *more)
{
	BatchCuts  *cuts;
	Oid			argtypes[5];
	Datum		values[5];
	Datum		batch_end;
	bool		isnull;
	ListCell   *lc;
	char	   *sql;

	cuts = *stream_end == NULL ? FindCuts(first->stream) : NULL;
	if (cuts != NULL && cuts->ends != NIL && cuts->batch_size == batch_size &&
		strcmp(cuts->expected, first->progress) == 0)
	{
		Oid			typinput;
		Oid			typioparam;
		MemoryContext spi;

		/* The next cut of the backlog counted before: "end;lo;hi". */
		*end_text = MemoryContextStrdup(round_context, linitial(cuts->ends));
		*lo_text = strchr(*end_text, ';');
		*hi_text = strchr(*lo_text + 1, ';');
		*(*lo_text)++ = '\0';
		*(*hi_text)++ = '\0';
		getTypeInputInfo(PG_SNAPSHOTOID, &typinput, &typioparam);
		batch_end = OidInputFunctionCall(typinput, *end_text, typioparam, -1);
		*more = true;
		spi = MemoryContextSwitchTo(round_context);
		for_each_from(lc, cuts->ends, 1)
			*later_ends = lappend(*later_ends, pstrdup(lfirst(lc)));
		MemoryContextSwitchTo(spi);
	}
	else
	{
		ArrayType  *ends;

		argtypes[0] = PG_SNAPSHOTOID;
		values[0] = progress;
		argtypes[1] = INT4OID;
		values[1] = Int32GetDatum(batch_size);
		argtypes[2] = OIDOID;
		values[2] = ObjectIdGetDatum(first->stream);
		argtypes[3] = TEXTOID;
		values[3] = *stream_end ? CStringGetTextDatum(*stream_end) : (Datum) 0;
		argtypes[4] = BOOLOID;
		values[4] = BoolGetDatum(MayExceed(views, committed, commits, batch_size));

		/*
		 * Maybe a backlog, and other streams waiting behind it: another
		 * worker could take them while this one counts and applies.
		 */
		if (DatumGetBool(values[4]) && round_streams > 1)
			StreamWantWorkers(MyStreamWorkerSlot, round_streams);

		/*
		 * The cuts: the transactions (in xid order) with which the events
		 * waiting reach each next multiple of batch_size; the first ends
		 * this batch, the others are kept for the next ones.
		 */
		sql = psprintf("SELECT CASE WHEN q.xs IS NULL THEN q.s"
					   "            ELSE stream_ext.snapshot_before(q.s, q.xs[1] + 1) END, q.xs IS NOT NULL,"
					   "       (SELECT pg_catalog.array_agg(stream_ext.snapshot_before(q.s, u.x + 1)::pg_catalog.text"
					   "                                    OPERATOR(pg_catalog.||) ';' OPERATOR(pg_catalog.||) u.lo::pg_catalog.text"
					   "                                    OPERATOR(pg_catalog.||) ';' OPERATOR(pg_catalog.||) u.hi::pg_catalog.text ORDER BY u.o)"
					   "          FROM ROWS FROM (pg_catalog.unnest(q.xs[2:]), pg_catalog.unnest(q.los[2:]), pg_catalog.unnest(q.his[2:]))"
					   "               WITH ORDINALITY u(x, lo, hi, o)),"
					   "       q.los[1]::pg_catalog.text, q.his[1]::pg_catalog.text"
					   "  FROM (SELECT stream_ext_end.s, c.xs, c.los, c.his"
					   "          FROM (SELECT CASE WHEN stream_ext.covers($4::pg_catalog.pg_snapshot, $1)"
					   "                            THEN $4::pg_catalog.pg_snapshot"
					   "                            ELSE pg_catalog.pg_current_snapshot() END AS s OFFSET 0) stream_ext_end,"
					   "       LATERAL (SELECT pg_catalog.array_agg(c.x ORDER BY c.g) AS xs, pg_catalog.array_agg(c.lo ORDER BY c.g) AS los,"
					   "                       pg_catalog.array_agg(c.hi ORDER BY c.g) AS his"
					   "                  FROM (SELECT t.g, pg_catalog.max(t.x) AS x, pg_catalog.min(t.lo) AS lo, pg_catalog.max(t.hi) AS hi"
					   "                          FROM (SELECT t.*, COALESCE(pg_catalog.sum(t.cut::pg_catalog.int4) OVER (ORDER BY t.x"
					   "                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS g"
					   "                                  FROM (SELECT t.x, t.lo, t.hi, pg_catalog.div(t.upto, $2)"
					   "                                               > pg_catalog.div(COALESCE(pg_catalog.lag(t.upto) OVER (ORDER BY t.x), 0), $2) AS cut"
					   "                                          FROM (SELECT t.x, t.lo, t.hi, pg_catalog.sum(t.n) OVER (ORDER BY t.x) AS upto"
					   "                                                  FROM (SELECT %s & %lld AS x, pg_catalog.count(*) AS n,"
					   "                                                               pg_catalog.min(ctid) AS lo, pg_catalog.max(ctid) AS hi FROM %s stream_ext_events"
					   "                                                         WHERE $5 AND (SELECT coalesce(pg_catalog.sum(pg_catalog.pg_relation_size(g.partition)), 0)"
					   "                                                                  FROM stream_ext.segment g WHERE g.stream = $3::pg_catalog.oid)"
					   "                                                               > $2::pg_catalog.int8 * 36"
					   "                                                           AND NOT stream_ext.seen(%s, $1) AND stream_ext.seen(%s, stream_ext_end.s)"
					   "                                                         GROUP BY 1) t) t) t) t"
					   "                         GROUP BY t.g HAVING pg_catalog.bool_or(t.cut)) c) c) q",
					   STREAM_TAG_COLUMN, (long long) STREAM_TAG_XID_MASK, stream_name,
					   STREAM_TAG_COLUMN, STREAM_TAG_COLUMN);
		if (SPI_execute_plan(Prepare(sql, 5, argtypes), values, *stream_end ? NULL : "   n ",
							 false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not find where the batch of %s ends", stream_name);
		batch_end = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
									  false, -1);
		*more = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		*end_text = MemoryContextStrdup(round_context,
									   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		if (*more)
		{
			*lo_text = MemoryContextStrdup(round_context,
										  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4));
			*hi_text = MemoryContextStrdup(round_context,
										  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5));
		}
		(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		if (!isnull)
		{
			Datum	   *elems;
			int			nelems;
			MemoryContext spi = MemoryContextSwitchTo(round_context);

			/* Kept past SPI_finish(). */
			ends = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
			deconstruct_array(ends, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nelems);
			for (int j = 0; j < nelems; j++)
				*later_ends = lappend(*later_ends, TextDatumGetCString(elems[j]));
			MemoryContextSwitchTo(spi);
		}
	}
	return batch_end;
}

/*
 * ReadGroupViews locks the catalog rows of the group's views that are
 * still active with the progress the group was formed on, and returns
 * that progress (0 when none is), with their OIDs, part numbers, parts of
 * the batch statement (generated from their definitions, or as generated
 * before from the same, view_definition.c; assembled with their tables'
 * names) and the stream columns they read.
 */
static Datum
ReadGroupViews(ActiveView *first, List *locked, List **views, List **parts_numbers,
			   List **fragments, List **columns)
{
	Oid			argtypes[2];
	Datum		values[2];
	bool		isnull;
	Datum		progress = (Datum) 0;

	locking_views = true;
	argtypes[0] = OIDARRAYOID;
	values[0] = ViewOidArray(locked);
	argtypes[1] = TEXTOID;
	values[1] = CStringGetTextDatum(first->progress);
	if (SPI_execute_with_args("SELECT progress, append_to::pg_catalog.oid,"
							  "       COALESCE(output_stream, target)::pg_catalog.oid, "
							  STORED_VIEW_COLUMNS
							  "  FROM stream_ext.continuous_view"
							  " WHERE result = ANY ($1) AND state = 'active'"
							  "   AND progress::pg_catalog.text = $2"
							  " ORDER BY result FOR UPDATE",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read continuous views");
	locking_views = false;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		StoredView *v = StreamReadStoredView(row, desc, 4);
		List	   *read;
		List	   *parts = StreamCachedViewPart(v, &read);
		MemoryContext spi = MemoryContextSwitchTo(round_context);

		/* Kept past SPI_finish() (RememberCount). */
		*views = lappend_oid(*views, v->result);
		MemoryContextSwitchTo(spi);
		*parts_numbers = lappend_int(*parts_numbers, (int) v->part);
		*fragments = lappend(*fragments,
							StreamAssembleFragment(parts, v->result, v->state_table,
												   DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull)),
												   DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull)),
												   true));
		*columns = list_concat(*columns, read);
		progress = SPI_datumTransfer(SPI_getbinval(row, desc, 1, &isnull), false, -1);
		/* With a plain header: seen() would otherwise copy it for every event. */
		progress = PointerGetDatum(PG_DETOAST_DATUM(progress));
	}
	return progress;
}

/*
 * ApplyViewSettings sets what a batch runs with: the views' search_path
 * (behind pg_catalog), time zone and date style, no statement timeout,
 * stream_ext.work_mem; AtEOXact_GUC of the level it returns undoes it.
 */
static int
ApplyViewSettings(ActiveView *first)
{
	int			save_nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path",
							 first->search_path[0] == '\0' ? "pg_catalog" :
							 psprintf("pg_catalog, %s", first->search_path),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("TimeZone", first->timezone,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("DateStyle", first->datestyle,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("statement_timeout", "0",
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("work_mem", psprintf("%d", stream_ext_work_mem),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return save_nestlevel;
}

/*
 * AdvanceViews records a batch in its views' catalog rows: the end of the
 * batch is their new progress, and their counters add what it did
 * (outcome, outnulls: VIEW_BATCH_COLUMNS per view).
 */
static void
AdvanceViews(List *views, Datum batch_end, int64 events, Datum *outcome, char *outnulls)
{
	ListCell   *lc;

	foreach(lc, views)
	{
		Oid			uargtypes[3 + VIEW_OUTCOME_COLUMNS] = {OIDOID, PG_SNAPSHOTOID, INT8OID,
			INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		Datum		uvalues[3 + VIEW_OUTCOME_COLUMNS];
		char		unulls[3 + VIEW_OUTCOME_COLUMNS];
		int			i = foreach_current_index(lc) * VIEW_BATCH_COLUMNS;

		uvalues[0] = ObjectIdGetDatum(lfirst_oid(lc));
		uvalues[1] = batch_end;
		uvalues[2] = Int64GetDatum(events);
		memset(unulls, ' ', 3);
		memcpy(uvalues + 3, outcome + i, sizeof(Datum) * VIEW_OUTCOME_COLUMNS);
		memcpy(unulls + 3, outnulls + i, VIEW_OUTCOME_COLUMNS);
		if (SPI_execute_plan(Prepare("UPDATE stream_ext.continuous_view"
									 "   SET progress = $2, batches = batches + ($3 > 0)::int,"
									 "       events = events + $3, rows_written = rows_written + $4,"
									 "       notifications = notifications + $5,"
									 "       notifications_skipped = notifications_skipped + $6,"
									 "       late_events = late_events + $7,"
									 "       windows_closed = windows_closed + $8,"
									 "       corrections = corrections + $9,"
									 "       max_event_time = COALESCE($10, max_event_time),"
									 "       watermark = CASE WHEN $11 > '-infinity' THEN $11 END,"
									 "       attempts = 0, last_batch_at = pg_catalog.now()"
									 " WHERE result = $1::pg_catalog.oid",
									 3 + VIEW_OUTCOME_COLUMNS, uargtypes),
							 uvalues, unulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not advance continuous view %u", lfirst_oid(lc));
	}
}

/*
 * RunBatch applies one batch of the group's stream to the group's views
 * (see the top of the file) and tells whether it was cut at batch_size.
 */
static bool
RunBatch(List *group, char **stream_end, bool skipping)
{
	ActiveView *first = linitial(group);
	List	   *views = NIL;
	List	   *parts_numbers = NIL;	/* their part numbers (view.c) */
	List	   *fragments = NIL;
	List	   *columns = NIL;
	List	   *locked = NIL;
	Oid			argtypes[10];
	Datum		values[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int			nargs;
	List	   *poison = NIL;
	bool		isnull;
	char	   *end_text;
	uint64		committed;
	uint64		commits;
	Datum		progress = (Datum) 0;
	Datum		batch_end;
	int64		events = 0;
	Datum	   *outcome;
	char	   *outnulls;
	bool		more = false;
	int			batch_size = INT_MAX;
	char	   *stream_name;
	char	   *sql;
	List	   *later_ends = NIL;
	char	   *lo_text = NULL;	/* the batch's rows lie between these */
	char	   *hi_text = NULL;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	/*
	 * Read before the batch's snapshot is taken: every event it counts is
	 * then in this batch or an earlier one (MayExceed).
	 */
	committed = StreamEventsCommitted(first->stream, &commits);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;

	/*
	 * Lock the result tables before the catalog rows, in the order DROP
	 * TABLE of a result table takes them (its sql_drop trigger then deletes
	 * the row); a view dropped meanwhile is left out.
	 */
	locked = LockGroupTables(group, &batch_size);
	if (locked == NIL)
	{
		CommitTransactionCommand();
		return false;
	}

	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());

	/* The views still active with the progress the group was formed on. */
	progress = ReadGroupViews(first, locked, &views, &parts_numbers, &fragments, &columns);
	/*
	 * The stream's name is read under the lock the batch statement takes: a
	 * RENAME or SET SCHEMA of it in flight commits first.  A stream dropped
	 * meanwhile took its views with it.
	 */
	LockRelationOid(first->stream, AccessShareLock);
	if (views == NIL || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(first->stream)))
	{
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
		return false;
	}
	/* Handed to Citus by a way its planner hook did not see (citus.c). */
	StreamCheckNotCitusTable(first->stream, "a stream");
	stream_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(first->stream)),
											 get_rel_name(first->stream));
	ReportBatch(stream_name, views);

	/* The views' owner, with the views' settings. */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(first->owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = ApplyViewSettings(first);

	batch_end = FindBatchEnd(first, views, stream_end, progress, batch_size, committed, commits,
							 stream_name, &end_text, &lo_text, &hi_text, &later_ends, &more);

	StreamInjectionPoint("batch-bounds");

	/* The batch, read once for every view of the group. */
	sql = StreamBatchStatement(first->stream, columns, parts_numbers, fragments, true,
							   lo_text != NULL, skipping);
	argtypes[0] = PG_SNAPSHOTOID;
	values[0] = progress;
	argtypes[1] = PG_SNAPSHOTOID;
	values[1] = batch_end;
	SegmentsToRead(first->stream, progress, values + 2);
	for (int i = 2; i < 6; i++)
		argtypes[i] = INT8OID;
	nargs = 6;
	if (lo_text != NULL || skipping)
	{
		argtypes[6] = argtypes[7] = TIDOID;
		nulls[6] = nulls[7] = lo_text != NULL ? ' ' : 'n';
		values[6] = lo_text ? DirectFunctionCall1(tidin, CStringGetDatum(lo_text)) : (Datum) 0;
		values[7] = hi_text ? DirectFunctionCall1(tidin, CStringGetDatum(hi_text)) : (Datum) 0;
		nargs = 8;
	}
	if (skipping)
	{
		poison = LeaveOutPoison(first->stream, sql, lo_text != NULL, argtypes, values, nulls);
		nargs = 10;
	}
	StreamApplyingBatch = true;
	if (SPI_execute_plan(Prepare(sql, nargs, argtypes), values, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not run the batch of %s", stream_name);
	StreamApplyingBatch = false;
	events = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	round_events += events;
	outcome = palloc(sizeof(Datum) * list_length(views) * VIEW_BATCH_COLUMNS);
	outnulls = palloc(sizeof(char) * list_length(views) * VIEW_BATCH_COLUMNS);
	for (int i = 0; i < list_length(views) * VIEW_BATCH_COLUMNS; i++)
	{
		outcome[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 2, &isnull);
		outnulls[i] = isnull ? 'n' : ' ';
	}

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	StreamInjectionPoint("batch-applied");

	/* The end of the batch is the new progress. */
	AdvanceViews(views, batch_end, events, outcome, outnulls);
	if (poison != NIL)
	{
		RecordDeadLetters(linitial_oid(views), first->stream, poison);
		StreamInjectionPoint("batch-skipped");
	}

	StreamInjectionPoint("batch-progress");
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	StreamInjectionPoint("batch-committed");
	*stream_end = end_text;
	KeepCuts(first->stream, batch_size, end_text, later_ends);

	/* A batch cut short leaves events behind: count again next time. */
	if (!more)
		RememberCount(views, committed, commits);
	return more;
}

/*
 * LockGroupTables locks the result tables of the group's views, and
 * returns the views whose table still exists; *batch_size: the smallest
 * batch size among them.
 */
static List *
LockGroupTables(List *group, int *batch_size)
{
	List	   *locked = NIL;
	ListCell   *lc;

	foreach(lc, group)
	{
		ActiveView *v = lfirst(lc);

		LockRelationOid(v->view, RowExclusiveLock);
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(v->view)))
			locked = lappend(locked, v);
		*batch_size = Min(*batch_size, v->batch_size);
	}
	return locked;
}

/*
 * ReportBatch shows in pg_stat_activity which views a batch of the
 * stream is applied to.
 */
static void
ReportBatch(const char *stream_name, List *views)
{
	StringInfoData names;
	ListCell   *lc;

	initStringInfo(&names);
	foreach(lc, views)
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
						 get_rel_name(lfirst_oid(lc)));
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("stream_ext: applying a batch of %s to %s",
									stream_name, names.data));
}

/*
 * LeaveOutPoison is a batch's part under on_error => 'skip', after it
 * failed: it finds the events the batch fails on by trying it on halves of
 * the batch (FindPoison), each try rolled back, and sets $9 of the batch
 * statement (sql) to them, so that it runs without them; it returns them.
 * ranged: the statement has $7, $8.
 */
static List *
LeaveOutPoison(Oid stream, const char *sql, bool ranged, Oid *argtypes, Datum *values,
			   char *nulls)
{
	SPIPlanPtr	plan;
	ItemPointer tids;
	int			ntids;
	Datum	   *elems;
	List	   *poison;
	ListCell   *lc;
	bool		isnull;

	argtypes[8] = argtypes[9] = TIDARRAYOID;
	plan = Prepare(sql, 10, argtypes);
	values[8] = PointerGetDatum(construct_empty_array(TIDOID));
	nulls[9] = 'n';
	if (SPI_execute_with_args(StreamBatchEventsStatement(stream, true, ranged),
							  10, argtypes, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the events of a batch of %s", StreamQualifiedName(stream));
	ntids = (int) SPI_processed;
	tids = palloc(sizeof(ItemPointerData) * Max(ntids, 1));
	for (int i = 0; i < ntids; i++)
		ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 1, &isnull)),
						&tids[i]);
	StreamApplyingBatch = true;
	poison = FindPoison(plan, values, nulls, tids, 0, ntids);
	StreamApplyingBatch = false;
	elems = palloc(sizeof(Datum) * Max(list_length(poison), 1));
	foreach(lc, poison)
		elems[foreach_current_index(lc)] = PointerGetDatum(&((PoisonEvent *) lfirst(lc))->tid);
	values[8] = PointerGetDatum(construct_array(elems, list_length(poison), TIDOID,
												sizeof(ItemPointerData), false, TYPALIGN_SHORT));
	nulls[9] = 'n';
	return poison;
}

/*
 * FindPoison returns the events among tids[lo..hi) that the batch fails
 * on, each with its error: the batch restricted to them ($10) is tried
 * in a subtransaction rolled back whatever happens; where it fails, each
 * half is tried, down to single events.  An error no single event causes
 * (an overflow of a sum over many, say) finds none: the batch then fails
 * again without them, and the view goes to error.  A transient error is
 * thrown again, so that the batch is retried whole.
 */
static List *
FindPoison(SPIPlanPtr plan, Datum *values, char *nulls, ItemPointer tids, int lo, int hi)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Datum	   *elems;
	ErrorData  *volatile edata = NULL;

	if (hi <= lo)
		return NIL;
	elems = palloc(sizeof(Datum) * (hi - lo));
	for (int i = lo; i < hi; i++)
		elems[i - lo] = PointerGetDatum(&tids[i]);
	values[9] = PointerGetDatum(construct_array(elems, hi - lo, TIDOID, sizeof(ItemPointerData),
												false, TYPALIGN_SHORT));
	nulls[9] = ' ';

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not try a part of the batch");
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;

	if (edata == NULL)
		return NIL;
	switch (edata->sqlerrcode)
	{
		case ERRCODE_T_R_SERIALIZATION_FAILURE:
		case ERRCODE_T_R_DEADLOCK_DETECTED:
		case ERRCODE_LOCK_NOT_AVAILABLE:
		case ERRCODE_QUERY_CANCELED:
		case ERRCODE_ADMIN_SHUTDOWN:
			ReThrowError(edata);
			break;
		default:
			break;
	}
	if (hi - lo == 1)
	{
		PoisonEvent *p = palloc(sizeof(PoisonEvent));

		ItemPointerCopy(&tids[lo], &p->tid);
		p->edata = edata;
		return list_make1(p);
	}
	FreeErrorData(edata);
	CHECK_FOR_INTERRUPTS();
	return list_concat(FindPoison(plan, values, nulls, tids, lo, lo + (hi - lo) / 2),
					   FindPoison(plan, values, nulls, tids, lo + (hi - lo) / 2, hi));
}

/*
 * RecordDeadLetters keeps the events a view's batch left out in
 * stream_ext.dead_letter, with the error each failed with, and counts
 * them in the view's events_skipped; in the batch's transaction.
 */
static void
RecordDeadLetters(Oid view, Oid stream, List *poison)
{
	ListCell   *lc;
	char	   *sql = psprintf("INSERT INTO stream_ext.dead_letter (view, stream, event, error, error_code,"
							   "  error_detail, error_hint, error_context)"
							   " SELECT $1::pg_catalog.oid, $2::pg_catalog.oid,"
							   "        pg_catalog.to_jsonb(e) OPERATOR(pg_catalog.-) %s, $4, $5, $6, $7, $8"
							   "   FROM %s e WHERE e.ctid OPERATOR(pg_catalog.=) $3",
							   quote_literal_cstr(STREAM_TAG_COLUMN), StreamQualifiedName(stream));
	Datum		values[8];
	char		nulls[8];

	foreach(lc, poison)
	{
		PoisonEvent *p = lfirst(lc);

		memset(nulls, ' ', sizeof(nulls));
		values[0] = ObjectIdGetDatum(view);
		values[1] = ObjectIdGetDatum(stream);
		values[2] = PointerGetDatum(&p->tid);
		values[3] = CStringGetTextDatum(p->edata->message ? p->edata->message : "");
		values[4] = CStringGetTextDatum(unpack_sql_state(p->edata->sqlerrcode));
#define OPTIONAL_TEXT(i, s) (nulls[i] = (s) ? ' ' : 'n', values[i] = (s) ? CStringGetTextDatum(s) : (Datum) 0)
		OPTIONAL_TEXT(5, p->edata->detail);
		OPTIONAL_TEXT(6, p->edata->hint);
		OPTIONAL_TEXT(7, p->edata->context);
#undef OPTIONAL_TEXT
		if (SPI_execute_with_args(sql, 8, (Oid[]) {OIDOID, OIDOID, TIDOID, TEXTOID, TEXTOID, TEXTOID,
								  TEXTOID, TEXTOID}, values, nulls, false, 0) != SPI_OK_INSERT ||
			SPI_processed != 1)
			elog(ERROR, "could not keep an event of %s as a dead letter", StreamQualifiedName(stream));
	}
	values[0] = ObjectIdGetDatum(view);
	values[1] = Int64GetDatum(list_length(poison));
	if (SPI_execute_with_args("UPDATE stream_ext.continuous_view"
							  "   SET events_skipped = events_skipped OPERATOR(pg_catalog.+) $2"
							  " WHERE result = $1::pg_catalog.oid",
							  2, (Oid[]) {OIDOID, INT8OID}, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not count the events skipped by %s", StreamQualifiedName(view));
	ereport(LOG,
			(errmsg("stream_ext: continuous view \"%s\" skipped %d event(s) its query fails on: %s",
					get_rel_name(view), list_length(poison),
					((PoisonEvent *) linitial(poison))->edata->message),
			 errdetail("They are kept in stream_ext.dead_letters.")));
}

/*
 * FindCuts returns the cuts kept for a stream, or NULL.
 */
static BatchCuts *
FindCuts(Oid stream)
{
	ListCell   *lc;

	foreach(lc, batch_cuts)
	{
		if (((BatchCuts *) lfirst(lc))->stream == stream)
			return lfirst(lc);
	}
	return NULL;
}

/*
 * KeepCuts keeps the ends of a stream's next batches, after the one that
 * ended at expected (see BatchCuts).
 */
static void
KeepCuts(Oid stream, int batch_size, const char *expected, List *ends)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	BatchCuts  *cuts = FindCuts(stream);
	ListCell   *lc;

	if (cuts == NULL)
	{
		if (ends == NIL)
		{
			MemoryContextSwitchTo(old);
			return;
		}
		cuts = palloc0(sizeof(BatchCuts));
		cuts->stream = stream;
		batch_cuts = lappend(batch_cuts, cuts);
	}
	else
	{
		pfree(cuts->expected);
		list_free_deep(cuts->ends);
	}
	cuts->batch_size = batch_size;
	cuts->expected = pstrdup(expected);
	cuts->ends = NIL;
	foreach(lc, ends)
		cuts->ends = lappend(cuts->ends, pstrdup(lfirst(lc)));
	if (cuts->ends == NIL)
	{
		batch_cuts = list_delete_ptr(batch_cuts, cuts);
		pfree(cuts->expected);
		pfree(cuts);
	}
	MemoryContextSwitchTo(old);
}

/*
 * SegmentsToRead sets ranges[0..3] to the two ranges of tags,
 * [ranges[0], ranges[1]) and [ranges[2], ranges[3]), of the segments a
 * batch after progress must read: all but those the progress has
 * consumed entirely (retired with a bound at or below its xmin; the
 * rows of every transaction of theirs are seen by it).  Slots are used
 * in turn and consumed in the same order, so the others form one run,
 * around the ring of slots, that ends with the current one.
 */
static void
SegmentsToRead(Oid stream, Datum progress, Datum *ranges)
{
	Datum		values[2] = {ObjectIdGetDatum(stream), progress};
	int			nslots;
	bool	   *consumed;
	int			first = -1;
	int			runs = 0;

	if (SPI_execute_plan(Prepare("SELECT g.slot, g.retired_before IS NOT NULL"
								 "       AND g.retired_before <= pg_catalog.pg_snapshot_xmin($2)"
								 "  FROM stream_ext.segment g WHERE g.stream = $1::pg_catalog.oid"
								 " ORDER BY g.slot",
								 2, (Oid[]) {OIDOID, PG_SNAPSHOTOID}),
						 values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the segments of stream %u", stream);
	nslots = (int) SPI_processed;
	consumed = palloc0(sizeof(bool) * Max(nslots, 1));
	for (int i = 0; i < nslots; i++)
	{
		bool		isnull;
		int			slot = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		if (slot != i)
			nslots = 0;			/* not slots 0..n-1: read everything */
		else
			consumed[i] = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}

	/* The run of slots to read: where a consumed slot is followed by one to read. */
	for (int i = 0; i < nslots; i++)
	{
		if (!consumed[i] && consumed[(i + nslots - 1) % nslots])
		{
			first = i;
			runs++;
		}
	}
	if (runs != 1)
	{
		/* Nothing consumed (or no segments): every tag. */
		ranges[0] = Int64GetDatum(0);
		ranges[1] = Int64GetDatum(PG_INT64_MAX);
		ranges[2] = ranges[3] = Int64GetDatum(0);
	}
	else
	{
		int			last = first;

		while (!consumed[(last + 1) % nslots])
			last = (last + 1) % nslots;
		ranges[0] = Int64GetDatum((int64) first << STREAM_TAG_SLOT_SHIFT);
		if (last >= first)
		{
			ranges[1] = Int64GetDatum((int64) (last + 1) << STREAM_TAG_SLOT_SHIFT);
			ranges[2] = ranges[3] = Int64GetDatum(0);
		}
		else
		{
			ranges[1] = Int64GetDatum((int64) nslots << STREAM_TAG_SLOT_SHIFT);
			ranges[2] = Int64GetDatum(0);
			ranges[3] = Int64GetDatum((int64) (last + 1) << STREAM_TAG_SLOT_SHIFT);
		}
	}
}

/*
 * MayExceed tells whether more than batch_size events of the stream can
 * have been committed since the last batch of any of the views began, by
 * more than one transaction (a transaction is never split, so the events
 * of one need no count), or whether that is unknown.  The count includes
 * rows of rolled-back savepoints, so it errs on the side of counting.
 */
static bool
MayExceed(List *views, uint64 committed, uint64 commits, int batch_size)
{
	ListCell   *lc;

	if (seen_counts == NULL)
		return true;
	foreach(lc, views)
	{
		Oid			view = lfirst_oid(lc);
		SeenCount  *c = hash_search(seen_counts, &view, HASH_FIND, NULL);

		if (c == NULL || committed < c->events || commits < c->commits ||
			(committed - c->events > (uint64) batch_size && commits - c->commits > 1))
			return true;
	}
	return false;
}

/*
 * RememberCount records the counts a committed batch of the views began
 * with, once the batch took every event committed before it began.
 */
static void
RememberCount(List *views, uint64 committed, uint64 commits)
{
	ListCell   *lc;

	if (seen_counts == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(SeenCount);
		seen_counts = hash_create("stream_ext seen counts", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	foreach(lc, views)
	{
		Oid			view = lfirst_oid(lc);
		SeenCount  *c = hash_search(seen_counts, &view, HASH_ENTER, NULL);

		c->events = committed;
		c->commits = commits;
	}
}

/*
 * Prepare returns the kept plan of a statement, preparing it the first
 * time (see PreparedStatement).
 */
static SPIPlanPtr
Prepare(const char *sql, int nargs, Oid *argtypes)
{
	ListCell   *lc;
	PreparedStatement *entry;
	MemoryContext old;
	SPIPlanPtr	plan;

	foreach(lc, prepared)
	{
		entry = lfirst(lc);
		if (entry->nargs == nargs && strcmp(entry->sql, sql) == 0)
			return entry->plan;
	}

	if (list_length(prepared) >= PREPARED_STATEMENTS_MAX)
	{
		foreach(lc, prepared)
		{
			entry = lfirst(lc);
			SPI_freeplan(entry->plan);
			pfree(entry->sql);
			pfree(entry);
		}
		list_free(prepared);
		prepared = NIL;
	}

	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare a batch statement: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep a batch statement");

	old = MemoryContextSwitchTo(TopMemoryContext);
	entry = palloc(sizeof(PreparedStatement));
	entry->sql = pstrdup(sql);
	entry->nargs = nargs;
	entry->plan = plan;
	prepared = lappend(prepared, entry);
	MemoryContextSwitchTo(old);
	return plan;
}

/*
 * CountAttempt raises the attempts counter of the group's views, in a
 * transaction of its own, so that a batch that crashes the worker is
 * counted; with undo, it takes back the count of a batch that was given up
 * before it did anything.
 */
static void
CountAttempt(List *group, bool undo)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	values[0] = ViewOidArray(group);
	if (SPI_execute_with_args(undo ?
							  "UPDATE stream_ext.continuous_view c"
							  "   SET attempts = pg_catalog.int4larger(c.attempts - 1, 0)"
							  "  FROM (" VIEW_ROWS_IN_ORDER ") l"
							  " WHERE c.result = l.result" :
							  "UPDATE stream_ext.continuous_view c"
							  "   SET attempts = CASE WHEN c.attempted_at < pg_catalog.pg_postmaster_start_time()"
							  "                       THEN 1 ELSE c.attempts + 1 END,"
							  "       attempted_at = pg_catalog.now()"
							  "  FROM (" VIEW_ROWS_IN_ORDER ") l"
							  " WHERE c.result = l.result AND c.state = 'active'",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not count an attempt");
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}

/*
 * RecordRetry counts a transient failure of the group's batch and makes
 * its views wait before the next try, twice as long each time.
 */
static void
RecordRetry(List *group, const char *message)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ListCell   *lc;
	int			failures = 0;

	if (backoffs == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Backoff);
		backoffs = hash_create("stream_ext backoffs", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	foreach(lc, group)
	{
		ActiveView *v = lfirst(lc);
		bool		found;
		Backoff    *b = hash_search(backoffs, &v->view, HASH_ENTER, &found);
		int			delay_ms;

		b->failures = found ? b->failures + 1 : 1;
		delay_ms = BACKOFF_MIN_MS << Min(b->failures - 1, 10);
		delay_ms = Min(delay_ms, BACKOFF_MAX_MS);
		b->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay_ms);
		failures = Max(failures, b->failures);
	}
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	ereport(LOG,
			(errmsg("stream_ext: a batch of stream \"%s\" will be retried (failure %d): %s",
					get_rel_name(((ActiveView *) linitial(group))->stream),
					failures, message)));
	CommitTransactionCommand();
	PG_TRY();
	{
		CountRetry(group);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* Only a counter: the backoff above holds in any case. */
		edata = StreamRecoverFromError(cxt, owner);
		ereport(LOG,
				(errmsg("stream_ext: could not count the retry: %s", edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * CountRetry adds the retry to the counters of the group's views, in a
 * transaction of its own.
 */
static void
CountRetry(List *group)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	values[0] = ViewOidArray(group);
	(void) SPI_execute_with_args("UPDATE stream_ext.continuous_view c"
								 "   SET retries = c.retries + 1, attempts = 0"
								 "  FROM (" VIEW_ROWS_IN_ORDER ") l"
								 " WHERE c.result = l.result",
								 1, argtypes, values, NULL, false, 0);
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}

/*
 * BackingOff tells whether a view waits after a transient failure.
 */
static bool
BackingOff(Oid view)
{
	Backoff    *b;

	if (backoffs == NULL)
		return false;
	b = hash_search(backoffs, &view, HASH_FIND, NULL);
	return b != NULL && GetCurrentTimestamp() < b->retry_at;
}

/*
 * ForgetBackoff clears the failures of views whose batch went through.
 */
static void
ForgetBackoff(List *group)
{
	ListCell   *lc;

	if (backoffs == NULL)
		return;
	foreach(lc, group)
		hash_search(backoffs, &((ActiveView *) lfirst(lc))->view, HASH_REMOVE, NULL);
}

/*
 * ViewOidArray returns the group's result tables as an oid[].
 */
static Datum
ViewOidArray(List *group)
{
	Datum	   *oids = palloc(sizeof(Datum) * list_length(group));
	ListCell   *lc;

	foreach(lc, group)
		oids[foreach_current_index(lc)] = ObjectIdGetDatum(((ActiveView *) lfirst(lc))->view);
	return PointerGetDatum(construct_array(oids, list_length(group), OIDOID,
										   sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * MarkViewError puts a view in state 'error' with the message, and the
 * SQLSTATE, detail, hint and context of the error that stopped its batch
 * (edata, NULL when the worker found the fault itself); the server log
 * gets all of them too.
 */
static void
MarkViewError(Oid view, const char *message, ErrorData *edata)
{
	Oid			argtypes[6] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', 'n', 'n', 'n', 'n'};
	const char *parts[4] = {NULL, NULL, NULL, NULL};

	if (edata != NULL)
	{
		parts[0] = unpack_sql_state(edata->sqlerrcode);
		parts[1] = edata->detail;
		parts[2] = edata->hint;
		parts[3] = edata->context;
	}
	values[0] = ObjectIdGetDatum(view);
	values[1] = CStringGetTextDatum(message);
	for (int i = 0; i < 4; i++)
	{
		if (parts[i] != NULL)
		{
			values[i + 2] = CStringGetTextDatum(parts[i]);
			nulls[i + 2] = ' ';
		}
	}

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	ereport(LOG,
			(errmsg("stream_ext: continuous view \"%s\" is in error: %s",
					get_rel_name(view), message),
			 parts[1] ? errdetail_internal("%s", parts[1]) : 0,
			 parts[2] ? errhint("%s", parts[2]) : 0,
			 parts[3] ? errcontext("%s", parts[3]) : 0));
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	(void) SPI_execute_with_args("UPDATE stream_ext.continuous_view"
								 "   SET state = 'error', last_error = $2, last_error_code = $3,"
								 "       last_error_detail = $4, last_error_hint = $5,"
								 "       last_error_context = $6,"
								 "       last_error_at = pg_catalog.now(), attempts = 0"
								 " WHERE result = $1::pg_catalog.oid",
								 6, argtypes, values, nulls, false, 0);
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}
