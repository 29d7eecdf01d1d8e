/*-------------------------------------------------------------------------
 *
 * partial.c
 *	  Partial aggregation through PostgreSQL's own executor.
 *
 * A continuous view keeps, per group, the transition state of each of its
 * aggregates, and folds each batch of events into it with the aggregate's
 * own combine function.  PostgreSQL's Agg node can already run an
 * aggregate in those modes (parallel aggregation does): transition plus
 * serialize, deserialize plus combine plus serialize, deserialize plus
 * combine plus final.  SQL has no syntax for them, so the generated
 * queries carry two markers, and the planner hook below turns the marked
 * aggregate calls into Aggrefs with the right AggSplit before planning and
 * sets the split of the Agg nodes after planning:
 *
 *	stream_ext.partial(agg(args) [FILTER (WHERE f)], NULL::statetype)
 *		the transition state of agg over the input rows: AGGSPLIT_INITIAL_SERIAL.
 *	stream_ext.partial(agg(NULLs) FILTER (WHERE stream_ext.carry(s)), NULL::statetype)
 *		the states in column s combined: COMBINE | DESERIALIZE | SKIPFINAL | SERIALIZE.
 *	agg(NULLs) FILTER (WHERE stream_ext.carry(s))
 *		the states in column s combined and finalized: AGGSPLIT_FINAL_DESERIAL.
 *
 * A state is stored as the aggregate's transition type, or as bytea (its
 * serial form) when that type is internal.  Strictness, initial values,
 * memory contexts and hashing with spill stay the executor's.
 *
 * One Agg node runs one split, so all aggregates of one query level must
 * be marked alike.  Queries are planned without parallelism: a parallel
 * plan would split the aggregates a second time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "parser/parse_agg.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "stream_ext.h"

#define PARTIAL_MARKER_SRC	"stream_ext_partial_marker"
#define CARRY_MARKER_SRC	"stream_ext_carry_marker"

/* OIDs of the marker functions, looked up when first met. */
static Oid	partial_marker_oid = InvalidOid;
static Oid	carry_marker_oid = InvalidOid;

static planner_hook_type prev_planner_hook = NULL;

typedef struct MarkContext
{
	bool		found;			/* some aggregate was marked */
} MarkContext;

static PlannedStmt *StreamPlanner(Query *parse, const char *query_string,
								  int cursorOptions,
								  ParamListInfo boundParams);
static bool IsMarker(Oid funcid, const char *prosrc, Oid *cache);
static bool QueryHasMarkers(Node *node, void *context);
static void MarkQuery(Query *query, MarkContext *context);
static bool MarkSubLinks(Node *node, MarkContext *context);
static Node *MarkMutator(Node *node, MarkContext *context);
static Aggref *MarkAggref(Aggref *aggref, bool serialize, Oid state_type);
static Expr *CarriedState(Aggref *aggref);
static void FixAggNodes(Plan *plan, List *subplans);
static void InvalidateMarkers(Datum arg, int cacheid, uint32 hashvalue);

PG_FUNCTION_INFO_V1(stream_ext_partial_marker);
PG_FUNCTION_INFO_V1(stream_ext_carry_marker);
PG_FUNCTION_INFO_V1(stream_ext_combine_outside);

/*
 * stream_ext_partial_marker is never called when its query was planned by
 * stream_ext: the planner hook replaces it with the aggregate it wraps.
 */
Datum
stream_ext_partial_marker(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("stream_ext.partial() must wrap an aggregate call"),
			 errhint("It is used in the queries stream_ext generates for continuous views.")));
	PG_RETURN_NULL();
}

/*
 * stream_ext_carry_marker, likewise, only marks the FILTER of an
 * aggregate whose input is a column of states.
 */
Datum
stream_ext_carry_marker(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("stream_ext.carry() must be the FILTER of an aggregate call"),
			 errhint("It is used in the queries stream_ext generates for continuous views.")));
	PG_RETURN_NULL();
}

/*
 * stream_ext_combine_outside is the transition function of the aggregate
 * stream_ext.combine(), which view.c replaces in continuous views over
 * output streams; anywhere else it refuses to run.
 */
Datum
stream_ext_combine_outside(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("stream_ext.combine() works only in a continuous view over an output stream"),
			 errhint("Create a continuous view that reads the output stream; combine() there merges the states a column holds.")));
	PG_RETURN_NULL();
}

