/*-------------------------------------------------------------------------
 *
 * batch_partial.c
 *	  The first step of a view's batch: the user's query over the batch,
 *	  with each aggregate's partial state in place of its value (p_n).
 *
 * The query reads the batch's common table expression, stream_ext_batch
 * (batch_statement.c), instead of the stream; its output is the grouping
 * keys k1..kn and the states s1..sm (partial.c marks the aggregates).
 *
 * A view that aggregates each event of the batch exactly once (it reads
 * the stream alone, without WHERE, with ordinary aggregates, and does not
 * move late events: "pure") also computes, in the same aggregation, what
 * the batch statement needs to know about the whole batch: its number of
 * events (stream_ext_n) and its largest event time within max_future
 * (stream_ext_mx), per group, summed in o_n and t_n; its late events are
 * those of the groups whose window had closed.  No other pass over the
 * batch is needed then.  Other views count these with queries over
 * stream_ext_batch of their own.
 *
 * A hopping window whose size and slide are multiples of one pane (their
 * greatest common divisor) is aggregated per pane first (h_n: each event
 * once, in the one pane that holds it), and the panes' states are then
 * combined into the windows by each aggregate's combine function: a batch
 * aggregates each event once, not once per window it is in.  Such a view
 * can be pure too.
 *
 * Late events dropped (late => 'drop'), windows past their ttl, expired
 * steps of a sliding window and events without a time (sessions) are
 * left out of p_n afterwards, so that the counts above include them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/attmap.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"

#include "batch_statement.h"

typedef struct StreamColumnsContext
{
	int			stream_rti;
	int			sublevels_up;
	Bitmapset  *attnos;
} StreamColumnsContext;

static bool StreamColumnsWalker(Node *node, StreamColumnsContext *context);
static List *HiddenAggregates(ViewShape *shape, ContinuousViewOptions *options, uint32 n);
static TargetEntry *MarkedState(Expr *aggref, Oid state_type, int resno, const char *name);
static void EmitPanesToWindows(BatchFragment *f, const char *raw);

/*
 * StreamViewIsPure tells whether the view's p_n aggregates every event of
 * the batch exactly once, as it is (see the top of the file); panes: its
 * hopping window is aggregated per pane (StreamViewPanes).
 */
bool
StreamViewIsPure(ViewShape *shape, ContinuousViewOptions *options, bool panes)
{
	Query	   *q = shape->query;
	Oid			carry_oid = StreamExtFunction("carry", 1, (Oid[]) {ANYOID});
	ListCell   *lc;

	/* Aggregates over states (combine()) run as another split. */
	foreach(lc, shape->aggs)
	{
		Aggref	   *aggref = lfirst(lc);

		if (aggref->aggfilter != NULL && IsA(aggref->aggfilter, FuncExpr) &&
			((FuncExpr *) aggref->aggfilter)->funcid == carry_oid)
			return false;
	}
	return (list_length(q->rtable) == 1 ||
			(list_length(q->rtable) == 2 && panes)) &&
		q->jointree->quals == NULL && options->late != 'a';
}

/*
 * StreamViewPanes tells whether the view's hopping window is aggregated
 * per pane first (see the top of the file): its size and slide are
 * multiples of one pane, an event is in more than one window, and the
 * hop's columns are only grouping keys.
 */
bool
StreamViewPanes(ViewShape *shape)
{
	StreamWindow *window = shape->window;

	if (window == NULL || !window->hop || window->pane_us <= 0 || window->windows <= 1)
		return false;
	return StreamHopToPanes(copyObject(shape->query), window, shape->keys);
}

/*
 * StreamPartialQuery returns the user's query over the batch, with the
 * grouping keys k1..kn and the aggregates' states s1..sm as output, and
 * for a pure view the hidden counts of the batch (see the top of the
 * file).  panes: per pane of its hopping window, not per window.  A view
 * without keys has k1 = true.
 */
