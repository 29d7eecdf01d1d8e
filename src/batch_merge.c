/*-------------------------------------------------------------------------
 *
 * batch_merge.c
 *	  Folding a batch's partial states into the view's table: one upsert
 *	  per batch, each group written once.
 *
 *	w_n AS (INSERT INTO t AS r (keys, states) SELECT ... FROM p_n ORDER BY keys
 *			ON CONFLICT (keys) DO UPDATE SET s = combine(r.s, EXCLUDED.s), ...)
 *
 * A new group takes the batch's states, a stored one the combination of
 * its states and the batch's, as an Agg node would combine them: by the
 * aggregate's combine function, called directly where it can be
 * (result_table.c; a strict one skips a null state), else in an Agg node
 * of its own over the two states,
 *
 *	(SELECT stream_ext.partial(agg(NULL) FILTER (WHERE stream_ext.carry(x.s)), NULL::t)
 *	   FROM (VALUES (r.s), (EXCLUDED.s)) x(s))
 *
 * which partial.c runs as a combining step (with deserialization and
 * serialization of internal states).  Final values are generated columns
 * where they can be; otherwise the upsert computes them the same way,
 * from the batch's states for a new group and from both for a stored one,
 * in an Agg node that combines and finalizes.  Rows are inserted in key
 * order, so that the unique index is written in order too.
 *
 * Session windows merge the batch with the stored sessions it comes near
 * (EmitSessions) in an Agg node first (m_n), as an island of several
 * sessions combines more than two states; the upsert then writes the
 * combined states.
 *
 * Generated SQL names the table's columns: expressions deparsed against
 * the table (StreamFinalMutator) are evaluated over a derived table whose
 * columns carry the table's names.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/typcache.h"

#include "batch_statement.h"

static void EmitUpsert(BatchFragment *f, const char *source, bool combine);
static char *CombineCall(ViewAggregate *agg, List *dpcontext, ViewShape *shape,
						 ViewLayout *layout, const char *stored, const char *batch);
static char *FinalOver(Node *expr, List *dpcontext, ViewShape *shape, ViewLayout *layout,
					   List *rows);
static List *TableRow(ViewLayout *layout, const char *alias);
static List *PartRow(ViewShape *shape, ViewLayout *layout, const char *alias);
static bool IsStored(ViewLayout *layout, AttrNumber col);
static bool KeysSortable(ViewShape *shape);


/*
 * EmitMerge appends w_n, the upsert that folds p_n into the view's table.
 */
void
EmitMerge(BatchFragment *f)
{
	EmitUpsert(f, psprintf("p_%u", f->n), true);
}

/*
 * StatesAsColumns returns the select list of the keys and states of the
 * CTE alias (k1..kn, s1..sm) under the names of the table's columns.
 */
char *
StreamStatesAsColumns(ViewShape *shape, ViewLayout *layout, const char *alias)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	if (layout->keys == NIL)
		appendStringInfo(&sql, "%s.k1", alias);
	foreach(lc, layout->keys)
		appendStringInfo(&sql, "%s%s.k%d AS %s", sql.len > 0 ? ", " : "", alias,
						 foreach_current_index(lc) + 1, quote_identifier(lfirst(lc)));
	foreach(lc, layout->aggregates)
		appendStringInfo(&sql, ", %s.s%d AS %s", alias, foreach_current_index(lc) + 1,
						 quote_identifier(((ViewAggregate *) lfirst(lc))->home));
	return sql.data;
}

/*
 * CombineStates returns the select list items that combine the states of
 * the rows of a query level, by the table's column names:
 * ", stream_ext.partial(agg(NULL) FILTER (WHERE stream_ext.carry(home)), NULL::t) AS s1, ...".
 */
