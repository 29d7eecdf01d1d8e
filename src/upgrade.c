/*-------------------------------------------------------------------------
 *
 * upgrade.c
 *	  ALTER EXTENSION stream_ext UPDATE from 0.1.0 to 0.2.0: each view's
 *	  tables and part of the batch statement made those of 0.2.0.
 *
 * Version 0.1.0 kept a view's groups twice: final values in its result
 * table, states in a state table k1..kn, s1..sm (with stream_ext_rev for
 * views that emit closed windows) in schema stream_ext.  Version 0.2.0
 * keeps both in the result table (result_table.c).  The update converts
 * the result table in place, so that its OID, privileges, indexes,
 * comments and the views over it stay: the state columns 0.2.0 adds are
 * added and filled from the state table, which is dropped; the final
 * values stay ordinary columns, which the batches write
 * (StreamLayoutWithoutGenerated).  A sliding window's steps were already
 * kept as 0.2.0 keeps them; the view it is read through is made again.
 * Every view's and transform's part of the batch statement is generated
 * again from its query and options, analyzed as its owner with its
 * search_path, time zone and date style.
 *
 * It runs inside ALTER EXTENSION, whose script is run as a superuser;
 * the queries are analyzed as their owners.
 *
 * Progress, counters and states are not touched: the events a view had
 * consumed stay consumed, those waiting are applied by the first batches
 * after the update, exactly once.  Anything that does not match what
 * 0.1.0 made raises an error naming the view, and the update is rolled
 * back whole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "batch_statement.h"

PG_FUNCTION_INFO_V1(stream_ext_upgrade_from_0_1_0);

/* A catalog row of continuous_view, as far as the update reads it. */
typedef struct OldView
{
	Oid			result;
	bool		transform;
	char	   *query;
	char	   *search_path;
	char	   *timezone;
	char	   *datestyle;
	Oid			owner;
	Oid			state_table;
	char	   *notify;
	bool		emit_final;
	char		late;
	bool		append;
	bool		output;
	Interval   *sliding;
	Interval   *step;
	Interval   *ttl;
	Interval   *session_gap;
	Interval   *max_future;
	uint32		part;
} OldView;

static List *ReadViews(void);
static void UpgradeView(OldView *v);
static List *UpgradeContinuousView(OldView *v);
static void ConvertResultTable(OldView *v, ViewShape *shape, ViewLayout *layout);

/*
 * stream_ext_upgrade_from_0_1_0 is run once by the update script.
 */