char *
StreamPartialQuery(ViewShape *shape, ContinuousViewOptions *options, bool pure,
				   bool panes, uint32 n)
{
	Query	   *pq = copyObject(shape->query);
	List	   *tlist = NIL;
	ListCell   *lc;
	int			resno = 1;
	int			i = 0;

	if (panes && !StreamHopToPanes(pq, shape->window, shape->keys))
		elog(ERROR, "the hopping window of a continuous view has no panes");

	if (shape->keys == NIL)
		tlist = lappend(tlist, makeTargetEntry((Expr *) makeBoolConst(true, false),
											   resno++, "k1", false));
	foreach(lc, shape->keys)
	{
		TargetEntry *key = copyObject(lfirst_node(TargetEntry, lc));

		key->resno = resno;
		key->resname = psprintf("k%d", resno);
		key->resjunk = false;	/* a sliding window's step is not an output */
		resno++;
		tlist = lappend(tlist, key);
	}
	foreach(lc, shape->aggs)
	{
		Oid			state_type = list_nth_oid(shape->state_types, i++);

		tlist = lappend(tlist, MarkedState(copyObject(lfirst(lc)), state_type, resno++,
										   psprintf("s%d", i)));
	}
	if (pure)
	{
		static const char *const names[] = {HIDDEN_EVENTS, HIDDEN_MAX_TIME};

		i = 0;
		foreach(lc, HiddenAggregates(shape, options, n))
		{
			Aggref	   *aggref = lfirst(lc);

			tlist = lappend(tlist, MarkedState((Expr *) aggref,
											   StreamAggregateStateType(aggref),
											   resno++, names[i++]));
		}
	}
	pq->targetList = tlist;
	return StreamBatchQuery(shape, pq);
}

/*
 * MarkedState returns the output column name of the state of an aggregate
 * call: stream_ext.partial(call, NULL::state_type).
 */