/*
 * MarkSubLinks marks the queries of the sublinks of an expression (e.g. a
 * sliding-window view read in a subquery of WHERE).
 */
static bool
MarkSubLinks(Node *node, MarkContext *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubLink))
	{
		MarkQuery(castNode(Query, ((SubLink *) node)->subselect), context);
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, MarkSubLinks, (void *) context);
}

/*
 * StreamPartialInstallHooks installs the planner hook.
 */
void
StreamPartialInstallHooks(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = StreamPlanner;
	CacheRegisterSyscacheCallback(PROCOID, InvalidateMarkers, (Datum) 0);
}

/*
 * InvalidateMarkers forgets the marker OIDs when pg_proc changes (the
 * extension may have been dropped and created again).
 */
static void
InvalidateMarkers(Datum arg, int cacheid, uint32 hashvalue)
{
	partial_marker_oid = InvalidOid;
	carry_marker_oid = InvalidOid;
}

/*
 * StreamPlanner marks the aggregates of queries that carry markers, plans
 * them without parallelism, and sets the split of their Agg nodes.
 */
static PlannedStmt *
StreamPlanner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams)
{
	PlannedStmt *result;
	bool		marked = false;

	StreamCheckCitusCalls(parse);
	if (QueryHasMarkers((Node *) parse, NULL))
	{
		MarkContext context = {false};

		MarkQuery(parse, &context);
		marked = context.found;
		cursorOptions &= ~CURSOR_OPT_PARALLEL_OK;
	}

	if (prev_planner_hook)
		result = prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	else
		result = standard_planner(parse, query_string, cursorOptions, boundParams);

	if (marked)
	{
		ListCell   *lc;

		FixAggNodes(result->planTree, result->subplans);
		foreach(lc, result->subplans)
			FixAggNodes((Plan *) lfirst(lc), result->subplans);
	}
	return result;
}

/*
 * IsMarker tells whether funcid is the C function with the given symbol,
 * remembering its OID.
 */
static bool
IsMarker(Oid funcid, const char *prosrc, Oid *cache)
{
	HeapTuple	tuple;
	bool		result = false;

	if (OidIsValid(*cache))
		return funcid == *cache;

	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tuple);

		if (proc->prolang == ClanguageId)
		{
			bool		isnull;
			Datum		src = SysCacheGetAttr(PROCOID, tuple,
											  Anum_pg_proc_prosrc, &isnull);

			if (!isnull && strcmp(TextDatumGetCString(src), prosrc) == 0)
			{
				*cache = funcid;
				result = true;
			}
		}
		ReleaseSysCache(tuple);
	}
	return result;
}

#define IsPartialMarker(funcid) IsMarker((funcid), PARTIAL_MARKER_SRC, &partial_marker_oid)
#define IsCarryMarker(funcid)	IsMarker((funcid), CARRY_MARKER_SRC, &carry_marker_oid)

/*
 * QueryHasMarkers looks for a marker in any query level that aggregates.
 * Queries without aggregates, the vast majority, cost one flag test.
 */
static bool
QueryHasMarkers(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;

		if (query->hasAggs &&
			expression_tree_walker((Node *) query->targetList, QueryHasMarkers, (void *) query))
			return true;
		return query_tree_walker(query, QueryHasMarkers, NULL, 0);
	}
	if (context != NULL && IsA(node, FuncExpr))
	{
		Oid			funcid = ((FuncExpr *) node)->funcid;

		if (IsPartialMarker(funcid) || IsCarryMarker(funcid))
			return true;
	}
	if (context == NULL)
		return expression_tree_walker(node, QueryHasMarkers, NULL);
	return expression_tree_walker(node, QueryHasMarkers, context);
}

/*
 * MarkQuery marks the aggregates of every query level, and checks that a
 * level does not mix marked and plain aggregates.
 */
