/*-------------------------------------------------------------------------
 *
 * batch_outputs.c
 *	  What a batch sends beyond the view's table: closed windows appended
 *	  to a table (a_n), states written to an output stream (x_n),
 *	  notifications (n_n), and the one row that says what the batch did
 *	  (o_n), which apply.c adds to the view's counters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "batch_statement.h"

/*
 * PostgreSQL refuses a NOTIFY payload of this many bytes or more (the
 * limit is private to commands/async.c).
 */
#define NOTIFY_PAYLOAD_LIMIT (BLCKSZ - NAMEDATALEN - 128)

static char *OutputValues(BatchFragment *f, const char *alias, bool stored);
static void NotifyPart(BatchFragment *f, const char *source, bool revision);

/*
 * EmitAppend appends a_n: the windows the batch emitted, with their
 * revision, into the view's append_to table.
 */
void
EmitAppend(BatchFragment *f)
{
	appendStringInfo(&f->sql, "a_%u AS (INSERT INTO ", f->n);
	NamePart(f, "append");
	appendStringInfo(&f->sql, " (%s, revision) SELECT %s, e.revision FROM e_%u e),\n",
					 OutputList(f->layout, NULL), OutputList(f->layout, "e"), f->n);
}

/*
 * EmitOutputStream appends x_n: per group, the keys and each aggregate's
 * state over this batch's events alone (emit => 'changes'); or, for
 * windows that closed, their whole state when they close and the batch's
 * state of every later change (emit => 'final').  Either way the rows of
 * a group combine to its state over all its events.
 */
void
EmitOutputStream(BatchFragment *f)
{
	appendStringInfo(&f->sql, "x_%u AS (INSERT INTO ", f->n);
	NamePart(f, "output");
	appendStringInfo(&f->sql, " (%s) ", OutputList(f->layout, NULL));
	if (!(f->emitting && f->options->emit_final))
		appendStringInfo(&f->sql, "SELECT %s FROM p_%u d", OutputValues(f, "d", false), f->n);
	else
	{
		appendStringInfo(&f->sql, "SELECT %s FROM w_%u d WHERE d.stream_ext_closed AND d.%s = 1"
						 " UNION ALL SELECT %s FROM v_%u d"
						 " UNION ALL SELECT %s FROM w_%u w JOIN p_%u d ON ",
						 OutputValues(f, "d", true), f->n, REVISION_COLUMN,
						 OutputValues(f, "d", true), f->n,
						 OutputValues(f, "d", false), f->n, f->n);
		KeysMatch(&f->sql, f->shape, TableKeys(f->layout, "w"), PartKeys(f->shape, "d"));
		appendStringInfo(&f->sql, " WHERE w.stream_ext_closed AND w.%s > 1", REVISION_COLUMN);
	}
	appendStringInfoString(&f->sql, "),\n");
}

/*
 * OutputValues returns the select list that writes a group into the
 * output stream's columns: its keys and states, from the CTE alias with
 * the columns k1..kn, s1..sm of p_n, or (stored) those of the view's
 * table as the upsert and v_n return them.
 */
static char *
OutputValues(BatchFragment *f, const char *alias, bool stored)
{
	ViewLayout *layout = f->layout;
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	foreach(lc, layout->outputs)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		int			agg = StreamOutputColumn(f->shape, tle);
		int			key = -1;
		ListCell   *lk;

		foreach(lk, layout->key_attnos)
		{
			if (lfirst_int(lk) == foreach_current_index(lc) + 1)
				key = foreach_current_index(lk);
		}

		if (sql.len > 0)
			appendStringInfoString(&sql, ", ");
		if (agg >= 0 && stored)
			appendStringInfo(&sql, "%s.%s", alias,
							 quote_identifier(((ViewAggregate *) list_nth(layout->aggregates, agg))->home));
		else if (agg >= 0)
			appendStringInfo(&sql, "%s.s%d", alias, agg + 1);
		else if (stored)
			appendStringInfo(&sql, "%s.%s", alias, quote_identifier(tle->resname));
		else
			appendStringInfo(&sql, "%s.k%d", alias, key + 1);
	}
	return sql.data;
}

/*
 * EmitNotify appends n_n: one notification per row the batch wrote (or,
 * emit => 'final', per window it emitted), as JSON; column sent tells
 * whether it was sent.
 */
void
EmitNotify(BatchFragment *f)
{
	if (f->options->notify == NULL)
	{
		appendStringInfo(&f->sql, "n_%u AS (SELECT false AS sent WHERE false),\n", f->n);
		return;
	}
	if (f->options->emit_final)
		NotifyPart(f, psprintf("e_%u", f->n), true);
	else
	{
		appendStringInfo(&f->sql, "r_%u AS (SELECT %s FROM w_%u w),\n",
						 f->n, OutputList(f->layout, "w"), f->n);
		NotifyPart(f, psprintf("r_%u", f->n), false);
	}
}

/*
 * NotifyPart appends n_n over the rows of the CTE source, on the view's
 * channel; while the queue is half full, or for a row whose JSON and
 * even whose key columns alone (with the revision, if any) exceed the
 * payload limit, none.
 */
