/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  A continuous view's result and state tables are written by the
 *	  worker's batches only.
 *
 * Each gets a statement-level BEFORE INSERT, UPDATE, DELETE and TRUNCATE
 * trigger (COPY FROM and MERGE fire them too) whose function refuses the
 * statement unless this backend is applying a batch (apply.c sets
 * StreamApplyingBatch around the batch statement).  A trigger costs
 * nothing to anyone else's statements and is dumped and restored with
 * the table (after its data).  It fires ALWAYS, also under
 * session_replication_role = replica.  The table's owner could drop or
 * disable it; that would only let the owner break their own view.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "stream_ext.h"

/* Set while a batch statement runs (apply.c). */
bool		StreamApplyingBatch = false;

PG_FUNCTION_INFO_V1(stream_ext_guard_result);

/*
 * stream_ext_guard_result is the trigger function; its argument says
 * whether the table is the view's result ("result") or state ("state").
 */
Datum
stream_ext_guard_result(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *command;
	const char *relname;
	bool		state;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		elog(ERROR, "stream_ext_guard_result must be a statement-level BEFORE trigger");

	if (StreamApplyingBatch)
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		command = "insert into";
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		command = "update";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		command = "delete from";
	else
		command = "truncate";
	relname = RelationGetRelationName(trigdata->tg_relation);
	state = trigdata->tg_trigger->tgnargs > 0 &&
		strcmp(trigdata->tg_trigger->tgargs[0], "state") == 0;

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 state ?
			 errmsg("cannot %s \"%s\", the state of a continuous view", command, relname) :
			 errmsg("cannot %s continuous view \"%s\"", command, relname),
			 errdetail("A continuous view's tables are written by stream_ext's workers only, from the events of its stream."),
			 errhint("Query it; stream_ext.drop_continuous_view() drops it.")));
	return PointerGetDatum(NULL);	/* keep compiler quiet */
}