Datum
stream_ext_upgrade_from_0_1_0(PG_FUNCTION_ARGS)
{
	ListCell   *lc;

	if (!superuser() || !creating_extension)
		elog(ERROR, "the update from 0.1.0 runs in ALTER EXTENSION stream_ext UPDATE");

	/*
	 * What the update makes of a view (an index, the view a sliding
	 * window is read through) is the view owner's, as when the view was
	 * created: not a member of the extension, which a DROP EXTENSION
	 * would take with it.
	 */
	creating_extension = false;
	PG_TRY();
	{
		foreach(lc, ReadViews())
			UpgradeView(lfirst(lc));
	}
	PG_FINALLY();
	{
		creating_extension = true;
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}

/*
 * ReadViews reads the catalog rows of every view and transform.
 */
static List *
ReadViews(void)
{
	List	   *views = NIL;
	MemoryContext cxt = CurrentMemoryContext;

	SPI_connect();
	if (SPI_execute("SELECT result::pg_catalog.oid, kind = 'transform', query, search_path,"
					"       timezone, datestyle, owner::pg_catalog.oid, state_table::pg_catalog.oid,"
					"       notify, emit = 'final', late, append_to IS NOT NULL,"
					"       output_stream IS NOT NULL, sliding, step, ttl, session_gap, max_future, part"
					"  FROM stream_ext.continuous_view ORDER BY result",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the continuous views");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(cxt);
		OldView    *v = palloc0(sizeof(OldView));
		bool		isnull;
		Datum		d;

#define TEXT_AT(n) (SPI_getvalue(row, desc, (n)) ? pstrdup(SPI_getvalue(row, desc, (n))) : NULL)
#define INTERVAL_AT(n) (d = SPI_getbinval(row, desc, (n), &isnull), \
						isnull ? NULL : (Interval *) datumCopy(d, false, sizeof(Interval)))
		v->result = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		v->transform = DatumGetBool(SPI_getbinval(row, desc, 2, &isnull));
		v->query = TEXT_AT(3);
		v->search_path = TEXT_AT(4);
		v->timezone = TEXT_AT(5);
		v->datestyle = TEXT_AT(6);
		v->owner = DatumGetObjectId(SPI_getbinval(row, desc, 7, &isnull));
		d = SPI_getbinval(row, desc, 8, &isnull);
		v->state_table = isnull ? InvalidOid : DatumGetObjectId(d);
		v->notify = TEXT_AT(9);
		v->emit_final = DatumGetBool(SPI_getbinval(row, desc, 10, &isnull));
		v->late = TEXT_AT(11) ? TEXT_AT(11)[0] : 'u';
		v->append = DatumGetBool(SPI_getbinval(row, desc, 12, &isnull));
		v->output = DatumGetBool(SPI_getbinval(row, desc, 13, &isnull));
		v->sliding = INTERVAL_AT(14);
		v->step = INTERVAL_AT(15);
		v->ttl = INTERVAL_AT(16);
		v->session_gap = INTERVAL_AT(17);
		v->max_future = INTERVAL_AT(18);
		v->part = (uint32) DatumGetInt32(SPI_getbinval(row, desc, 19, &isnull));
#undef TEXT_AT
#undef INTERVAL_AT
		views = lappend(views, v);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return views;
}

/*
 * UpgradeView makes one view's (or transform's) tables and batch part
 * those of 0.2.0.
 */
static void
UpgradeView(OldView *v)
{
	int			save_nestlevel = NewGUCNestLevel();
	List	   *parts;
	Datum	   *elems;
	ListCell   *lc;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	/* The settings the view was created with. */
	(void) set_config_option("search_path", v->search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("TimeZone", v->timezone, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("DateStyle", v->datestyle, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	if (v->transform)
	{
		Oid			save_userid;
		int			save_sec_context;

		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(v->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		parts = StreamTransformFragment(v->query, v->part);
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	else
		parts = UpgradeContinuousView(v);
	AtEOXact_GUC(false, save_nestlevel);

	elems = palloc(sizeof(Datum) * list_length(parts));
	foreach(lc, parts)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(lfirst(lc));
	values[0] = ObjectIdGetDatum(v->result);
	values[1] = PointerGetDatum(construct_array(elems, list_length(parts), TEXTOID,
												-1, false, TYPALIGN_INT));
	values[2] = ObjectIdGetDatum(v->state_table);
	nulls[2] = v->sliding != NULL ? ' ' : 'n';
	SPI_connect();
	if (SPI_execute_with_args("UPDATE stream_ext.continuous_view"
							  "   SET batch = $2, state_table = $3::pg_catalog.oid"
							  " WHERE result = $1::pg_catalog.oid",
							  3, (Oid[]) {OIDOID, TEXTARRAYOID, OIDOID}, values, nulls,
							  false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not update continuous view %s", StreamQualifiedName(v->result));
	SPI_finish();
}

/*
 * UpgradeContinuousView converts a continuous view's tables and returns
 * its new part of the batch statement.
 */
static List *
UpgradeContinuousView(OldView *v)
{
	ContinuousViewOptions options;
	ViewShape  *shape;
	ViewLayout *layout;
	bool		emitting;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	List	   *parts;

	memset(&options, 0, sizeof(options));
	options.notify = v->notify;
	options.emit_final = v->emit_final;
	options.late = v->late;
	options.append_to = v->append ? "append" : NULL;
	options.output = v->output;
	options.sliding = v->sliding ? StreamIntervalSQL(v->sliding) : NULL;
	options.step = v->sliding ? StreamIntervalSQL(v->step) : NULL;
	options.ttl = v->ttl ? StreamIntervalSQL(v->ttl) : NULL;
	options.session_gap = v->session_gap ? StreamIntervalSQL(v->session_gap) : NULL;
	options.max_future = v->max_future ? StreamIntervalSQL(v->max_future) :
		"'01:00:00'::pg_catalog.interval";

	/* The query, analyzed as its owner (who may read what it reads). */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(v->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	shape = StreamRedefineView(v->query, &options, v->sliding ? v->step : NULL,
							   v->session_gap != NULL, &emitting);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	layout = StreamPlanLayout(shape, &options, emitting);
	if (!OidIsValid(v->state_table))
		elog(ERROR, "continuous view %s of version 0.1.0 has no state table", StreamQualifiedName(v->result));
	if (layout->steps)
	{
		/* The steps stay; the view over them is made again. */
		layout->table = v->state_table;
		StreamRunDDL(psprintf("CREATE OR REPLACE VIEW %s AS %s", StreamQualifiedName(v->result),
							  StreamSlidingSelect(shape, layout, &options, v->state_table)));
	}
	else
	{
		StreamLayoutWithoutGenerated(layout);
		ConvertResultTable(v, shape, layout);
		layout->table = v->result;
	}
	parts = StreamViewFragment(shape, &options, layout, v->part);
	AtEOXact_GUC(false, save_nestlevel);
	return parts;
}

/*
 * ConvertResultTable adds to the result table the columns of the states
 * that are not its own output columns, and the revision of an emitting
 * view, fills them from the state table and drops it.
 */
static void
ConvertResultTable(OldView *v, ViewShape *shape, ViewLayout *layout)
{
	char	   *result = StreamQualifiedName(v->result);
	char	   *state = StreamQualifiedName(v->state_table);
	StringInfoData alter;
	StringInfoData sets;
	StringInfoData match;
	ListCell   *lc;
	int			natts = 0;
	int			nstates = 0;

	/* The table must be what 0.1.0 made: the view's outputs, in order. */
	for (AttrNumber a = 1;; a++)
	{
		HeapTuple	tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(v->result), Int16GetDatum(a));
		Form_pg_attribute att;
		bool		same;

		if (!HeapTupleIsValid(tuple))
			break;
		att = (Form_pg_attribute) GETSTRUCT(tuple);
		same = !att->attisdropped && a <= list_length(layout->outputs) &&
			strcmp(NameStr(att->attname),
				   lfirst_node(TargetEntry, list_nth_cell(layout->outputs, a - 1))->resname) == 0;
		ReleaseSysCache(tuple);
		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot update continuous view %s: its result table's columns are not the view's",
							result),
					 errdetail("Column %d is not the view's output column of that place.", a),
					 errhint("Drop the columns added to the result table (or the view), then run ALTER EXTENSION stream_ext UPDATE again.")));
		natts++;
	}
	if (natts != list_length(layout->outputs))
		elog(ERROR, "result table %s has %d columns, its view %d outputs",
			 result, natts, list_length(layout->outputs));
	for (AttrNumber a = 1;; a++)
	{
		HeapTuple	tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(v->state_table), Int16GetDatum(a));

		if (!HeapTupleIsValid(tuple))
			break;
		/* s1..sm, beside k1..kn and stream_ext_rev */
		nstates += NameStr(((Form_pg_attribute) GETSTRUCT(tuple))->attname)[0] == 's' &&
			isdigit((unsigned char) NameStr(((Form_pg_attribute) GETSTRUCT(tuple))->attname)[1]) &&
			!((Form_pg_attribute) GETSTRUCT(tuple))->attisdropped;
		ReleaseSysCache(tuple);
	}
	if (nstates != list_length(layout->aggregates))
		elog(ERROR, "state table %s has %d states, view %s %d aggregates",
			 state, nstates, result, list_length(layout->aggregates));

	initStringInfo(&alter);
	initStringInfo(&sets);
	foreach(lc, layout->aggregates)
	{
		ViewAggregate *agg = lfirst(lc);

		if (!agg->hidden)
			continue;
		appendStringInfo(&alter, "%sADD COLUMN %s", alter.len > 0 ? ", " : "", StreamStateColumnDef(agg));
		appendStringInfo(&sets, "%s%s = o.s%d", sets.len > 0 ? ", " : "",
						 quote_identifier(agg->home), foreach_current_index(lc) + 1);
	}
	if (layout->revision)
	{
		appendStringInfo(&alter, "%sADD COLUMN %s integer NOT NULL DEFAULT 0",
						 alter.len > 0 ? ", " : "", REVISION_COLUMN);
		appendStringInfo(&sets, "%s%s = o.%s", sets.len > 0 ? ", " : "", REVISION_COLUMN,
						 REVISION_COLUMN);
	}
	if (alter.len > 0)
	{
		StreamRunDDL(psprintf("ALTER TABLE %s %s", result, alter.data));
		StreamCommentStateColumns(layout, result);
		if (layout->revision)
			StreamRunDDL(psprintf("CREATE INDEX ON %s (%s) WHERE %s = 0", result,
								  quote_identifier(list_nth(layout->keys, shape->window->key - 1)),
								  REVISION_COLUMN));

		/* Each group's states, from its row of the state table. */
		initStringInfo(&match);
		appendStringInfoString(&match, "true");
		foreach(lc, layout->keys)
			appendStringInfo(&match, " AND r.%s IS NOT DISTINCT FROM o.k%d",
							 quote_identifier(lfirst(lc)), foreach_current_index(lc) + 1);
		StreamApplyingBatch = true;
		PG_TRY();
		{
			uint64		groups;
			bool		isnull;

			SPI_connect();
			if (SPI_execute(psprintf("SELECT pg_catalog.count(*) FROM %s", state), true, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not count the groups of %s", state);
			groups = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
												 &isnull));
			if (SPI_execute(psprintf("UPDATE %s r SET %s FROM %s o WHERE %s", result, sets.data,
									 state, match.data), false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not fill the states of %s", result);
			if (SPI_processed != groups)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("cannot update continuous view %s: its result table has " UINT64_FORMAT " of the " UINT64_FORMAT " groups of its state table",
								result, SPI_processed, groups),
						 errhint("Replace the view's results from its stream (drop it and create it again with backfill => true, with a retention on the stream), then update.")));
			SPI_finish();
		}
		PG_FINALLY();
		{
			StreamApplyingBatch = false;
		}
		PG_END_TRY();
	}
	StreamRunDDL(psprintf("DROP TABLE %s", state));
}
