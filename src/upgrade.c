/*-------------------------------------------------------------------------
 *
 * upgrade.c
 *	  ALTER EXTENSION stream_ext UPDATE from 0.1.0 to 0.2.0: each view's
 *	  tables and definition made those of 0.2.0.
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
 * Every view and transform gets its definition (view_definition.c): its
 * query resolved, analyzed as its owner with its search_path, time zone
 * and date style; the worker generates its part of the batch statement
 * from it.
 *
 * A source's operations each had a PL/pgSQL trigger function of their own,
 * whose INSERT named the stream's columns: they get the trigger of 0.2.0
 * under the same name (source.c), with the operation column read from
 * that INSERT, and the function is dropped.
 *
 * The C functions that only 0.1.0's script declares stay in the library,
 * so that the script of 0.1.0 loads with it (pg_upgrade, and CREATE
 * EXTENSION stream_ext VERSION '0.1.0' before an update): the pure ones
 * work, the others refuse with the versions' error (StreamCheckVersion).
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
#include "access/xlog.h"
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
#include "utils/timestamp.h"

#include "batch_statement.h"

PG_FUNCTION_INFO_V1(stream_ext_upgrade_from_0_1_0);
PG_FUNCTION_INFO_V1(stream_ext_system_identifier);
PG_FUNCTION_INFO_V1(stream_ext_detoast);
PG_FUNCTION_INFO_V1(stream_ext_register_stream);
PG_FUNCTION_INFO_V1(stream_ext_set_view_state);
PG_FUNCTION_INFO_V1(stream_ext_lock_views);
PG_FUNCTION_INFO_V1(stream_ext_create_source_function);

static List *ReadViews(void);
static void UpgradeView(StoredView *v);
static void UpgradeContinuousView(StoredView *v);
static void ConvertResultTable(StoredView *v, ViewShape *shape, ViewLayout *layout);
static void UpgradeSources(void);
static char *OperationColumn(const char *body, const char *operation);
static Datum VersionOnlyFunction(const char *name);

/*
 * stream_ext_upgrade_from_0_1_0 is run once by the update script, after it
 * has added the definition column with each view's query.
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
		UpgradeSources();
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
	if (SPI_execute("SELECT " STORED_VIEW_COLUMNS
					"  FROM stream_ext.continuous_view ORDER BY result",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the continuous views");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext spi = MemoryContextSwitchTo(cxt);

		views = lappend(views, StreamReadStoredView(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return views;
}

/*
 * UpgradeView makes one view's (or transform's) tables those of 0.2.0,
 * and records its definition: its query resolved.
 */
