/*-------------------------------------------------------------------------
 *
 * window.c
 *	  Event-time windows of a continuous view: which grouping key is the
 *	  window, and the SQL that tells when a window ends and which events of
 *	  a batch are late.
 *
 * A view has an event-time window when one of its grouping keys is
 *
 *	- stream_ext.tumble(ts, size [, origin]), or
 *	- window_start or window_end of LATERAL stream_ext.hop(ts, size, slide
 *	  [, origin]),
 *
 * with ts the stream's event_time column and size, slide and origin
 * constants.  Its windows then close as the view's watermark passes their
 * end (apply.c keeps the watermark; view.c generates what a batch does
 * with closed windows and late events from the expressions built here).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "stream_ext.h"

static char *EventTimeColumn(Oid stream);
static bool IsStreamExtFunction(Oid funcid, const char *name);
static char *ConstSQL(Node *node);
static List *FullArguments(FuncExpr *func);

/*
 * StreamFindWindow returns the event-time window among the grouping keys
 * of a view's query, or NULL when it has none.  keys are the grouping
 * keys' TargetEntries in the order of the state table's k1..kn.
 */
StreamWindow *
StreamFindWindow(Query *query, int stream_rti, Oid stream, List *keys)
{
	char	   *ts_column = EventTimeColumn(stream);
	AttrNumber	ts_attno;
	ListCell   *lc;

	if (ts_column == NULL)
		return NULL;
	ts_attno = get_attnum(stream, ts_column);

	foreach(lc, keys)
	{
		Expr	   *expr = lfirst_node(TargetEntry, lc)->expr;
		FuncExpr   *func = NULL;
		bool		hop = false;
		bool		is_end = false;
		Var		   *ts;
		List	   *args;
		StreamWindow *window;

		if (IsA(expr, FuncExpr) && IsStreamExtFunction(((FuncExpr *) expr)->funcid, "tumble"))
			func = (FuncExpr *) expr;
		else if (IsA(expr, Var) && ((Var *) expr)->varlevelsup == 0)
		{
			Var		   *var = (Var *) expr;
			RangeTblEntry *rte = rt_fetch(var->varno, query->rtable);
			RangeTblFunction *rtfunc;

			if (rte->rtekind != RTE_FUNCTION || list_length(rte->functions) != 1 ||
				(var->varattno != 1 && var->varattno != 2))
				continue;
			rtfunc = linitial_node(RangeTblFunction, rte->functions);
			if (!IsA(rtfunc->funcexpr, FuncExpr) ||
				!IsStreamExtFunction(((FuncExpr *) rtfunc->funcexpr)->funcid, "hop"))
				continue;
			func = (FuncExpr *) rtfunc->funcexpr;
			hop = true;
			is_end = var->varattno == 2;
		}
		if (func == NULL)
			continue;
		args = FullArguments(func);
		if (list_length(args) != (hop ? 4 : 3))
			continue;

		/* Over the stream's event time, with constant sizes. */
		ts = (Var *) linitial(args);
		if (!IsA(ts, Var) || ts->varno != stream_rti || ts->varattno != ts_attno ||
			ts->varlevelsup != 0 ||
			!IsA(lsecond(args), Const) || !IsA(lthird(args), Const) ||
			(hop && !IsA(lfourth(args), Const)))
			continue;

		window = palloc0(sizeof(StreamWindow));
		window->key = foreach_current_index(lc) + 1;
		window->hop = hop;
		window->is_end = is_end;
		window->ts_column = ts_column;
		window->ts_type = ts->vartype;
		window->size = ConstSQL(lsecond(args));
		if (hop)
		{
			Interval   *size = DatumGetIntervalP(((Const *) lsecond(args))->constvalue);
			Interval   *slide = DatumGetIntervalP(((Const *) lthird(args))->constvalue);
			int64		size_us = size->time + (int64) size->day * USECS_PER_DAY;
			int64		slide_us = slide->time + (int64) slide->day * USECS_PER_DAY;

			window->slide = ConstSQL(lthird(args));
			window->origin = ConstSQL(lfourth(args));
			window->hop_rti = ((Var *) expr)->varno;

			/* Panes: the largest interval both size and slide are multiples of. */
			if (size_us > 0 && slide_us > 0 && size->month == 0 && slide->month == 0 &&
				!((Const *) lsecond(args))->constisnull && !((Const *) lthird(args))->constisnull)
			{
				int64		a = size_us;
				int64		b = slide_us;

				while (b != 0)
				{
					int64		t = a % b;

					a = b;
					b = t;
				}
				window->pane_us = a;
				window->windows = (int) ((size_us + slide_us - 1) / slide_us);
			}
		}
		else
			window->origin = ConstSQL(lthird(args));
		return window;
	}
	return NULL;
}

