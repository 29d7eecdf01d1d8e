/*-------------------------------------------------------------------------
 *
 * flush.c
 *	  stream_ext.flush(): wait until every event committed before the call
 *	  is reflected in every active continuous view.
 *
 * It takes a snapshot, wakes the database's worker, and sleeps on the
 * condition variable the worker broadcasts after each round of batches,
 * until the progress of every active view covers that snapshot (batch.c).
 * Views in error are reported once the other views have caught up, so
 * that their results are there: by a warning, or with strict by an error,
 * so that a view in error does not stop the flushes of the database's
 * other views.  It fails on timeout, and in REPEATABLE READ or
 * SERIALIZABLE transactions, whose snapshot could not see the results.
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
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "stream_ext.h"

PG_FUNCTION_INFO_V1(stream_ext_flush);

/*
 * CurrentSnapshot returns pg_current_snapshot(), in the caller's memory
 * context.  SPI must be connected.
 */
static Datum
CurrentSnapshot(void)
{
	bool		isnull;

	if (SPI_execute("SELECT pg_catalog.pg_current_snapshot()", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not take a snapshot");
	return SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
							 false, -1);
}

/*
 * stream_ext_flush waits for the views; see the file header.
 */
Datum
stream_ext_flush(PG_FUNCTION_ARGS)
{
	Interval   *timeout = PG_GETARG_INTERVAL_P(0);
	bool		strict = PG_NARGS() > 1 && PG_GETARG_BOOL(1);
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz deadline;
	Datum		target;
	Oid			argtypes[1] = {PG_SNAPSHOTOID};
	bool		isnull;
	int64		passes;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("stream_ext.flush() cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("The transaction's snapshot would not see the results flush() waits for."),
				 errhint("Call it in READ COMMITTED or outside a transaction block.")));

	StreamCheckVersion();

	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(start),
													   PointerGetDatum(timeout)));

	SPI_connect();

	/*
	 * Views with an output stream, and transforms, write events that other
	 * views may read: each such link in a chain takes one more pass, with a new snapshot once the
	 * last one is covered.
	 */
	if (SPI_execute("SELECT pg_catalog.count(*) FROM stream_ext.continuous_view"
					" WHERE (output_stream IS NOT NULL OR target IS NOT NULL) AND state = 'active'", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the continuous views");
	passes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	target = CurrentSnapshot();

	/* Views of a stream waiting for finish_restore() would never catch up. */
	if (SPI_execute_with_args("SELECT c.stream::pg_catalog.oid, s.system_identifier"
							  "  FROM stream_ext.continuous_view c JOIN stream_ext.stream s ON s.relid = c.stream"
							  " WHERE c.state = 'active' AND s.system_identifier <> $1",
							  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum((int64) GetSystemIdentifier())},
							  NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the continuous views");
	if (SPI_processed > 0)
		StreamCheckRestored(DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
							DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)));

	for (;;)
	{
		int64		pending;
		char	   *errors;
		TimestampTz now;

		/* A new snapshot each time: the views' progress as committed now. */
		if (SPI_execute_with_args("SELECT pg_catalog.count(*) FILTER (WHERE state OPERATOR(pg_catalog.=) 'active'"
								  "                        AND NOT stream_ext.covers(progress, $1)),"
								  "       pg_catalog.string_agg(result::pg_catalog.text OPERATOR(pg_catalog.||) ': '"
								  "                             OPERATOR(pg_catalog.||) last_error, '; '"
								  "                             ORDER BY result::pg_catalog.text)"
								  "         FILTER (WHERE state OPERATOR(pg_catalog.=) 'error')"
								  "  FROM stream_ext.continuous_view",
								  1, argtypes, &target, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the progress of the continuous views");
		pending = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		errors = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		if (pending == 0 && passes-- > 0)
		{
			target = CurrentSnapshot();
			continue;
		}
		now = GetCurrentTimestamp();
		if (errors != NULL && (pending == 0 || now >= deadline))
			ereport(strict ? ERROR : WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("a continuous view is in error"),
					 errdetail("%s", errors),
					 errhint("Fix the cause, then run stream_ext.resume_continuous_view(); its events are kept.")));
		if (pending == 0)
			break;
		if (now >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("stream_ext.flush() timed out with " INT64_FORMAT " continuous view(s) behind", pending),
					 errdetail("The worker of this database: %s.",
							   text_to_cstring(DatumGetTextPP(DirectFunctionCall1(stream_ext_worker_state, (Datum) 0)))),
					 errhint("Check stream_ext.continuous_views, and that stream_ext.enabled is on so that the worker runs.")));

		StreamWakeDatabaseWorker(MyDatabaseId, true);
		(void) ConditionVariableTimedSleep(StreamFlushCV(),
										   Min(100L, TimestampDifferenceMilliseconds(now, deadline)),
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	SPI_finish();
	PG_RETURN_VOID();
}
