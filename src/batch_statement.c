/*-------------------------------------------------------------------------
 *
 * batch_statement.c
 *	  A continuous view's part of a batch statement, put together from the
 *	  emitters of each step (batch_statement.h), and the statement that
 *	  applies one batch to a group of views of a stream.
 *
 * A view's part is generated from its definition (view_definition.c) as
 * pieces of SQL around the places where the names of its tables go
 * ("result", "state", "append", "output"): StreamAssembleFragment puts in
 * their current names from their OIDs when the batch runs, so a view
 * follows RENAME and SET SCHEMA of them.  The stream is named from its
 * OID too.
 *
 * StreamBatchStatement puts the parts of the views that share a batch
 * behind one definition of stream_ext_batch: the stream's events that
 * $1, the views' progress snapshot, has not seen and $2, the end of the
 * batch, sees.  It is not materialized: each view's p_n scans the
 * stream itself (a scan costs less than writing and reading back every
 * event), and a pure view (batch_partial.c) needs no other scan.
 *
 * Generated SQL is deparsed with search_path = pg_catalog, so every name
 * in it is qualified, and every identifier is quoted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "parser/parse_func.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "batch_statement.h"

static bool TableIsEmpty(Oid relid);
static void AppendBatchEvents(StringInfo sql, Oid stream, bool ranged, bool bounded,
							  bool skipping);

/*
 * StreamViewFragment returns the view's part of a batch statement, as
 * pieces of SQL with the names of the tables between them.
 */
List *
StreamViewFragment(ViewShape *shape, ContinuousViewOptions *options,
				   ViewLayout *layout, uint32 n)
{
	BatchFragment f;

	memset(&f, 0, sizeof(f));
	f.shape = shape;
	f.options = options;
	f.layout = layout;
	f.n = n;
	f.emitting = shape->window != NULL && (options->emit_final || options->append_to != NULL);
	f.panes = StreamViewPanes(shape);
	f.pure = StreamViewIsPure(shape, options, f.panes);
	initStringInfo(&f.sql);

	EmitPartial(&f);
	if (options->session_gap != NULL)
		EmitSessions(&f);
	else
		EmitMerge(&f);
	if (f.emitting)
		EmitClosedWindows(&f);
	if (options->append_to != NULL)
		EmitAppend(&f);
	if (options->output)
		EmitOutputStream(&f);
	EmitRetention(&f);
	EmitNotify(&f);
	EmitOutcome(&f);

	f.parts = lappend(f.parts, f.sql.data);
	return f.parts;
}

/*
 * NamePart ends a piece of SQL where the name of one of the view's tables
 * goes: "result", "state", "append" or "output".
 */
void
NamePart(BatchFragment *f, const char *which)
{
	f->parts = lappend(f->parts, pstrdup(f->sql.data));
	f->parts = lappend(f->parts, pstrdup(which));
	resetStringInfo(&f->sql);
}

/*
 * StreamAssembleFragment puts a view's part of a batch statement together,
 * with the current names of its tables, each locked as the batch writes
 * it.  plain_into_empty: the statement is run once, now (a batch of the
 * worker), and the upsert's ON CONFLICT clause is left out when the
 * table it writes is empty (EmitUpsert): the view's tables are written by
 * its batches only, one at a time, so it stays empty until this batch.
 */
char *
StreamAssembleFragment(List *parts, Oid result, Oid state, Oid append, Oid output,
					   bool plain_into_empty)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	foreach(lc, parts)
	{
		char	   *part = lfirst(lc);

		if (foreach_current_index(lc) % 2 == 0)
			appendStringInfoString(&sql, part);
		else if (strncmp(part, CONFLICT_PART, strlen(CONFLICT_PART)) == 0)
		{
			Oid			target = OidIsValid(state) ? state : result;

			LockRelationOid(target, RowExclusiveLock);
			if (!plain_into_empty || !TableIsEmpty(target))
				appendStringInfoString(&sql, part + strlen(CONFLICT_PART));
		}
		else
		{
			Oid			relid = strcmp(part, "result") == 0 ? result :
				strcmp(part, "append") == 0 ? append :
				strcmp(part, "output") == 0 ? output : state;
			char	   *relname;

			/*
			 * The lock the batch statement takes, taken before the name is
			 * read: a RENAME or SET SCHEMA in flight commits first.
			 */
			LockRelationOid(relid, RowExclusiveLock);
			relname = get_rel_name(relid);
			if (relname == NULL)
				elog(ERROR, "table %u of a continuous view does not exist", relid);
			appendStringInfoString(&sql,
								   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
															  relname));
		}
	}
	return sql.data;
}