char *
StreamCombineStates(ViewShape *shape, ViewLayout *layout, List *dpcontext)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	foreach(lc, shape->aggs)
	{
		Node	   *combine = StreamFinalMutator((Node *) lfirst(lc), shape, layout);

		appendStringInfo(&sql, ", stream_ext.partial(%s, NULL::%s) AS s%d",
						 deparse_expression(combine, dpcontext, false, false),
						 format_type_be(list_nth_oid(shape->state_types, foreach_current_index(lc))),
						 foreach_current_index(lc) + 1);
	}
	return sql.data;
}

/*
 * EmitUpsert appends w_n: the groups of source (keys k1..kn, states
 * s1..sm) inserted into the view's table, or folded into the stored rows
 * of the same keys.  combine: the stored states are combined with the
 * source's; else the source's replace them (they were combined before).
 */
static void
EmitUpsert(BatchFragment *f, const char *source, bool combine)
{
	ViewShape  *shape = f->shape;
	ViewLayout *layout = f->layout;
	StreamWindow *window = shape->window;
	List	   *dpcontext = TableContext(f);
	List	   *columns = NIL;
	List	   *values = NIL;
	List	   *sets = NIL;
	List	   *new_row = PartRow(shape, layout, "s");
	List	   *stored_rows = combine ?
		list_make2(TableRow(layout, "r"), TableRow(layout, "EXCLUDED")) :
		list_make1(TableRow(layout, "EXCLUDED"));
	ListCell   *lc;
	char	   *closed = NULL;
	StringInfoData conflict;

	f->written = pstrdup(source);

	/* What goes where. */
	foreach(lc, layout->keys)
	{
		columns = lappend(columns, pstrdup(quote_identifier(lfirst(lc))));
		values = lappend(values, psprintf("s.k%d", foreach_current_index(lc) + 1));
	}
	foreach(lc, layout->outputs)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		char	   *col;

		if (layout->generated || IsStored(layout, foreach_current_index(lc) + 1))
			continue;
		col = pstrdup(quote_identifier(tle->resname));
		columns = lappend(columns, col);
		values = lappend(values, FinalOver((Node *) tle->expr, dpcontext, shape, layout,
										   list_make1(new_row)));
		sets = lappend(sets, psprintf("%s = %s", col,
									  FinalOver((Node *) tle->expr, dpcontext, shape, layout,
												stored_rows)));
	}
	foreach(lc, layout->aggregates)
	{
		ViewAggregate *agg = lfirst(lc);
		char	   *home = pstrdup(quote_identifier(agg->home));

		columns = lappend(columns, home);
		values = lappend(values, psprintf("s.s%d", foreach_current_index(lc) + 1));
		sets = lappend(sets, combine ?
					   psprintf("%s = %s", home,
								CombineCall(agg, dpcontext, shape, layout,
											psprintf("r.%s", home), psprintf("EXCLUDED.%s", home))) :
					   psprintf("%s = EXCLUDED.%s", home, home));
	}
	if (layout->revision)
	{
		/* A window that closes with this batch is emitted once more. */
		const char *wkey = quote_identifier(list_nth(layout->keys, window->key - 1));

		closed = psprintf("COALESCE(%s <= %s, false)",
						  StreamWindowEnd(window, psprintf("r.%s", wkey)), WatermarkAfter(f));
		columns = lappend(columns, pstrdup(REVISION_COLUMN));
		values = lappend(values, psprintf("COALESCE(%s <= %s, false)::pg_catalog.int4",
										  StreamWindowEnd(window, psprintf("s.k%d", window->key)),
										  WatermarkAfter(f)));
		sets = lappend(sets, psprintf("%s = r.%s + %s::pg_catalog.int4", REVISION_COLUMN,
									  REVISION_COLUMN, closed));
	}

	appendStringInfo(&f->sql, "w_%u AS (INSERT INTO ", f->n);
	NamePart(f, layout->steps ? "state" : "result");
	appendStringInfoString(&f->sql, " AS r (");
	foreach(lc, columns)
		appendStringInfo(&f->sql, "%s%s", foreach_current_index(lc) > 0 ? ", " : "", (char *) lfirst(lc));
	appendStringInfoString(&f->sql, ") SELECT ");
	foreach(lc, values)
		appendStringInfo(&f->sql, "%s%s", foreach_current_index(lc) > 0 ? ", " : "", (char *) lfirst(lc));
	appendStringInfo(&f->sql, " FROM %s s", source);
	if (layout->keys != NIL && KeysSortable(shape))
	{
		appendStringInfoString(&f->sql, " ORDER BY ");
		for (int i = 1; i <= list_length(layout->keys); i++)
			appendStringInfo(&f->sql, "%ss.k%d", i > 1 ? ", " : "", i);
	}
	initStringInfo(&conflict);
	if (layout->keys == NIL)
		appendStringInfoString(&conflict, " ON CONFLICT ((true))");
	else
		appendStringInfo(&conflict, " ON CONFLICT (%s)", TableKeyList(layout, NULL));
	if (sets == NIL)
		appendStringInfoString(&conflict, " DO NOTHING");
	else
	{
		appendStringInfoString(&conflict, " DO UPDATE SET ");
		foreach(lc, sets)
			appendStringInfo(&conflict, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
							 (char *) lfirst(lc));
	}

	/*
	 * The batch's groups are unique by their keys (p_n groups by them), so
	 * into an empty table a plain INSERT writes them, without the
	 * speculative insertion of ON CONFLICT (StreamAssembleFragment leaves
	 * the clause out then): the first batch of a new view, a backfill, a
	 * bulk load in one transaction.
	 */
	if (combine)
		NamePart(f, psprintf("%s%s", CONFLICT_PART, conflict.data));
	else
		appendStringInfoString(&f->sql, conflict.data);

	/* What closed windows, notifications and output streams read. */
	if (f->emitting)
		appendStringInfo(&f->sql, " RETURNING %s%s, r.%s, %s AS stream_ext_closed),\n",
						 OutputList(layout, "r"), HiddenStateList(layout, "r"),
						 REVISION_COLUMN, closed);
	else if (f->options->notify != NULL && !layout->steps)
		appendStringInfo(&f->sql, " RETURNING %s),\n", OutputList(layout, "r"));
	else
		appendStringInfoString(&f->sql, "),\n");
}

