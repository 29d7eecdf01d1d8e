/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  Applying batches: the worker runs each active view's batch statement
 *	  (view.c) and advances the view's progress, in one transaction.
 *
 * The transaction is REPEATABLE READ, so the batch statement and the new
 * progress, pg_current_snapshot(), share one snapshot: the events the
 * batch applied are exactly those the new progress sees and the old one
 * did not (batch.c).  The result table and then the catalog row (FOR
 * UPDATE) are locked first, so a concurrent pause, resume or drop either
 * waits for the batch or makes it skip or retry, and never deadlocks
 * with it.  The statement runs as the view's owner, never as
 * superuser, with the TimeZone and DateStyle captured when the view was
 * created and a statement_timeout of 0.
 *
 * A batch that fails for a transient reason (serialization failure,
 * deadlock, lock timeout) is retried at the next wake-up; any other error
 * puts the view in state 'error' with the message, and the other views go
 * on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "stream_ext.h"

static List *ActiveViews(void);
static void ApplyView(Oid view);
static void MarkViewError(Oid view, const char *message);

PG_FUNCTION_INFO_V1(stream_ext_set_view_state);

/*
 * StreamApplyViews runs one batch for every active view of the database.
 */
void
StreamApplyViews(void)
{
	List	   *views = ActiveViews();
	ListCell   *lc;

	foreach(lc, views)
	{
		CHECK_FOR_INTERRUPTS();
		ApplyView(lfirst_oid(lc));
	}
	list_free(views);
	ConditionVariableBroadcast(StreamFlushCV());
}

/*
 * ActiveViews lists the result tables of the active views.
 */
static List *
ActiveViews(void)
{
	List	   *views = NIL;
	MemoryContext caller = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT result::pg_catalog.oid FROM stream_ext.continuous_view"
					" WHERE state = 'active' ORDER BY result", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list continuous views");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			view = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(caller);

		views = lappend_oid(views, view);
		MemoryContextSwitchTo(old);
	}
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	return views;
}

/*
 * ApplyView runs one batch of a view, or records why it could not.
 */
static void
ApplyView(Oid view)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	PG_TRY();
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1];
		bool		isnull;
		HeapTuple	row;
		TupleDesc	desc;
		char	   *batch;
		Datum		progress;
		Oid			view_owner;
		char	   *timezone;
		char	   *datestyle;
		Oid			save_userid;
		int			save_sec_context;
		int			save_nestlevel;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		XactIsoLevel = XACT_REPEATABLE_READ;

		/*
		 * Lock the result table before the catalog row, in the order DROP
		 * TABLE of the result table takes them (its sql_drop trigger then
		 * deletes the row); a view dropped meanwhile is skipped.
		 */
		LockRelationOid(view, RowExclusiveLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(view)))
		{
			UnlockRelationOid(view, RowExclusiveLock);
			CommitTransactionCommand();
			pgstat_report_activity(STATE_IDLE, NULL);
			return;
		}

		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());

		values[0] = ObjectIdGetDatum(view);
		if (SPI_execute_with_args("SELECT batch, progress, owner::pg_catalog.oid, timezone, datestyle"
								  "  FROM stream_ext.continuous_view"
								  " WHERE result = $1::pg_catalog.oid AND state = 'active'"
								  "   FOR UPDATE",
								  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read continuous view %u", view);

		if (SPI_processed == 1)
		{
			row = SPI_tuptable->vals[0];
			desc = SPI_tuptable->tupdesc;
			batch = SPI_getvalue(row, desc, 1);
			progress = SPI_getbinval(row, desc, 2, &isnull);
			view_owner = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
			timezone = SPI_getvalue(row, desc, 4);
			datestyle = SPI_getvalue(row, desc, 5);

			pgstat_report_activity(STATE_RUNNING,
								   psprintf("stream_ext: applying a batch to %s",
											get_rel_name(view)));

			/* The view's owner, with the view's settings. */
			GetUserIdAndSecContext(&save_userid, &save_sec_context);
			SetUserIdAndSecContext(view_owner,
								   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
								   SECURITY_RESTRICTED_OPERATION);
			save_nestlevel = NewGUCNestLevel();
			(void) set_config_option("search_path", "pg_catalog, pg_temp",
									 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
			(void) set_config_option("TimeZone", timezone,
									 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
			(void) set_config_option("DateStyle", datestyle,
									 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
			(void) set_config_option("statement_timeout", "0",
									 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

			argtypes[0] = PG_SNAPSHOTOID;
			values[0] = progress;
			if (SPI_execute_with_args(batch, 1, argtypes, values, NULL, false, 0) < 0)
				elog(ERROR, "could not run the batch of continuous view %u", view);

			AtEOXact_GUC(false, save_nestlevel);
			SetUserIdAndSecContext(save_userid, save_sec_context);

			/* The snapshot the batch ran under is the new progress. */
			argtypes[0] = OIDOID;
			values[0] = ObjectIdGetDatum(view);
			if (SPI_execute_with_args("UPDATE stream_ext.continuous_view"
									  "   SET progress = pg_catalog.pg_current_snapshot(),"
									  "       batches = batches + 1,"
									  "       last_batch_at = pg_catalog.now()"
									  " WHERE result = $1::pg_catalog.oid",
									  1, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not advance continuous view %u", view);
		}

		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		CurrentResourceOwner = owner;

		switch (edata->sqlerrcode)
		{
			case ERRCODE_T_R_SERIALIZATION_FAILURE:
			case ERRCODE_T_R_DEADLOCK_DETECTED:
			case ERRCODE_LOCK_NOT_AVAILABLE:
			case ERRCODE_QUERY_CANCELED:
				/* Transient: the next wake-up retries. */
				ereport(LOG,
						(errmsg("stream_ext: batch of continuous view %u will be retried: %s",
								view, edata->message)));
				break;
			default:
				ereport(LOG,
						(errmsg("stream_ext: continuous view %u is in error: %s",
								view, edata->message)));
				MarkViewError(view, edata->message);
				break;
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * MarkViewError puts a view in state 'error' with the message.
 */
static void
MarkViewError(Oid view, const char *message)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(view);
	values[1] = CStringGetTextDatum(message);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	(void) SPI_execute_with_args("UPDATE stream_ext.continuous_view"
								 "   SET state = 'error', last_error = $2"
								 " WHERE result = $1::pg_catalog.oid",
								 2, argtypes, values, NULL, false, 0);
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}

/*
 * stream_ext_set_view_state pauses or resumes a view (resuming also
 * clears an error); the caller must own the view.
 */
Datum
stream_ext_set_view_state(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	char	   *state = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	StreamCheckOwner(view);
	values[0] = ObjectIdGetDatum(view);
	values[1] = CStringGetTextDatum(state);

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	if (SPI_execute_with_args("UPDATE stream_ext.continuous_view"
							  "   SET state = $2, last_error = NULL"
							  " WHERE result = $1::pg_catalog.oid",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not change the state of continuous view %u", view);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a continuous view", get_rel_name(view)),
				 errhint("SELECT * FROM stream_ext.continuous_views lists them.")));
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
	StreamWakeWorkerAtCommit();
	PG_RETURN_VOID();
}