static void
MarkQuery(Query *query, MarkContext *context)
{
	ListCell   *lc;

	foreach(lc, query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		MarkQuery(castNode(Query, cte->ctequery), context);
	}
	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_SUBQUERY)
			MarkQuery(rte->subquery, context);
	}
	(void) query_tree_walker(query, MarkSubLinks, (void *) context, QTW_IGNORE_RC_SUBQUERIES);
	if (query->setOperations == NULL && query->hasAggs)
	{
		MarkContext level = {false};
		List	   *aggs;
		int			marked = 0;
		int			plain = 0;

		query->targetList = (List *) MarkMutator((Node *) query->targetList, &level);
		if (query->havingQual != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("HAVING cannot be used with stream_ext's aggregate markers")));

		if (!level.found)
			return;
		context->found = true;

		aggs = pull_var_clause((Node *) query->targetList,
							   PVC_INCLUDE_AGGREGATES | PVC_RECURSE_PLACEHOLDERS |
							   PVC_RECURSE_WINDOWFUNCS);
		foreach(lc, aggs)
		{
			Node	   *node = lfirst(lc);

			if (!IsA(node, Aggref))
				continue;
			if (((Aggref *) node)->aggsplit != AGGSPLIT_SIMPLE)
				marked++;
			else
				plain++;
		}
		if (plain > 0 && marked > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a query level cannot mix marked and plain aggregate calls")));
	}
}

/*
 * MarkMutator replaces partial(agg, NULL::t) by the marked aggregate, and
 * marks agg(...) FILTER (WHERE carry(s)) for finalizing.
 */
static Node *
MarkMutator(Node *node, MarkContext *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, FuncExpr) && IsPartialMarker(((FuncExpr *) node)->funcid))
	{
		FuncExpr   *marker = (FuncExpr *) node;
		Node	   *arg = linitial(marker->args);

		if (!IsA(arg, Aggref) || ((Aggref *) arg)->agglevelsup != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("stream_ext.partial() must wrap an aggregate call of its own query level")));
		context->found = true;
		return (Node *) MarkAggref(copyObject((Aggref *) arg), true,
								   marker->funcresulttype);
	}
	if (IsA(node, Aggref))
	{
		Aggref	   *aggref = (Aggref *) node;

		if (aggref->agglevelsup == 0 && CarriedState(aggref) != NULL)
		{
			context->found = true;
			return (Node *) MarkAggref(copyObject(aggref), false, InvalidOid);
		}
		return node;
	}
	return expression_tree_mutator(node, MarkMutator, (void *) context);
}

/*
 * CarriedState returns s of an aggregate marked FILTER (WHERE carry(s)).
 */
static Expr *
CarriedState(Aggref *aggref)
{
	FuncExpr   *filter = (FuncExpr *) aggref->aggfilter;

	if (filter == NULL || !IsA(filter, FuncExpr) || !IsCarryMarker(filter->funcid))
		return NULL;
	return (Expr *) linitial(filter->args);
}

/*
 * StreamAggregateStateType checks that an aggregate call can be computed
 * in parts and returns the type its state is stored as: the transition
 * type, or bytea when that is internal.  Sets aggref->aggtranstype.
 */
Oid
StreamAggregateStateType(Aggref *aggref)
{
	HeapTuple	tuple;
	Form_pg_aggregate agg;
	Oid			inputTypes[FUNC_MAX_ARGS];
	int			nargs;
	Oid			transtype;
	char	   *aggname = get_func_name(aggref->aggfnoid);

	tuple = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggref->aggfnoid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for aggregate %u", aggref->aggfnoid);
	agg = (Form_pg_aggregate) GETSTRUCT(tuple);

	if (aggref->aggkind != AGGKIND_NORMAL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ordered-set aggregate %s cannot be maintained incrementally", aggname),
				 errdetail("Its result depends on all the rows at once; it has no state to combine."),
				 errhint("tdigest_percentile() from the tdigest extension computes approximate percentiles that can be combined.")));
	if (aggref->aggdistinct != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DISTINCT in aggregate %s cannot be maintained incrementally", aggname),
				 errhint("For approximate distinct counts use hll_add_agg() from the hll extension, e.g. hll_cardinality(hll_add_agg(hll_hash_integer(x))).")));
	if (aggref->aggorder != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ORDER BY in aggregate %s cannot be maintained incrementally", aggname),
				 errhint("Remove the ORDER BY from the aggregate call.")));
	if (!OidIsValid(agg->aggcombinefn))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aggregate %s cannot be maintained incrementally", aggname),
				 errdetail("It has no combine function."),
				 errhint("Use an aggregate that has one; CREATE AGGREGATE takes COMBINEFUNC (and SERIALFUNC, DESERIALFUNC for an internal state).")));

	nargs = get_aggregate_argtypes(aggref, inputTypes);
	transtype = resolve_aggregate_transtype(aggref->aggfnoid, agg->aggtranstype,
											inputTypes, nargs);
	if (transtype == INTERNALOID &&
		(!OidIsValid(agg->aggserialfn) || !OidIsValid(agg->aggdeserialfn)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aggregate %s cannot be maintained incrementally", aggname),
				 errdetail("Its state has type internal and it has no serialization functions.")));
	ReleaseSysCache(tuple);

	aggref->aggtranstype = transtype;
	return transtype == INTERNALOID ? BYTEAOID : transtype;
}