/*
 * StreamWindowEnd returns the SQL of the end of the window whose key is
 * key_sql (an expression over the key column).
 */
char *
StreamWindowEnd(StreamWindow *window, const char *key_sql)
{
	if (window->is_end)
		return pstrdup(key_sql);
	return psprintf("(%s + %s)", key_sql, window->size);
}

/*
 * StreamWindowKeyAfter returns a condition that the window whose key is
 * key_sql ends after the time bound_sql, written on the key itself so
 * that an index on it serves.
 */
char *
StreamWindowKeyAfter(StreamWindow *window, const char *key_sql, const char *bound_sql)
{
	if (window->is_end)
		return psprintf("%s > %s", key_sql, bound_sql);
	return psprintf("%s > (%s) - %s", key_sql, bound_sql, window->size);
}

/*
 * StreamWindowLateEvents returns a query counting the late events of the
 * batch: those of the tumbling window that ended by the time wm_sql; for
 * hopping windows, each (event, window) pair whose window ended by then.
 */
char *
StreamWindowLateEvents(StreamWindow *window, const char *wm_sql)
{
	const char *ts = quote_identifier(window->ts_column);

	if (window->hop)
		return psprintf("SELECT pg_catalog.count(*) AS n FROM %s b,"
						" LATERAL stream_ext.hop(b.%s, %s, %s, %s) w"
						" WHERE w.window_end <= (%s)",
						STREAM_BATCH_CTE, ts, window->size, window->slide,
						window->origin, wm_sql);
	return psprintf("SELECT pg_catalog.count(*) AS n FROM %s b WHERE %s",
					STREAM_BATCH_CTE, StreamWindowEventClosed(window, psprintf("b.%s", ts), wm_sql));
}

/*
 * StreamWindowEventClosed returns a condition that the tumbling window of
 * the event time ts_sql ended by the time wm_sql.
 */
char *
StreamWindowEventClosed(StreamWindow *window, const char *ts_sql, const char *wm_sql)
{
	Assert(!window->hop);
	return psprintf("pg_catalog.date_bin(%s, %s, %s) + %s <= (%s)",
					window->size, ts_sql, window->origin, window->size, wm_sql);
}

/*
 * HopVarsContext counts the references to the hop() of a view's window.
 */
typedef struct HopVarsContext
{
	int			hop_rti;
	int			sublevels_up;
	int			count;
} HopVarsContext;

static bool
HopVarsWalker(Node *node, HopVarsContext *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		if (((Var *) node)->varno == context->hop_rti &&
			((Var *) node)->varlevelsup == context->sublevels_up)
			context->count++;
		return false;
	}
	if (IsA(node, Query))
	{
		bool		result;

		context->sublevels_up++;
		result = query_tree_walker((Query *) node, HopVarsWalker, (void *) context, 0);
		context->sublevels_up--;
		return result;
	}
	return expression_tree_walker(node, HopVarsWalker, (void *) context);
}

/*
 * StreamHopColumn tells which column of the window's hop() expr is: 1 for
 * window_start, 2 for window_end, 0 when it is not one of them.
 */
int
StreamHopColumn(Node *expr, StreamWindow *window)
{
	if (IsA(expr, Var) && ((Var *) expr)->varno == window->hop_rti &&
		((Var *) expr)->varlevelsup == 0)
		return ((Var *) expr)->varattno;
	return 0;
}

/*
 * StreamHopToPanes replaces, in query (a copy of a view's), the hop() of
 * its window by the one pane of the window's pane size that holds each
 * event, its window_start and window_end the pane's.  The query then
 * aggregates each event once, per pane; the panes make up the windows
 * (batch_partial.c).  False, and nothing changed, when the hop's columns
 * are used other than as grouping keys (a pane's bounds would not stand
 * for the window's there).
 */