/*
 * StreamBatchStatement returns the statement that applies one batch of a
 * stream to a group of its views, given each view's part number and
 * batch fragment and the stream columns they read.
 *
 * ranged: $3..$6 are the ranges of tags of the segments to read; bounded:
 * the batch's rows lie between the ctids $7 and $8 (apply.c); skipping:
 * see AppendBatchEvents.
 *
 * It returns the number of events in the batch (from the first pure view
 * that has it, else counted), then for each view the VIEW_BATCH_COLUMNS
 * columns of its o_n (batch_outputs.c).
 */
char *
StreamBatchStatement(Oid stream, List *columns, List *parts, List *fragments, bool ranged,
					 bool bounded, bool skipping)
{
	StringInfoData sql;
	ListCell   *lc;
	ListCell   *lc2;
	int			i = 0;

	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH %s AS NOT MATERIALIZED (SELECT ", STREAM_BATCH_CTE);
	foreach(lc, columns)
	{
		bool		duplicate = false;

		foreach(lc2, columns)
		{
			if (lc2 == lc)
				break;
			duplicate |= strcmp(lfirst(lc2), lfirst(lc)) == 0;
		}
		if (!duplicate)
			appendStringInfo(&sql, "%s%s", i++ > 0 ? ", " : "",
							 quote_identifier(lfirst(lc)));
	}
	if (i == 0)
		appendStringInfoString(&sql, "1");
	AppendBatchEvents(&sql, stream, ranged, bounded, skipping);
	appendStringInfoChar(&sql, ')');
	foreach(lc, fragments)
		appendStringInfo(&sql, ",\n%s", (char *) lfirst(lc));
	appendStringInfoString(&sql, "\nSELECT COALESCE(");
	foreach(lc, parts)
		appendStringInfo(&sql, "o_%u.stream_ext_events, ", (uint32) lfirst_int(lc));
	appendStringInfo(&sql, "(SELECT pg_catalog.count(*) FROM %s))", STREAM_BATCH_CTE);
	foreach(lc, parts)
		appendStringInfo(&sql, ", o_%u.*", (uint32) lfirst_int(lc));
	foreach(lc, parts)
		appendStringInfo(&sql, "%s o_%u", foreach_current_index(lc) == 0 ? " FROM" : ",",
						 (uint32) lfirst_int(lc));
	return sql.data;
}

/*
 * StreamBatchEventsStatement returns the statement that lists the ctids
 * of a batch's events, with the parameters of StreamBatchStatement.
 */
char *
StreamBatchEventsStatement(Oid stream, bool ranged, bool bounded)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ctid");
	AppendBatchEvents(&sql, stream, ranged, bounded, true);
	return sql.data;
}

/*
 * AppendBatchEvents appends FROM and WHERE of the batch's events.
 * skipping: $9 lists the ctids of events left out, $10 (unless NULL)
 * those the batch is restricted to (apply.c's search for events that
 * fail a view).
 */
static void
AppendBatchEvents(StringInfo sql, Oid stream, bool ranged, bool bounded, bool skipping)
{
	appendStringInfo(sql,
					 " FROM %s WHERE NOT stream_ext.seen(%s, $1)"
					 " AND stream_ext.seen(%s, $2)",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(stream)),
												get_rel_name(stream)),
					 STREAM_TAG_COLUMN, STREAM_TAG_COLUMN);
	if (ranged)
		appendStringInfo(sql, " AND (%s >= $3 AND %s < $4 OR %s >= $5 AND %s < $6)",
						 STREAM_TAG_COLUMN, STREAM_TAG_COLUMN, STREAM_TAG_COLUMN, STREAM_TAG_COLUMN);
	if (bounded)
		appendStringInfoString(sql, " AND ctid OPERATOR(pg_catalog.>=) $7 AND ctid OPERATOR(pg_catalog.<=) $8");
	if (skipping)
		appendStringInfoString(sql, " AND ctid OPERATOR(pg_catalog.<>) ALL ($9)"
							   " AND ($10 IS NULL OR ctid OPERATOR(pg_catalog.=) ANY ($10))");
}

