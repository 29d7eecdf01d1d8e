/*-------------------------------------------------------------------------
 *
 * batch_windows.c
 *	  The parts of a batch statement that follow event time: the watermark
 *	  before and after the batch (t_n), the windows that close in it (v_n,
 *	  e_n) and retention (ttl, a sliding window's expired steps).
 *
 * The watermark after a batch is the largest event time seen so far (at
 * most max_future ahead of the clock) minus allowed_lateness, and never
 * goes back.  A pure view (batch_partial.c) takes the batch's largest
 * event time from its own aggregation; any other reads the batch for it.
 *
 * A window closes when the watermark passes its end.  Its revision counts
 * how often it was emitted: once when it closed, once more for every
 * batch that changed it since (the upsert, batch_merge.c, raises it for
 * the windows the batch changed; v_n for those that close without
 * changing).  e_n is what closed: the rows appended (append_to) and
 * notified (emit => 'final').
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "batch_statement.h"

/*
 * WatermarkBefore and WatermarkAfter return the SQL of the watermark the
 * batch starts with and ends with.
 */
char *
WatermarkBefore(BatchFragment *f)
{
	return psprintf("(SELECT wm_old FROM t_%u)", f->n);
}

char *
WatermarkAfter(BatchFragment *f)
{
	return psprintf("(SELECT wm_new FROM t_%u)", f->n);
}

/*
 * EmitWatermark appends t_n: the watermark before the batch (wm_old), the
 * largest event time seen (mx) and the watermark after it (wm_new).
 */
void
EmitWatermark(BatchFragment *f)
{
	StreamWindow *window = f->shape->window;
	char	   *mx;

	if (f->pure)
		mx = psprintf("SELECT pg_catalog.max(%s)::pg_catalog.timestamptz AS mx FROM %s",
					  HIDDEN_MAX_TIME, f->once);
	else
		mx = psprintf("SELECT pg_catalog.max(%s)::pg_catalog.timestamptz AS mx FROM %s"
					  " WHERE %s <= pg_catalog.now() + %s",
					  quote_identifier(window->ts_column), STREAM_BATCH_CTE,
					  quote_identifier(window->ts_column), f->options->max_future);
	appendStringInfo(&f->sql,
					 "t_%u AS (SELECT COALESCE(c.watermark, '-infinity') AS wm_old,"
					 " GREATEST(c.max_event_time, b.mx) AS mx,"
					 " COALESCE(GREATEST(c.watermark,"
					 " GREATEST(c.max_event_time, b.mx) - c.allowed_lateness), '-infinity') AS wm_new"
					 " FROM stream_ext.continuous_view c, (%s) b WHERE c.part = %u),\n",
					 f->n, mx, f->n);
}

/*
 * EmitClosedWindows appends, for a view that emits closed windows, v_n
 * (the windows that close in this batch without having changed in it: to
 * revision 1, found by the partial index on their key) and e_n (every
 * window emitted by this batch, with its revision).
 */
void
EmitClosedWindows(BatchFragment *f)
{
	ViewShape  *shape = f->shape;
	StreamWindow *window = shape->window;
	char	   *wkey = psprintf("r.%s", quote_identifier(list_nth(f->layout->keys, window->key - 1)));

	appendStringInfo(&f->sql, "v_%u AS (UPDATE ", f->n);
	NamePart(f, "result");
	appendStringInfo(&f->sql, " r SET %s = 1 WHERE r.%s = 0 AND %s AND NOT (%s)"
					 " AND NOT EXISTS (SELECT 1 FROM p_%u p WHERE ",
					 REVISION_COLUMN, REVISION_COLUMN,
					 StreamWindowKeyAfter(window, wkey, WatermarkBefore(f)),
					 StreamWindowKeyAfter(window, wkey, WatermarkAfter(f)), f->n);
	KeysMatch(&f->sql, shape, PartKeys(shape, "p"), TableKeys(f->layout, "r"));
	appendStringInfo(&f->sql, ") RETURNING %s%s),\n",
					 OutputList(f->layout, "r"), HiddenStateList(f->layout, "r"));

	appendStringInfo(&f->sql,
					 "e_%u AS (SELECT %s, w.%s AS revision FROM w_%u w WHERE w.stream_ext_closed"
					 " UNION ALL SELECT %s, 1 FROM v_%u v),\n",
					 f->n, OutputList(f->layout, "w"), REVISION_COLUMN, f->n,
					 OutputList(f->layout, "v"), f->n);
}

/*
 * EmitRetention appends the deletes of retention: windows that ended ttl
 * or longer before the watermark the batch started with (closed, and
 * emitted, in earlier batches; the batch's events for them were left out
 * of p_n), and the steps of a sliding window that ended before it.
 */
void
EmitRetention(BatchFragment *f)
{
	ViewShape  *shape = f->shape;
	ContinuousViewOptions *options = f->options;

	if (shape->window != NULL && options->ttl != NULL)
	{
		char	   *wkey = psprintf("r.%s", quote_identifier(list_nth(f->layout->keys,
																	   shape->window->key - 1)));

		appendStringInfo(&f->sql, "tr_%u AS (DELETE FROM ", f->n);
		NamePart(f, "result");
		appendStringInfo(&f->sql, " r WHERE NOT (%s)),\n",
						 StreamWindowKeyAfter(shape->window, wkey,
											  psprintf("%s - %s", WatermarkBefore(f), options->ttl)));
	}
	if (options->sliding != NULL)
	{
		appendStringInfo(&f->sql, "d_%u AS (DELETE FROM ", f->n);
		NamePart(f, "state");
		appendStringInfo(&f->sql, " st WHERE st.k%d + %s <= pg_catalog.now() - %s),\n",
						 list_length(shape->keys), options->step, options->sliding);
	}
}