/*
 * CombineCall returns the SQL that folds the state batch into the state
 * stored (both of the aggregate's state type), as an Agg node would: a
 * call of the combine function (a strict one skips a null state), or an
 * Agg node of its own where the function needs one.
 */
static char *
CombineCall(ViewAggregate *agg, List *dpcontext, ViewShape *shape, ViewLayout *layout,
			const char *stored, const char *batch)
{
	char	   *fn;
	char	   *collate = "";
	char	   *call;

	if (!agg->plain_combine)
		return psprintf("(SELECT stream_ext.partial(%s, NULL::%s) FROM (VALUES (%s), (%s)) x(%s))",
						deparse_expression(StreamFinalMutator((Node *) agg->aggref, shape, layout),
										   dpcontext, false, false),
						format_type_be(agg->state_type), stored, batch,
						quote_identifier(agg->home));
	fn = quote_qualified_identifier(get_namespace_name(get_func_namespace(agg->combinefn)),
									get_func_name(agg->combinefn));
	if (OidIsValid(agg->aggref->inputcollid) && type_is_collatable(agg->state_type))
		collate = psprintf(" COLLATE %s", generate_collation_name(agg->aggref->inputcollid));
	call = psprintf("%s(%s%s, %s)", fn, stored, collate, batch);
	if (!agg->combine_strict)
		return call;
	return psprintf("CASE WHEN %s IS NULL THEN %s WHEN %s IS NULL THEN %s ELSE %s END",
					stored, batch, batch, stored, call);
}

/*
 * FinalOver returns the SQL of an output expression of the view over the
 * keys and states of rows (each a list of SQL values in the order of
 * TableRow): an Agg node that combines the rows' states and finalizes
 * them.
 */