bool
StreamHopToPanes(Query *query, StreamWindow *window, List *keys)
{
	HopVarsContext context = {window->hop_rti, 0, 0};
	RangeTblEntry *rte = rt_fetch(window->hop_rti, query->rtable);
	List	   *args;
	Node	   *ts;
	Node	   *origin;
	Interval   *pane;
	Const	   *pane_size;
	Expr	   *pane_start;
	Expr	   *pane_end;
	Query	   *panes;
	int			hop_keys = 0;
	ListCell   *lc;

	if (window->pane_us <= 0)
		return false;
	foreach(lc, keys)
		hop_keys += StreamHopColumn((Node *) lfirst_node(TargetEntry, lc)->expr, window) != 0;
	(void) query_tree_walker(query, HopVarsWalker, (void *) &context, 0);
	/* Each key appears in the target list and nowhere else may the hop. */
	if (context.count != hop_keys)
		return false;

	/*
	 * LATERAL (SELECT date_bin(pane, ts, origin) AS window_start,
	 * date_bin(pane, ts, origin) + pane AS window_end): built-in functions
	 * only, as the view's owner may call, in a subquery without FROM that
	 * the planner pulls up into the scan of the stream (an infinite ts is
	 * its own pane, as tumble() puts it; a NULL one is in the pane (NULL,
	 * NULL), which no window holds).
	 */
	args = FullArguments((FuncExpr *) linitial_node(RangeTblFunction, rte->functions)->funcexpr);
	ts = copyObject(linitial(args));
	origin = copyObject(lfourth(args));
	IncrementVarSublevelsUp(ts, 1, 0);
	IncrementVarSublevelsUp(origin, 1, 0);
	pane = palloc0(sizeof(Interval));
	pane->time = window->pane_us;
	pane_size = makeConst(INTERVALOID, -1, InvalidOid, sizeof(Interval),
						  IntervalPGetDatum(pane), false, false);
	pane_start = (Expr *) makeFuncExpr(F_DATE_BIN_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ, TIMESTAMPTZOID,
									   list_make3(pane_size, ts, origin),
									   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	pane_end = (Expr *) makeFuncExpr(F_TIMESTAMPTZ_PL_INTERVAL, TIMESTAMPTZOID,
									 list_make2(copyObject(pane_start), copyObject(pane_size)),
									 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	panes = makeNode(Query);
	panes->commandType = CMD_SELECT;
	panes->querySource = QSRC_ORIGINAL;
	panes->canSetTag = true;
	panes->jointree = makeFromExpr(NIL, NULL);
	panes->targetList = list_make2(makeTargetEntry(pane_start, 1, pstrdup("window_start"), false),
								   makeTargetEntry(pane_end, 2, pstrdup("window_end"), false));
	rte->rtekind = RTE_SUBQUERY;
	rte->subquery = panes;
	rte->functions = NIL;
	rte->funcordinality = false;
	rte->lateral = true;
	return true;
}

/*
 * StreamEventTimeColumn returns the name of a stream's event_time column
 * (its arrival column when it has no other), or NULL for no stream.
 */
char *
StreamEventTimeColumn(Oid stream)
{
	return EventTimeColumn(stream);
}

/*
 * EventTimeColumn returns the name of a stream's event_time column, or
 * NULL when it has none.
 */
static char *
EventTimeColumn(Oid stream)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(stream)};
	char	   *column = NULL;

	SPI_connect();
	if (SPI_execute_with_args("SELECT event_time::pg_catalog.text FROM stream_ext.stream"
							  " WHERE relid = $1::pg_catalog.oid",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read stream %u", stream);
	if (SPI_processed == 1)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (value != NULL)
		{
			column = SPI_palloc(strlen(value) + 1);
			strcpy(column, value);
		}
	}
	SPI_finish();
	return column;
}

/*
 * IsStreamExtFunction tells whether a function is stream_ext.<name>.
 */
static bool
IsStreamExtFunction(Oid funcid, const char *name)
{
	char	   *fname = get_func_name(funcid);

	return fname != NULL && strcmp(fname, name) == 0 &&
		get_func_namespace(funcid) == get_namespace_oid("stream_ext", false);
}

/*
 * FullArguments returns a call's arguments with the defaults of those it
 * leaves out.
 */
static List *
FullArguments(FuncExpr *func)
{
	HeapTuple	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(func->funcid));
	List	   *args;

	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", func->funcid);
	args = expand_function_arguments(func->args, false, func->funcresulttype, proctup);
	ReleaseSysCache(proctup);
	return args;
}

/*
 * ConstSQL deparses a constant, with its type.
 */
static char *
ConstSQL(Node *node)
{
	return deparse_expression(node, NIL, false, false);
}