static void
UpgradeView(StoredView *v)
{
	Datum		values[2];

	if (!v->transform)
		UpgradeContinuousView(v);
	values[0] = ObjectIdGetDatum(v->result);
	values[1] = CStringGetTextDatum(StreamStoredViewResolve(v));
	SPI_connect();
	/* Only a sliding window keeps a table of its own. */
	if (SPI_execute_with_args("UPDATE stream_ext.continuous_view SET definition = $2,"
							  "       state_table = CASE WHEN sliding IS NOT NULL THEN state_table END"
							  " WHERE result = $1::pg_catalog.oid",
							  2, (Oid[]) {OIDOID, TEXTOID}, values, NULL,
							  false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not update continuous view %s", StreamQualifiedName(v->result));
	SPI_finish();
}

/*
 * UpgradeContinuousView converts a continuous view's tables.
 */
static void
UpgradeContinuousView(StoredView *v)
{
	ContinuousViewOptions options;
	ViewShape  *shape;
	ViewLayout *layout;
	bool		emitting;
	int			save_nestlevel;

	/* The query, analyzed as its owner (who may read what it reads). */
	shape = StreamStoredViewShape(v, &options, &emitting);

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
	AtEOXact_GUC(false, save_nestlevel);
}

/*
 * ConvertResultTable adds to the result table the columns of the states
 * that are not its own output columns, and the revision of an emitting
 * view, fills them from the state table and drops it.
 */
static void
ConvertResultTable(StoredView *v, ViewShape *shape, ViewLayout *layout)
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

/*
 * UpgradeSources gives every operation of a source the trigger of 0.2.0
 * in place of its trigger function, keeping the trigger's name, who
 * attached it and when.
 */
static void
UpgradeSources(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *rows = NIL;
	ListCell   *lc;

	SPI_connect();
	if (SPI_execute("SELECT x.source::pg_catalog.oid, x.stream::pg_catalog.oid, x.operation,"
					"       x.function::pg_catalog.regprocedure::pg_catalog.text, p.proowner, p.prosrc,"
					"       t.tgname, x.attached_at"
					"  FROM stream_ext.source x JOIN pg_catalog.pg_proc p ON p.oid = x.function"
					"  LEFT JOIN pg_catalog.pg_trigger t ON t.tgfoid = p.oid AND t.tgrelid = x.source"
					" ORDER BY 1, 2, 3", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the sources");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext spi = MemoryContextSwitchTo(cxt);
		HeapTuple	row = SPI_copytuple(SPI_tuptable->vals[i]);

		rows = lappend(rows, row);
		MemoryContextSwitchTo(spi);
	}
	{
		TupleDesc	desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);

		SPI_finish();
		foreach(lc, rows)
		{
			HeapTuple	row = lfirst(lc);
			bool		isnull;
			Oid			source = DatumGetObjectId(heap_getattr(row, 1, desc, &isnull));
			Oid			stream = DatumGetObjectId(heap_getattr(row, 2, desc, &isnull));
			char	   *operation = TextDatumGetCString(heap_getattr(row, 3, desc, &isnull));
			char	   *function = TextDatumGetCString(heap_getattr(row, 4, desc, &isnull));
			Oid			owner = DatumGetObjectId(heap_getattr(row, 5, desc, &isnull));
			char	   *body = TextDatumGetCString(heap_getattr(row, 6, desc, &isnull));
			Datum		tgname = heap_getattr(row, 7, desc, &isnull);
			char	   *trigger = isnull ? NULL : pstrdup(NameStr(*DatumGetName(tgname)));
			TimestampTz attached_at = DatumGetTimestampTz(heap_getattr(row, 8, desc, &isnull));
			char	   *operation_column = OperationColumn(body, operation);
			Datum		values[3];

			/* Its trigger goes with it; the catalog row is recorded again. */
			StreamRunDDL(psprintf("DROP FUNCTION %s CASCADE", function));
			values[0] = ObjectIdGetDatum(source);
			values[1] = ObjectIdGetDatum(stream);
			values[2] = CStringGetTextDatum(operation);
			SPI_connect();
			if (SPI_execute_with_args("DELETE FROM stream_ext.source"
									  " WHERE source = $1::pg_catalog.oid AND stream = $2::pg_catalog.oid"
									  "   AND operation = $3",
									  3, (Oid[]) {OIDOID, OIDOID, TEXTOID}, values, NULL,
									  false, 0) != SPI_OK_DELETE)
				elog(ERROR, "could not update the source %s", StreamQualifiedName(source));
			SPI_finish();
			StreamAttachOperation(source, stream, operation, owner, operation_column, trigger,
								  attached_at);
		}
	}
}

/*
 * OperationColumn returns the stream column a 0.1.0 trigger function's
 * INSERT gave the operation, or NULL.  The function's body runs
 * EXECUTE format('INSERT INTO %s (<columns>) SELECT <values> FROM ...'),
 * columns quoted as identifiers, the operation a quoted literal, quotes
 * and percent signs doubled for the two literals around them.
 */
static char *
OperationColumn(const char *body, const char *operation)
{
	const char *start = strstr(body, "INSERT INTO %s (");
	const char *select;
	const char *from;
	char	   *literal = psprintf("''%s''", operation);
	List	   *columns = NIL;
	int			position = 0;
	char	   *column = NULL;

	if (start == NULL || (select = strstr(start, ") SELECT ")) == NULL ||
		(from = strstr(select, " FROM ")) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot update a source trigger function of version 0.1.0"),
				 errdetail("Its body is not what attach_source() made."),
				 errhint("Detach the source with stream_ext.detach_source(), update, then attach it again.")));
	start += strlen("INSERT INTO %s (");
	for (const char *p = start; p <= select; p++)
	{
		if (p == select || strncmp(p, ", ", 2) == 0)
		{
			columns = lappend(columns, pnstrdup(start, p - start));
			start = p + 2;
		}
	}
	start = select + strlen(") SELECT ");
	for (const char *p = start; p <= from; p++)
	{
		if (p == from || strncmp(p, ", ", 2) == 0)
		{
			if (p - start == strlen(literal) && strncmp(start, literal, p - start) == 0 &&
				position < list_length(columns))
				column = list_nth(columns, position);
			position++;
			start = p + 2;
		}
	}
	if (column == NULL)
		return NULL;

	/* Undo the doubling, then the identifier's quotes. */
	{
		StringInfoData name;
		bool		quoted = column[0] == '"';
		const char *p = column + (quoted ? 1 : 0);
		const char *end = column + strlen(column) - (quoted ? 1 : 0);

		initStringInfo(&name);
		while (p < end)
		{
			if ((p[0] == '\'' && p[1] == '\'') || (p[0] == '%' && p[1] == '%') ||
				(quoted && p[0] == '"' && p[1] == '"'))
				p++;
			appendStringInfoChar(&name, *p++);
		}
		return name.data;
	}
}

/*
 * The C functions of 0.1.0 that 0.2.0 no longer declares (see the top of
 * the file).  0.1.0's _system_identifier() and _detoast() are pure: they
 * work, for its monitoring views and catalog default.
 */
Datum
stream_ext_system_identifier(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) GetSystemIdentifier());
}

Datum
stream_ext_detoast(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(PG_GETARG_BYTEA_P(0));
}

/*
 * VersionOnlyFunction refuses a call of a function only an earlier
 * version declared: before the update, with the versions' error.
 */
static Datum
VersionOnlyFunction(const char *name)
{
	StreamCheckVersion();
	elog(ERROR, "stream_ext: %s belongs to version 0.1.0", name);
	return (Datum) 0;
}

Datum
stream_ext_register_stream(PG_FUNCTION_ARGS)
{
	return VersionOnlyFunction("_register_stream");
}

Datum
stream_ext_set_view_state(PG_FUNCTION_ARGS)
{
	return VersionOnlyFunction("_set_view_state");
}

Datum
stream_ext_lock_views(PG_FUNCTION_ARGS)
{
	return VersionOnlyFunction("_lock_views");
}

Datum
stream_ext_create_source_function(PG_FUNCTION_ARGS)
{
	return VersionOnlyFunction("_create_source_function");
}