static char *
FinalOver(Node *expr, List *dpcontext, ViewShape *shape, ViewLayout *layout, List *rows)
{
	StringInfoData sql;
	ListCell   *lc;
	ListCell   *lv;

	initStringInfo(&sql);
	appendStringInfo(&sql, "(SELECT %s FROM (VALUES ",
					 deparse_expression(StreamFinalMutator(expr, shape, layout), dpcontext,
										false, false));
	foreach(lc, rows)
	{
		appendStringInfo(&sql, "%s(", foreach_current_index(lc) > 0 ? ", " : "");
		foreach(lv, (List *) lfirst(lc))
			appendStringInfo(&sql, "%s%s", foreach_current_index(lv) > 0 ? ", " : "",
							 (char *) lfirst(lv));
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfoString(&sql, ") x(");
	foreach(lc, layout->keys)
		appendStringInfo(&sql, "%s, ", quote_identifier(lfirst(lc)));
	foreach(lc, layout->aggregates)
		appendStringInfo(&sql, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 quote_identifier(((ViewAggregate *) lfirst(lc))->home));
	appendStringInfoChar(&sql, ')');
	if (layout->keys != NIL)
		appendStringInfo(&sql, " GROUP BY %s", TableKeyList(layout, "x"));
	appendStringInfoChar(&sql, ')');
	return sql.data;
}

/*
 * TableRow returns the keys and states of a row of the view's table, by
 * alias; PartRow those of a row of p_n (k1..kn, s1..sm), in the same
 * order.
 */
static List *
TableRow(ViewLayout *layout, const char *alias)
{
	List	   *row = NIL;
	ListCell   *lc;

	foreach(lc, layout->keys)
		row = lappend(row, psprintf("%s.%s", alias, quote_identifier(lfirst(lc))));
	foreach(lc, layout->aggregates)
		row = lappend(row, psprintf("%s.%s", alias,
									quote_identifier(((ViewAggregate *) lfirst(lc))->home)));
	return row;
}

static List *
PartRow(ViewShape *shape, ViewLayout *layout, const char *alias)
{
	List	   *row = NIL;

	for (int i = 1; i <= list_length(layout->keys); i++)
		row = lappend(row, psprintf("%s.k%d", alias, i));
	for (int i = 1; i <= list_length(layout->aggregates); i++)
		row = lappend(row, psprintf("%s.s%d", alias, i));
	return row;
}

/*
 * IsStored tells whether the table's column col holds a key or a state,
 * which the batch writes as it is.
 */
static bool
IsStored(ViewLayout *layout, AttrNumber col)
{
	ListCell   *lc;

	if (list_member_int(layout->key_attnos, col))
		return true;
	foreach(lc, layout->aggregates)
	{
		if (((ViewAggregate *) lfirst(lc))->home_attno == col)
			return true;
	}
	return false;
}

/*
 * KeysSortable tells whether every grouping key has a default ordering,
 * so that new rows can be inserted in key order.
 */
static bool
KeysSortable(ViewShape *shape)
{
	ListCell   *lc;

	foreach(lc, shape->keys)
	{
		TypeCacheEntry *type = lookup_type_cache(exprType((Node *) lfirst_node(TargetEntry, lc)->expr),
												 TYPECACHE_LT_OPR);

		if (!OidIsValid(type->lt_opr))
			return false;
	}
	return true;
}

/*
 * TableContext returns the deparse context of the view's table (the
 * names of its columns).
 */
List *
TableContext(BatchFragment *f)
{
	Oid			relid = f->layout->table;

	return deparse_context_for(get_rel_name(relid), relid);
}

/*
 * EmitSessions appends, for a view with session windows, the CTEs that
 * merge the batch into the stored sessions.  The last grouping key, k(t),
 * is a session's start (for the batch: each event's time), the state of
 * max(event time), s(e), its end.  The batch's points and the stored
 * sessions of the same groups that they come within the gap of (c_n) are
 * laid out per group in time order; a new island starts where the gap to
 * the latest end before it is exceeded (g_n); each island is one session,
 * its states combined (m_n), stored under its earliest start (w_n); the
 * stored sessions it absorbed under other starts go (z_n).  Stored
 * sessions of a group are always more than the gap apart, so no other
 * stored session can join an island.
 */
void
EmitSessions(BatchFragment *f)
{
	ViewShape  *shape = f->shape;
	ViewLayout *layout = f->layout;
	char	   *gap = f->options->session_gap;
	int			nuser = list_length(shape->keys) - 1;
	int			tk = nuser + 1;
	int			se = shape->session_end + 1;
	ViewAggregate *end = list_nth(layout->aggregates, shape->session_end);
	List	   *dpcontext = TableContext(f);
	StringInfoData ukeys;
	StringInfoData tkeys;
	char	   *partition;
	char	   *order;
	ListCell   *lc;

	initStringInfo(&ukeys);
	initStringInfo(&tkeys);
	for (int i = 1; i <= nuser; i++)
	{
		appendStringInfo(&ukeys, "%sk%d", i > 1 ? ", " : "", i);
		appendStringInfo(&tkeys, "g.%s, ", quote_identifier(list_nth(layout->keys, i - 1)));
	}
	partition = nuser > 0 ? psprintf("PARTITION BY %s ", ukeys.data) : "";
	order = psprintf("ORDER BY c.k%d, c.s%d", tk, se);

	appendStringInfo(&f->sql, "c_%u AS (SELECT %s%s, false AS stored, NULL::pg_catalog.tid AS stream_ext_ctid"
					 " FROM p_%u p UNION ALL SELECT ",
					 f->n, KeyList(shape, "p"), StateList(shape, "p"), f->n);
	foreach(lc, layout->keys)
		appendStringInfo(&f->sql, "r.%s, ", quote_identifier(lfirst(lc)));
	foreach(lc, layout->aggregates)
		appendStringInfo(&f->sql, "r.%s, ", quote_identifier(((ViewAggregate *) lfirst(lc))->home));
	appendStringInfoString(&f->sql, "true, r.ctid FROM ");
	NamePart(f, "result");
	appendStringInfo(&f->sql, " r WHERE EXISTS (SELECT 1 FROM p_%u p WHERE ", f->n);
	for (int i = 1; i <= nuser; i++)
	{
		bool		notnull = StreamKeyIsNotNull((Node *) ((TargetEntry *) list_nth(shape->keys, i - 1))->expr, shape);

		appendStringInfo(&f->sql, "p.k%d %s r.%s AND ", i, notnull ? "=" : "IS NOT DISTINCT FROM",
						 quote_identifier(list_nth(layout->keys, i - 1)));
	}
	appendStringInfo(&f->sql, "p.k%d >= r.%s - %s AND p.k%d <= r.%s + %s)),\n",
					 tk, quote_identifier(list_nth(layout->keys, tk - 1)), gap,
					 tk, quote_identifier(end->home), gap);
	appendStringInfo(&f->sql,
					 "g_%u AS (SELECT c.*, pg_catalog.min(c.k%d) OVER i AS stream_ext_start"
					 " FROM (SELECT c.*, pg_catalog.sum(c.brk) OVER (%s%s ROWS UNBOUNDED PRECEDING) AS stream_ext_island"
					 " FROM (SELECT c.*, CASE WHEN c.k%d - pg_catalog.max(c.s%d) OVER (%s%s"
					 " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) <= %s THEN 0 ELSE 1 END AS brk"
					 " FROM c_%u c) c) c WINDOW i AS (PARTITION BY %s%sstream_ext_island)),\n",
					 f->n, tk, partition, order, tk, se, partition, order, gap, f->n,
					 ukeys.data, nuser > 0 ? ", " : "");

	/* Each island's states combined, by the table's column names. */
	appendStringInfo(&f->sql, "m_%u AS (SELECT ", f->n);
	for (int i = 1; i <= nuser; i++)
		appendStringInfo(&f->sql, "g.%s AS k%d, ", quote_identifier(list_nth(layout->keys, i - 1)), i);
	appendStringInfo(&f->sql, "g.stream_ext_start AS k%d%s FROM (SELECT %s, c.stream_ext_island,"
					 " c.stream_ext_start FROM g_%u c) g GROUP BY %sg.stream_ext_island, g.stream_ext_start),\n",
					 tk, StreamCombineStates(shape, layout, dpcontext), StreamStatesAsColumns(shape, layout, "c"),
					 f->n, tkeys.data);

	EmitUpsert(f, psprintf("m_%u", f->n), false);

	appendStringInfo(&f->sql, "z_%u AS (DELETE FROM ", f->n);
	NamePart(f, "result");
	appendStringInfo(&f->sql, " r USING c_%u c WHERE c.stored AND r.ctid = c.stream_ext_ctid"
					 " AND NOT EXISTS (SELECT 1 FROM m_%u m WHERE ", f->n, f->n);
	KeysMatch(&f->sql, shape, PartKeys(shape, "m"), PartKeys(shape, "c"));
	appendStringInfoString(&f->sql, ")),\n");
}

/*
 * StreamFillFromStates returns the statement that fills a new view's
 * table from the states of an old view's (replace_continuous_view): the
 * old states combined per new group.  key_map and agg_map give, for each
 * new key and aggregate, the 1-based position of the old one.
 */
char *
StreamFillFromStates(ViewShape *new_shape, ViewLayout *new_layout, const char *new_table,
					 ViewShape *old_shape, ViewLayout *old_layout, Oid old_table,
					 int *key_map, int *agg_map)
{
	List	   *old_context = deparse_context_for(get_rel_name(old_table), old_table);
	char	   *old_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(old_table)),
													  get_rel_name(old_table));
	StringInfoData groups;
	BatchFragment f;

	memset(&f, 0, sizeof(f));
	f.shape = new_shape;
	f.layout = new_layout;
	f.options = palloc0(sizeof(ContinuousViewOptions));
	f.n = 0;
	initStringInfo(&f.sql);
	initStringInfo(&groups);

	/* m_0: the new groups' states, combined from the old ones. */
	appendStringInfoString(&f.sql, "WITH m_0 AS (SELECT * FROM (SELECT ");
	if (new_shape->keys == NIL)
		appendStringInfoString(&f.sql, "true AS k1");
	for (int j = 0; j < list_length(new_shape->keys); j++)
	{
		const char *old_key = quote_identifier(list_nth(old_layout->keys, key_map[j] - 1));

		appendStringInfo(&f.sql, "%s%s AS k%d", j > 0 ? ", " : "", old_key, j + 1);
		appendStringInfo(&groups, "%s%s", j > 0 ? ", " : "", old_key);
	}
	for (int i = 0; i < list_length(new_shape->aggs); i++)
		appendStringInfo(&f.sql, ", stream_ext.partial(%s, NULL::%s) AS s%d",
						 deparse_expression(StreamFinalMutator(list_nth(old_shape->aggs, agg_map[i] - 1),
															   old_shape, old_layout),
											old_context, false, false),
						 format_type_be(list_nth_oid(new_shape->state_types, i)), i + 1);
	appendStringInfo(&f.sql, " FROM %s", old_name);
	if (groups.len > 0)
		appendStringInfo(&f.sql, " GROUP BY %s", groups.data);
	appendStringInfo(&f.sql, ") x WHERE EXISTS (SELECT 1 FROM %s)),\n", old_name);

	EmitUpsert(&f, "m_0", false);

	/* The upsert into the new table, at the one place a name goes. */
	{
		StringInfoData sql;
		ListCell   *lc;

		initStringInfo(&sql);
		foreach(lc, f.parts)
		{
			if (foreach_current_index(lc) % 2 == 0)
				appendStringInfoString(&sql, lfirst(lc));
			else
				appendStringInfoString(&sql, new_table);
		}
		appendStringInfoString(&sql, f.sql.data);
		/* Drop the comma after w_0 and select nothing. */
		sql.len -= 2;
		sql.data[sql.len] = '\0';
		appendStringInfoString(&sql, "\nSELECT 1");
		return sql.data;
	}
}