static void
NotifyPart(BatchFragment *f, const char *source, bool revision)
{
	ListCell   *lc;

	appendStringInfo(&f->sql,
					 "n_%u AS (SELECT q.ok AND p.payload IS NOT NULL AS sent,"
					 " CASE WHEN q.ok AND p.payload IS NOT NULL"
					 " THEN pg_catalog.pg_notify(%s, p.payload) END"
					 " FROM (SELECT pg_catalog.pg_notification_queue_usage() < 0.5 AS ok) q,"
					 " (SELECT CASE WHEN pg_catalog.octet_length(t.j) < %d THEN t.j"
					 " ELSE (SELECT k.k FROM (SELECT pg_catalog.json_build_object(",
					 f->n, quote_literal_cstr(f->options->notify), NOTIFY_PAYLOAD_LIMIT);
	foreach(lc, f->layout->keys)
	{
		const char *col = (const char *) lfirst(lc);

		appendStringInfo(&f->sql, "%s, (t.r).%s, ", quote_literal_cstr(col), quote_identifier(col));
	}
	if (revision)
		appendStringInfoString(&f->sql, "'revision', (t.r).revision, ");
	appendStringInfo(&f->sql,
					 "'truncated', true)::pg_catalog.text AS k) k"
					 " WHERE pg_catalog.octet_length(k.k) < %d) END AS payload"
					 " FROM (SELECT x AS r, pg_catalog.row_to_json(x)::pg_catalog.text AS j FROM %s x) t) p),\n",
					 NOTIFY_PAYLOAD_LIMIT, source);
}

/*
 * EmitOutcome appends o_n, what the batch did, one row of
 * VIEW_BATCH_COLUMNS: rows written, notifications sent and not sent, late
 * events, windows emitted closed and corrected, the largest event time
 * and the watermark after the batch, and (a pure view) the number of
 * events in the batch.
 */
void
EmitOutcome(BatchFragment *f)
{
	StreamWindow *window = f->shape->window;

	appendStringInfo(&f->sql,
					 "o_%u AS (SELECT (SELECT pg_catalog.count(*) FROM %s),"
					 " (SELECT pg_catalog.count(*) FILTER (WHERE sent) FROM n_%u),"
					 " (SELECT pg_catalog.count(*) FILTER (WHERE NOT sent) FROM n_%u), ",
					 f->n, f->written, f->n, f->n);
	if (window != NULL && f->pure && (!window->hop || f->panes))
		appendStringInfo(&f->sql, "(SELECT COALESCE(pg_catalog.sum(%s), 0)::pg_catalog.int8 FROM %s p"
						 " WHERE NOT (%s)), ",
						 HIDDEN_EVENTS, f->raw,
						 StreamWindowKeyAfter(window, psprintf("p.k%d", window->key), WatermarkBefore(f)));
	else if (window != NULL)
		appendStringInfo(&f->sql, "(%s), ", StreamWindowLateEvents(window, WatermarkBefore(f)));
	else
		appendStringInfoString(&f->sql, "0::pg_catalog.int8, ");
	if (f->emitting)
		appendStringInfo(&f->sql,
						 "(SELECT pg_catalog.count(*) FILTER (WHERE revision = 1) FROM e_%u),"
						 " (SELECT pg_catalog.count(*) FILTER (WHERE revision > 1) FROM e_%u), ",
						 f->n, f->n);
	else
		appendStringInfoString(&f->sql, "0::pg_catalog.int8, 0::pg_catalog.int8, ");
	if (window != NULL)
		appendStringInfo(&f->sql, "(SELECT mx FROM t_%u), %s, ", f->n, WatermarkAfter(f));
	else
		appendStringInfoString(&f->sql, "NULL::pg_catalog.timestamptz, NULL::pg_catalog.timestamptz, ");
	if (f->pure)
		appendStringInfo(&f->sql, "(SELECT COALESCE(pg_catalog.sum(%s), 0)::pg_catalog.int8 FROM %s)"
						 " AS stream_ext_events)",
						 HIDDEN_EVENTS, f->once);
	else
		appendStringInfoString(&f->sql, "NULL::pg_catalog.int8 AS stream_ext_events)");
}

/*
 * StreamOutputColumn tells what output column tle carries into an output
 * stream: -1 for a grouping key, else the index of its aggregate in
 * shape->aggs.  Anything else cannot be carried: refused.
 */
int
StreamOutputColumn(ViewShape *shape, TargetEntry *tle)
{
	ListCell   *lc;

	if (list_member_ptr(shape->keys, tle))
		return -1;
	if (IsA(tle->expr, Aggref))
	{
		foreach(lc, shape->aggs)
		{
			if (equal(lfirst(lc), tle->expr))
				return foreach_current_index(lc);
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("output column \"%s\" cannot be written to an output stream", tle->resname),
			 errdetail("An output stream carries the grouping keys and, per aggregate, its state over each batch."),
			 errhint("Make every other output column a single aggregate call, e.g. sum(x) AS total, count(*) AS n, and compute with them downstream.")));
	return 0;					/* keep the compiler quiet */
}