static TargetEntry *
MarkedState(Expr *aggref, Oid state_type, int resno, const char *name)
{
	Oid			partial_oid = StreamExtFunction("partial", 2, (Oid[]) {ANYOID, ANYELEMENTOID});
	FuncExpr   *marker;

	marker = makeFuncExpr(partial_oid, state_type,
						  list_make2(aggref, makeNullConst(state_type, -1, InvalidOid)),
						  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	return makeTargetEntry((Expr *) marker, resno, pstrdup(name), false);
}

/*
 * HiddenAggregates returns the aggregate calls that count a pure view's
 * batch: count(*) and, with an event-time window, the largest event time
 * within max_future.  They are analyzed over the stream, as the view's own
 * query is, and then refer to the stream where it does.
 */
static List *
HiddenAggregates(ViewShape *shape, ContinuousViewOptions *options, uint32 n)
{
	StreamWindow *window = shape->window;
	char	   *stream = quote_qualified_identifier(get_namespace_name(get_rel_namespace(shape->stream)),
													get_rel_name(shape->stream));
	char	   *sql;
	Query	   *q;
	List	   *aggs = NIL;
	ListCell   *lc;

	if (window == NULL)
		sql = psprintf("SELECT pg_catalog.count(*) FROM %s", stream);
	else
	{
		const char *ts = quote_identifier(window->ts_column);
		sql = psprintf("SELECT pg_catalog.count(*),"
					   " pg_catalog.max(%s) FILTER (WHERE %s <= pg_catalog.now() + %s)"
					   " FROM %s",
					   ts, ts, options->max_future, stream);
	}
	q = parse_analyze_fixedparams(linitial_node(RawStmt, pg_parse_query(sql)), sql, NULL, 0, NULL);
	foreach(lc, q->targetList)
	{
		Node	   *aggref = (Node *) lfirst_node(TargetEntry, lc)->expr;

		ChangeVarNodes(aggref, 1, shape->stream_rti, 0);
		aggs = lappend(aggs, aggref);
	}
	return aggs;
}

/*
 * EmitPartial appends the view's partial states: p_n, or q_n with all the
 * batch's groups and p_n with those the batch applies (see the top of the
 * file), with t_n (the watermarks) between them.
 */
void
EmitPartial(BatchFragment *f)
{
	ViewShape  *shape = f->shape;
	ContinuousViewOptions *options = f->options;
	StreamWindow *window = shape->window;
	char	   *partial = StreamPartialQuery(shape, options, f->pure, f->panes, f->n);
	char	   *wm_old = WatermarkBefore(f);
	List	   *conditions = NIL;
	int			nkeys = Max(list_length(shape->keys), 1);
	ListCell   *lc;
	char	   *raw;

	if (window != NULL && options->late == 'd')
		conditions = lappend(conditions,
							 StreamWindowKeyAfter(window, psprintf("p.k%d", window->key), wm_old));
	if (window != NULL && options->ttl != NULL)
		conditions = lappend(conditions,
							 StreamWindowKeyAfter(window, psprintf("p.k%d", window->key),
												  psprintf("%s - %s", wm_old, options->ttl)));
	if (options->sliding != NULL)
		conditions = lappend(conditions, psprintf("p.k%d + %s > pg_catalog.now() - %s",
												  nkeys, options->step, options->sliding));
	if (options->session_gap != NULL)
		conditions = lappend(conditions, psprintf("p.k%d IS NOT NULL", nkeys));

	raw = f->raw = psprintf(conditions != NIL ? "q_%u" : "p_%u", f->n);
	f->once = f->panes ? psprintf("h_%u", f->n) : raw;
	if (window != NULL && options->late == 'a')
	{
		const char *ts = quote_identifier(window->ts_column);

		/* Late events moved to the watermark: the batch, re-timed. */
		EmitWatermark(f);
		appendStringInfo(&f->sql, "%s AS (WITH %s AS (SELECT ", f->once, STREAM_BATCH_CTE);
		foreach(lc, shape->columns)
		{
			if (strcmp((char *) lfirst(lc), window->ts_column) != 0)
				appendStringInfo(&f->sql, "%s, ", quote_identifier((char *) lfirst(lc)));
		}
		appendStringInfo(&f->sql, "CASE WHEN %s THEN %s::%s ELSE %s END AS %s FROM %s) %s),\n",
						 StreamWindowEventClosed(window, ts, wm_old), wm_old,
						 format_type_be(window->ts_type), ts, ts, STREAM_BATCH_CTE, partial);
	}
	else
	{
		appendStringInfo(&f->sql, "%s AS (%s),\n", f->once, partial);
		if (window != NULL)
			EmitWatermark(f);
	}
	if (f->panes)
		EmitPanesToWindows(f, raw);

	if (conditions != NIL)
	{
		appendStringInfo(&f->sql, "p_%u AS (SELECT * FROM q_%u p WHERE ", f->n, f->n);
		foreach(lc, conditions)
			appendStringInfo(&f->sql, "%s%s", foreach_current_index(lc) > 0 ? " AND " : "",
							 (char *) lfirst(lc));
		appendStringInfoString(&f->sql, "),\n");
	}
}

/*
 * EmitPanesToWindows appends raw, the groups of the batch's windows: the
 * states of h_n, per pane, combined into each hopping window that holds
 * the pane (the windows that hold an event are those that hold its pane,
 * as hop() of the pane's start gives them).  A pure view's counts of
 * events are combined per window too (count's combine function: every
 * aggregate of a level is a combination), as the late events counted are
 * (event, window) pairs.
 */
static void
EmitPanesToWindows(BatchFragment *f, const char *raw)
{
	ViewShape  *shape = f->shape;
	ViewLayout *layout = f->layout;
	StreamWindow *window = shape->window;
	Interval   *pane = palloc0(sizeof(Interval));
	char	   *pane_sql;
	char	   *pane_start = NULL;
	StringInfoData keys;
	StringInfoData group;
	ListCell   *lc;

	pane->time = window->pane_us;
	pane_sql = psprintf("%s::pg_catalog.interval",
						quote_literal_cstr(DatumGetCString(DirectFunctionCall1(interval_out,
																			 IntervalPGetDatum(pane)))));
	initStringInfo(&keys);
	initStringInfo(&group);
	foreach(lc, shape->keys)
	{
		Expr	   *expr = lfirst_node(TargetEntry, lc)->expr;
		int			k = foreach_current_index(lc) + 1;
		const char *column;

		int			hop_column = StreamHopColumn((Node *) expr, window);

		if (hop_column != 0)
		{
			bool		start = hop_column == 1;

			column = start ? "w.stream_ext_ws" : "w.stream_ext_we";
			if (start)
				pane_start = psprintf("h.k%d", k);
			else if (pane_start == NULL)
				pane_start = psprintf("(h.k%d - %s)", k, pane_sql);
		}
		else
			column = psprintf("g.%s", quote_identifier(list_nth(layout->keys, k - 1)));
		appendStringInfo(&keys, "%s%s AS k%d", k > 1 ? ", " : "", column, k);
		appendStringInfo(&group, "%s%s", k > 1 ? ", " : "", column);
	}
	Assert(pane_start != NULL);

	appendStringInfo(&f->sql, "%s AS (SELECT %s%s%s FROM (SELECT %s%s, %s AS stream_ext_pane FROM %s h) g,"
					 " LATERAL stream_ext.hop(g.stream_ext_pane, %s, %s, %s) w(stream_ext_ws, stream_ext_we)"
					 " GROUP BY %s),\n",
					 raw, keys.data, StreamCombineStates(shape, layout, TableContext(f)),
					 f->pure ? ", stream_ext.partial(pg_catalog.count(*) FILTER (WHERE stream_ext.carry(g."
					 HIDDEN_EVENTS ")), NULL::pg_catalog.int8) AS " HIDDEN_EVENTS : "",
					 StreamStatesAsColumns(shape, layout, "h"),
					 f->pure ? ", h." HIDDEN_EVENTS : "",
					 pane_start, f->once,
					 window->size, window->slide, window->origin, group.data);
}

/*
 * StreamBatchQuery deparses pq, a query over the view's stream, as a query
 * over the batch (the CTE stream_ext_batch) instead; the stream columns it
 * reads are appended to shape->columns, in the order of the CTE's.
 */
char *
StreamBatchQuery(ViewShape *shape, Query *pq)
{
	ListCell   *lc;
	RangeTblEntry *stream_rte = rt_fetch(shape->stream_rti, pq->rtable);
	RangeTblEntry *batch_rte = makeNode(RangeTblEntry);
	StreamColumnsContext ccontext = {shape->stream_rti, 0, NULL};
	AttrMap    *attno_map;
	List	   *colnames = NIL;
	bool		found_whole_row;
	int			attno = -1;
	int			i = 0;

	/* The stream's columns the query reads, renumbered in the batch. */
	(void) query_tree_walker(pq, StreamColumnsWalker, (void *) &ccontext, 0);
	attno_map = make_attrmap(Max(bms_prev_member(ccontext.attnos, -1), 1));
	while ((attno = bms_next_member(ccontext.attnos, attno)) >= 0)
	{
		char	   *name = get_attname(shape->stream, attno, false);

		attno_map->attnums[attno - 1] = ++i;
		colnames = lappend(colnames, makeString(name));
		shape->columns = lappend(shape->columns, name);
	}
	pq = (Query *) map_variable_attnos((Node *) pq, shape->stream_rti, 0,
									   attno_map, InvalidOid, &found_whole_row);
	Assert(!found_whole_row);

	batch_rte->rtekind = RTE_CTE;
	batch_rte->ctename = STREAM_BATCH_CTE;
	batch_rte->ctelevelsup = 0;
	batch_rte->alias = makeAlias(stream_rte->eref->aliasname, NIL);
	batch_rte->eref = makeAlias(stream_rte->eref->aliasname, colnames);
	batch_rte->inh = false;
	batch_rte->inFromCl = stream_rte->inFromCl;
	foreach(lc, colnames)
	{
		AttrNumber	a = get_attnum(shape->stream, strVal(lfirst(lc)));
		Oid			type;
		int32		typmod;
		Oid			collation;

		get_atttypetypmodcoll(shape->stream, a, &type, &typmod, &collation);
		batch_rte->coltypes = lappend_oid(batch_rte->coltypes, type);
		batch_rte->coltypmods = lappend_int(batch_rte->coltypmods, typmod);
		batch_rte->colcollations = lappend_oid(batch_rte->colcollations, collation);
	}
	list_nth_cell(pq->rtable, shape->stream_rti - 1)->ptr_value = batch_rte;

	return pg_get_querydef(pq, false);
}

/*
 * StreamColumnsWalker collects the attribute numbers of the stream's
 * columns that the query reads.
 */
static bool
StreamColumnsWalker(Node *node, StreamColumnsContext *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varno == context->stream_rti &&
			var->varlevelsup == context->sublevels_up)
		{
			if (var->varattno == InvalidAttrNumber)
				StreamRefuse("a whole-row reference to the stream",
							 "Name the columns the view needs.");
			if (var->varattno < 0)
				StreamRefuse("a system column of the stream", NULL);
			context->attnos = bms_add_member(context->attnos, var->varattno);
		}
		return false;
	}
	if (IsA(node, Query))
	{
		bool		result;

		context->sublevels_up++;
		result = query_tree_walker((Query *) node, StreamColumnsWalker,
								   (void *) context, 0);
		context->sublevels_up--;
		return result;
	}
	return expression_tree_walker(node, StreamColumnsWalker, (void *) context);
}