/*
 * MarkAggref sets the split, transition type and result type of one
 * aggregate call.  serialize: the result is the state (of type
 * state_type, the marker's); otherwise the carried states are finalized.
 */
static Aggref *
MarkAggref(Aggref *aggref, bool serialize, Oid state_type)
{
	Expr	   *carried = CarriedState(aggref);
	AggSplit	split;
	char	   *aggname = get_func_name(aggref->aggfnoid);
	Oid			stored = StreamAggregateStateType(aggref);

	if (carried != NULL)
	{
		Oid			expected = stored;

		if (exprType((Node *) carried) != expected)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("state of aggregate %s has type %s, not %s",
							aggname, format_type_be(exprType((Node *) carried)),
							format_type_be(expected))));
		/*
		 * Stored states may be compressed or out of line, and some
		 * extensions' deserialization functions read their argument
		 * without detoasting it (parallel query never hands them a toasted
		 * value): serialized states pass through substr(state, 1), a
		 * detoasted copy.
		 */
		if (aggref->aggtranstype == INTERNALOID)
			carried = (Expr *) makeFuncExpr(F_SUBSTR_BYTEA_INT4, BYTEAOID,
											list_make2(carried,
													   makeConst(INT4OID, -1, InvalidOid, sizeof(int32),
																 Int32GetDatum(1), false, true)),
											InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		aggref->args = list_make1(makeTargetEntry(carried, 1, NULL, false));
		aggref->aggfilter = NULL;
		split = serialize ?
			(AGGSPLITOP_COMBINE | AGGSPLITOP_DESERIALIZE |
			 AGGSPLITOP_SKIPFINAL | AGGSPLITOP_SERIALIZE) :
			AGGSPLIT_FINAL_DESERIAL;
	}
	else if (serialize)
		split = AGGSPLIT_INITIAL_SERIAL;
	else
		elog(ERROR, "aggregate %s is not marked", aggname);

	/* Sets aggsplit, and aggtype to the state type when skipping final. */
	mark_partial_aggref(aggref, split);

	if (serialize && aggref->aggtype != state_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("state of aggregate %s has type %s, not %s",
						aggname, format_type_be(aggref->aggtype),
						format_type_be(state_type))));
	return aggref;
}

/*
 * FixAggNodes gives every Agg node the split of the aggregates it computes.
 */
static void
FixAggNodes(Plan *plan, List *subplans)
{
	if (plan == NULL)
		return;

	if (IsA(plan, Agg))
	{
		Agg		   *agg = (Agg *) plan;
		List	   *aggs = pull_var_clause((Node *) plan->targetlist,
										   PVC_INCLUDE_AGGREGATES |
										   PVC_RECURSE_PLACEHOLDERS |
										   PVC_RECURSE_WINDOWFUNCS);
		ListCell   *lc;
		bool		first = true;

		foreach(lc, aggs)
		{
			Aggref	   *aggref = (Aggref *) lfirst(lc);

			if (!IsA(aggref, Aggref))
				continue;
			if (first)
				agg->aggsplit = aggref->aggsplit;
			else if (agg->aggsplit != aggref->aggsplit)
				elog(ERROR, "aggregates of one Agg node are split differently");
			first = false;
		}
	}

	FixAggNodes(plan->lefttree, subplans);
	FixAggNodes(plan->righttree, subplans);
	if (IsA(plan, Append))
	{
		ListCell   *lc;

		foreach(lc, ((Append *) plan)->appendplans)
			FixAggNodes((Plan *) lfirst(lc), subplans);
	}
	else if (IsA(plan, MergeAppend))
	{
		ListCell   *lc;

		foreach(lc, ((MergeAppend *) plan)->mergeplans)
			FixAggNodes((Plan *) lfirst(lc), subplans);
	}
	else if (IsA(plan, SubqueryScan))
		FixAggNodes(((SubqueryScan *) plan)->subplan, subplans);
}