/*
 * KeyList returns the keys of p_n (k1..kn; k1 for a view without keys),
 * qualified by alias if given; StateList ", alias.s1, ..." its states.
 */
char *
KeyList(ViewShape *shape, const char *alias)
{
	StringInfoData sql;

	initStringInfo(&sql);
	for (int i = 1; i <= Max(list_length(shape->keys), 1); i++)
		appendStringInfo(&sql, "%s%s%sk%d", i > 1 ? ", " : "", alias ? alias : "",
						 alias ? "." : "", i);
	return sql.data;
}

char *
StateList(ViewShape *shape, const char *alias)
{
	StringInfoData sql;

	initStringInfo(&sql);
	for (int i = 1; i <= list_length(shape->aggs); i++)
		appendStringInfo(&sql, ", %s%ss%d", alias ? alias : "", alias ? "." : "", i);
	return sql.data;
}

/*
 * TableKeyList returns the key columns of the view's table, qualified by
 * alias if given.
 */
char *
TableKeyList(ViewLayout *layout, const char *alias)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	foreach(lc, layout->keys)
		appendStringInfo(&sql, "%s%s%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 alias ? alias : "", alias ? "." : "", quote_identifier(lfirst(lc)));
	return sql.data;
}

/*
 * PartKeys returns the grouping keys of a CTE with p_n's columns,
 * alias.k1..kn; TableKeys the key columns of the view's table; both NIL
 * without grouping keys.
 */
List *
PartKeys(ViewShape *shape, const char *alias)
{
	List	   *keys = NIL;

	for (int i = 1; i <= list_length(shape->keys); i++)
		keys = lappend(keys, psprintf("%s.k%d", alias, i));
	return keys;
}

List *
TableKeys(ViewLayout *layout, const char *alias)
{
	List	   *keys = NIL;
	ListCell   *lc;

	foreach(lc, layout->keys)
		keys = lappend(keys, psprintf("%s.%s", alias, quote_identifier(lfirst(lc))));
	return keys;
}

/*
 * KeysMatch appends a condition that the grouping keys a and b are equal:
 * = where a key cannot be null, which lets the planner probe a unique
 * index or hash, IS NOT DISTINCT FROM where it can; true without keys.
 */
void
KeysMatch(StringInfo sql, ViewShape *shape, List *a, List *b)
{
	ListCell   *la;
	ListCell   *lb;

	if (a == NIL)
	{
		appendStringInfoString(sql, "true");
		return;
	}
	forboth(la, a, lb, b)
	{
		int			i = foreach_current_index(la);
		bool		notnull = StreamKeyIsNotNull((Node *) ((TargetEntry *) list_nth(shape->keys, i))->expr,
												 shape);

		appendStringInfo(sql, "%s%s %s %s", i > 0 ? " AND " : "", (char *) lfirst(la),
						 notnull ? "=" : "IS NOT DISTINCT FROM", (char *) lfirst(lb));
	}
}

/*
 * OutputList returns the view's output columns, qualified by alias if
 * given; HiddenStateList ", alias.stream_ext_state_<i>, ..." the columns
 * that hold states and are not outputs.
 */
char *
OutputList(ViewLayout *layout, const char *alias)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	foreach(lc, layout->outputs)
		appendStringInfo(&sql, "%s%s%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 alias ? alias : "", alias ? "." : "",
						 quote_identifier(lfirst_node(TargetEntry, lc)->resname));
	return sql.data;
}

char *
HiddenStateList(ViewLayout *layout, const char *alias)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	foreach(lc, layout->aggregates)
	{
		ViewAggregate *agg = lfirst(lc);

		if (agg->hidden)
			appendStringInfo(&sql, ", %s.%s", alias, quote_identifier(agg->home));
	}
	return sql.data;
}

/*
 * StreamExtFunction returns the OID of one of stream_ext's functions.
 */
Oid
StreamExtFunction(const char *name, int nargs, Oid *argtypes)
{
	return LookupFuncName(list_make2(makeString("stream_ext"), makeString(pstrdup(name))),
						  nargs, argtypes, false);
}

/*
 * TableIsEmpty tells whether a table has no block, so no row: one never
 * written, or truncated.
 */
static bool
TableIsEmpty(Oid relid)
{
	Relation	rel = table_open(relid, NoLock);
	bool		empty = RelationGetNumberOfBlocks(rel) == 0;

	table_close(rel, NoLock);
	return empty;
}
