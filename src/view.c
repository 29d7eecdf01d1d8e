/*-------------------------------------------------------------------------
 *
 * view.c
 *	  A continuous view's query: what may be in it, and what a view writes
 *	  besides its table (closed windows, output streams).
 *
 * The user's query is analyzed as the user and checked here (keys,
 * aggregates, window), for views and transforms, with one refusal
 * message (StreamRefuse); view_create.c, view_replace.c and transform.c
 * make the objects, result_table.c lays out and creates the table that
 * holds a view's groups, and batch_statement.c generates its part of
 * batch statements, from the definition the catalog keeps
 * (view_definition.c), put together when a batch runs (apply.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_coerce.h"
#include "parser/parse_func.h"
#include "parser/parse_oper.h"
#include "parser/parsetree.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "batch_statement.h"

/* What the query being checked defines, for messages. */
static const char *checking = "continuous view";

static void CheckFromItems(ViewShape *shape);
static bool IsHop(RangeTblEntry *rte);
static bool JoinTreeHasStream(Node *node, int stream_rti);
static void CheckJoins(Node *node, int stream_rti);
static void ResolveCombine(ViewShape *shape);
static void ViewQueryErrorPosition(void *arg);

PG_FUNCTION_INFO_V1(stream_ext_view_sql);

/*
 * stream_ext_view_sql analyzes a continuous view's query, creates its
 * result table (name given, schema-qualified) as the current user, and
 * returns the batch statement of a view with part number 1 and no
 * options.
 */
Datum
stream_ext_view_sql(PG_FUNCTION_ARGS)
{
	char	   *query_string = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *result_table = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ViewShape  *shape;
	ViewLayout *layout;
	char	   *sql;
	int			save_nestlevel;
	ContinuousViewOptions no_options = {NULL, false, 'u', NULL, false, NULL, NULL, NULL, NULL,
	"'01:00:00'::pg_catalog.interval"};

	shape = StreamAnalyzeViewQuery(query_string);
	StreamCheckViewQuery(shape);
	StreamCheckReservedNames(shape);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	layout = StreamPlanLayout(shape, &no_options, false);
	layout->table = StreamCreateViewTable(shape, layout, result_table);
	sql = StreamAssembleFragment(StreamViewFragment(shape, &no_options, layout, 1),
								 layout->table, InvalidOid, InvalidOid, InvalidOid, false);
	sql = StreamBatchStatement(shape->stream, shape->columns,
							   list_make1_int(1), list_make1(sql), false, false, false);

	AtEOXact_GUC(false, save_nestlevel);
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}

/*
 * StreamRedefineView analyzes a stored view's query again, with the
 * options it was created with (checked then), as create_continuous_view
 * does, and returns its shape; *emitting: whether the view emits closed
 * windows.  step: the step of its sliding window, or NULL; session: it has
 * session windows.  For the worker and the update from 0.1.0
 * (view_definition.c), which run it as the view's owner with the view's
 * search_path, time zone and date style.
 */
ViewShape *
StreamRedefineView(const char *query_string, ContinuousViewOptions *options, Interval *step,
				   bool session, bool *emitting)
{
	ViewShape  *shape = StreamAnalyzeViewQuery(query_string);
	int			save_nestlevel;

	StreamCheckViewQuery(shape);
	shape->window = StreamFindWindow(shape->query, shape->stream_rti, shape->stream, shape->keys);
	*emitting = shape->window != NULL && (options->emit_final || options->append_to != NULL);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (step != NULL)
		StreamAddStepKey(shape, step);
	if (session)
		StreamAddSessionColumns(shape);
	AtEOXact_GUC(false, save_nestlevel);
	return shape;
}

/*
 * CheckTransformQuery refuses what a transform cannot do: its rows must
 * come from each event on its own (and its lookup rows), so that applying
 * the events batch by batch gives the rows of the query over all of them.
 */
void
StreamCheckTransformQuery(ViewShape *shape)
{
	Query	   *q = shape->query;

	checking = "transform";
	if (q->setOperations != NULL)
		StreamRefuse("UNION, INTERSECT or EXCEPT", "Create one transform per query.");
	if (q->cteList != NIL)
		StreamRefuse("WITH", "Write the query without common table expressions.");
	if (q->hasAggs || q->groupClause != NIL || q->groupingSets != NIL || q->havingQual != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a transform cannot aggregate"),
				 errhint("Use stream_ext.create_continuous_view() for a query with aggregates or GROUP BY.")));
	if (q->hasWindowFuncs)
		StreamRefuse("a window function", "A transform sees each event on its own.");
	if (q->limitCount != NULL || q->limitOffset != NULL)
		StreamRefuse("LIMIT or OFFSET", "A transform writes a row for every event its query keeps.");
	if (q->sortClause != NIL)
		StreamRefuse("ORDER BY", "Rows are written in no particular order; sort when reading the target.");
	if (q->distinctClause != NIL)
		StreamRefuse("DISTINCT", "Events of different batches cannot be told apart as duplicates.");
	if (q->hasSubLinks)
		StreamRefuse("a subquery", "Join the lookup table instead.");
	if (q->rowMarks != NIL)
		StreamRefuse("FOR UPDATE or FOR SHARE", NULL);
	CheckFromItems(shape);
}

/*
 * StreamIntervalSQL returns an interval as an SQL constant.
 */
char *
StreamIntervalSQL(Interval *interval)
{
	return psprintf("%s::pg_catalog.interval",
					quote_literal_cstr(DatumGetCString(DirectFunctionCall1(interval_out,
																		   IntervalPGetDatum(interval)))));
}

/*
 * StreamAddStepKey adds the step of a sliding window as the last grouping key:
 * date_bin(step, event time, '2000-01-01'), not an output column.
 */
void
StreamAddStepKey(ViewShape *shape, Interval *step)
{
	Query	   *q = shape->query;
	char	   *ts_column = StreamEventTimeColumn(shape->stream);
	AttrNumber	attno = get_attnum(shape->stream, ts_column);
	Oid			ts_type;
	int32		ts_typmod;
	Oid			ts_collation;
	Oid			date_bin;
	FuncExpr   *bin;
	TargetEntry *tle;
	SortGroupClause *sgc = makeNode(SortGroupClause);
	Index		ref = 0;
	ListCell   *lc;

	get_atttypetypmodcoll(shape->stream, attno, &ts_type, &ts_typmod, &ts_collation);
	date_bin = LookupFuncName(list_make2(makeString("pg_catalog"), makeString("date_bin")), 3,
							  (Oid[]) {INTERVALOID, ts_type, ts_type}, false);
	bin = makeFuncExpr(date_bin, ts_type,
					   list_make3(makeConst(INTERVALOID, -1, InvalidOid, sizeof(Interval),
											IntervalPGetDatum(step), false, false),
								  makeVar(shape->stream_rti, attno, ts_type, ts_typmod, InvalidOid, 0),
								  makeConst(ts_type, -1, InvalidOid, sizeof(Timestamp),
											TimestampGetDatum(0), false, FLOAT8PASSBYVAL)),
					   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	foreach(lc, q->targetList)
		ref = Max(ref, lfirst_node(TargetEntry, lc)->ressortgroupref);
	tle = makeTargetEntry((Expr *) bin, list_length(q->targetList) + 1, "stream_ext_step", true);
	tle->ressortgroupref = ref + 1;
	q->targetList = lappend(q->targetList, tle);
	sgc->tleSortGroupRef = ref + 1;
	get_sort_group_operators(ts_type, true, true, false, &sgc->sortop, &sgc->eqop, NULL,
							 &sgc->hashable);
	q->groupClause = lappend(q->groupClause, sgc);
	shape->keys = lappend(shape->keys, tle);
}

/*
 * StreamAddSessionColumns adds to a view with session windows its last grouping
 * key, session_start (each event's time; a session's start once merged),
 * and the aggregate session_end, max(event time), both output columns.
 */
void
StreamAddSessionColumns(ViewShape *shape)
{
	Query	   *q = shape->query;
	char	   *ts_column = StreamEventTimeColumn(shape->stream);
	AttrNumber	attno = get_attnum(shape->stream, ts_column);
	Oid			ts_type;
	int32		ts_typmod;
	Oid			ts_collation;
	Var		   *ts;
	Aggref	   *end = makeNode(Aggref);
	TargetEntry *start_tle;
	TargetEntry *end_tle;
	SortGroupClause *sgc = makeNode(SortGroupClause);
	Index		ref = 0;
	ListCell   *lc;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && (strcmp(tle->resname, "session_start") == 0 ||
							  strcmp(tle->resname, "session_end") == 0))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("output column \"%s\" is reserved for session windows", tle->resname),
					 errhint("The result table gets session_start and session_end; rename yours with AS.")));
		ref = Max(ref, tle->ressortgroupref);
	}
	get_atttypetypmodcoll(shape->stream, attno, &ts_type, &ts_typmod, &ts_collation);
	ts = makeVar(shape->stream_rti, attno, ts_type, ts_typmod, InvalidOid, 0);

	start_tle = makeTargetEntry((Expr *) copyObject(ts), list_length(q->targetList) + 1,
								"session_start", false);
	start_tle->ressortgroupref = ref + 1;
	q->targetList = lappend(q->targetList, start_tle);
	sgc->tleSortGroupRef = ref + 1;
	get_sort_group_operators(ts_type, true, true, false, &sgc->sortop, &sgc->eqop, NULL,
							 &sgc->hashable);
	q->groupClause = lappend(q->groupClause, sgc);
	shape->keys = lappend(shape->keys, start_tle);

	end->aggfnoid = LookupFuncName(list_make2(makeString("pg_catalog"), makeString("max")), 1,
								   (Oid[]) {ts_type}, false);
	end->aggtype = ts_type;
	end->aggargtypes = list_make1_oid(ts_type);
	end->args = list_make1(makeTargetEntry((Expr *) copyObject(ts), 1, NULL, false));
	end->aggkind = AGGKIND_NORMAL;
	end->aggsplit = AGGSPLIT_SIMPLE;
	end->aggno = -1;
	end->aggtransno = -1;
	end->location = -1;
	end_tle = makeTargetEntry((Expr *) end, list_length(q->targetList) + 1, "session_end", false);
	q->targetList = lappend(q->targetList, end_tle);
	q->hasAggs = true;
	shape->session_end = list_length(shape->aggs);
	shape->state_types = lappend_oid(shape->state_types, StreamAggregateStateType(end));
	shape->aggs = lappend(shape->aggs, end);
}

/*
 * StreamSlidingSelect returns the query of a sliding-window view's read view:
 * the states of the steps that end within the last sliding interval,
 * combined per group and finalized.
 */
char *
StreamSlidingSelect(ViewShape *shape, ViewLayout *layout, ContinuousViewOptions *options,
			  Oid state_oid)
{
	List	   *dpcontext = deparse_context_for(get_rel_name(state_oid), state_oid);
	StringInfoData sql;
	ListCell   *lc;
	int			nkeys = list_length(shape->keys);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	foreach(lc, shape->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		appendStringInfo(&sql, "%s%s AS %s", foreach_current_index(lc) > 0 ? ", " : "",
						 deparse_expression(StreamFinalMutator((Node *) tle->expr, shape, layout),
											dpcontext, false, false),
						 quote_identifier(tle->resname));
	}
	appendStringInfo(&sql, " FROM %s WHERE k%d + %s > pg_catalog.now() - %s",
					 quote_qualified_identifier("stream_ext", get_rel_name(state_oid)),
					 nkeys, options->step, options->sliding);
	for (int i = 1; i < nkeys; i++)
		appendStringInfo(&sql, "%sk%d", i == 1 ? " GROUP BY " : ", ", i);
	return sql.data;
}

/*
 * StreamLookupOutputTable resolves the name of a table a view writes to under
 * the caller's search_path: its OID, or InvalidOid with *qualified set to
 * the quoted name to create it under.
 */
Oid
StreamLookupOutputTable(const char *name, char **qualified)
{
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));
	Oid			relid = RangeVarGetRelid(rv, AccessShareLock, true);

	if (!OidIsValid(relid))
		*qualified = quote_qualified_identifier(get_namespace_name(RangeVarGetCreationNamespace(rv)),
												rv->relname);
	return relid;
}

/*
 * StreamIntervalSign returns -1, 0 or 1 as an interval is negative, zero or
 * positive.
 */
int
StreamIntervalSign(Interval *interval)
{
	Interval	zero = {0, 0, 0};

	return DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(interval),
											 IntervalPGetDatum(&zero)));
}

/*
 * StreamAppendTable returns the table closed windows are appended to, creating
 * it with the view's columns (their types, collations and NOT NULL), the
 * revision and when it was appended, as the current user, when it does
 * not exist.
 */
Oid
StreamAppendTable(const char *name, Oid relid, const char *qualified, ViewLayout *layout)
{
	ListCell   *lc;
	AclResult	aclresult;

	if (!OidIsValid(relid))
	{
		StringInfoData ddl;

		initStringInfo(&ddl);
		appendStringInfo(&ddl, "CREATE TABLE %s (", qualified);
		foreach(lc, layout->outputs)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);
			HeapTuple	att = SearchSysCacheAttName(layout->table, tle->resname);
			bool		notnull = HeapTupleIsValid(att) &&
				((Form_pg_attribute) GETSTRUCT(att))->attnotnull;

			if (HeapTupleIsValid(att))
				ReleaseSysCache(att);
			appendStringInfo(&ddl, "%s %s%s, ", quote_identifier(tle->resname),
							 StreamColumnType((Node *) tle->expr), notnull ? " NOT NULL" : "");
		}
		appendStringInfoString(&ddl, "revision integer NOT NULL,"
							   " emitted_at timestamptz NOT NULL DEFAULT pg_catalog.now())");
		StreamRunDDL(ddl.data);
		return StreamTableOid(qualified);
	}

	if (get_rel_relkind(relid) != RELKIND_RELATION && get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" cannot take the closed windows of a continuous view", name),
				 errhint("append_to names an ordinary table, or one to create.")));
	if (RelationIsStream(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a stream", name),
				 errhint("append_to names an ordinary table, or one to create.")));
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(relid));
	foreach(lc, layout->outputs)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (get_attnum(relid, tle->resname) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("table \"%s\" has no column \"%s\"", name, tle->resname),
					 errhint("The table closed windows go to needs every output column of the view and a column revision.")));
	}
	if (get_attnum(relid, "revision") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no column \"revision\"", name),
				 errhint("The table closed windows go to needs every output column of the view and a column revision.")));
	return relid;
}

/*
 * StreamOutputStream returns the stream a view writes its batches' deltas into:
 * per group a batch changed, the grouping keys and each aggregate's state
 * over that batch's events alone, which a view over the stream combines
 * with stream_ext.combine().  It is created when it does not exist (as the
 * current user): the key columns, a column of each aggregate's state type,
 * registered as a stream with the window column (if any) as its event
 * time.  An existing one must be a stream with those columns and types
 * that the owner may insert into, and must not feed, through views and
 * their output streams, the view's own stream.  stream_ext.state_column
 * records which aggregate's states each state column holds.
 */
Oid
StreamOutputStream(const char *name, Oid relid, const char *qualified, ViewShape *shape)
{
	ListCell   *lc;
	AclResult	aclresult;
	Oid			argtypes[8] = {OIDOID, INT2OID, OIDOID, OIDARRAYOID, BOOLOID, OIDOID, OIDOID, OIDOID};
	Datum		values[8];
	char		nulls[8];
	bool		isnull;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	if (!OidIsValid(relid))
	{
		StringInfoData ddl;
		char	   *event_time = NULL;
		int			i = 0;

		initStringInfo(&ddl);
		appendStringInfo(&ddl, "CREATE TABLE %s (", qualified);
		foreach(lc, shape->query->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);
			int			agg;

			if (tle->resjunk)
				continue;
			agg = StreamOutputColumn(shape, tle);
			appendStringInfo(&ddl, "%s%s %s", i++ > 0 ? ", " : "", quote_identifier(tle->resname),
							 agg < 0 ? StreamColumnType((Node *) tle->expr) :
							 format_type_be(list_nth_oid(shape->state_types, agg)));
		}
		appendStringInfoChar(&ddl, ')');
		StreamRunDDL(ddl.data);
		relid = StreamTableOid(qualified);
		if (shape->window != NULL)
			event_time = ((TargetEntry *) list_nth(shape->keys, shape->window->key - 1))->resname;
		SPI_connect();
		values[0] = ObjectIdGetDatum(relid);
		values[1] = event_time ? CStringGetTextDatum(event_time) : (Datum) 0;
		if (SPI_execute_with_args("SELECT stream_ext.create_stream($1::pg_catalog.oid::pg_catalog.regclass,"
								  " event_time => $2::pg_catalog.name)",
								  2, (Oid[]) {OIDOID, TEXTOID}, values, event_time ? "  " : " n",
								  false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not create stream %s", qualified);
		SPI_finish();
		relid = StreamTableOid(qualified);
	}
	else if (!RelationIsStream(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a stream", name),
				 errhint("output_stream names a stream, or one to create.")));
	else
		StreamCheckStreamRestored(relid);

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(relid));

	/* Its columns, and which aggregate's states each state column holds. */
	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	foreach(lc, shape->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		int			agg;
		AttrNumber	attnum;
		Oid			type;
		Aggref	   *aggref;
		Datum	   *elems;
		int			nargs = 0;
		ListCell   *la;

		if (tle->resjunk)
			continue;
		agg = StreamOutputColumn(shape, tle);
		type = agg < 0 ? exprType((Node *) tle->expr) : list_nth_oid(shape->state_types, agg);
		attnum = get_attnum(relid, tle->resname);
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("stream \"%s\" has no column \"%s\"", name, tle->resname),
					 errhint("The output stream needs every output column of the view.")));
		if (get_atttype(relid, attnum) != type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of stream \"%s\" has type %s, not %s",
							tle->resname, name, format_type_be(get_atttype(relid, attnum)),
							format_type_be(type)),
					 errhint("An output stream holds the grouping keys with their types and each aggregate's state as its state type.")));
		if (agg < 0)
			continue;

		aggref = (Aggref *) tle->expr;
		elems = palloc(sizeof(Datum) * (list_length(aggref->aggargtypes) + 1));
		foreach(la, aggref->aggargtypes)
			elems[nargs++] = ObjectIdGetDatum(lfirst_oid(la));
		memset(nulls, ' ', sizeof(nulls));
		values[0] = ObjectIdGetDatum(relid);
		values[1] = Int16GetDatum(attnum);
		values[2] = ObjectIdGetDatum(aggref->aggfnoid);
		values[3] = PointerGetDatum(construct_array(elems, nargs, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
		values[4] = BoolGetDatum(aggref->aggstar);
		values[5] = ObjectIdGetDatum(aggref->aggtype);
		values[6] = ObjectIdGetDatum(aggref->inputcollid);
		nulls[6] = OidIsValid(aggref->inputcollid) ? ' ' : 'n';
		values[7] = ObjectIdGetDatum(aggref->aggcollid);
		nulls[7] = OidIsValid(aggref->aggcollid) ? ' ' : 'n';
		if (SPI_execute_with_args("WITH n AS (INSERT INTO stream_ext.state_column AS c"
								  " VALUES ($1::pg_catalog.oid, $2, $3::pg_catalog.oid,"
								  "  $4::pg_catalog.oid[]::pg_catalog.regtype[], $5, $6::pg_catalog.oid,"
								  "  $7::pg_catalog.oid, $8::pg_catalog.oid)"
								  " ON CONFLICT (stream, attnum) DO NOTHING RETURNING 1)"
								  " SELECT EXISTS (SELECT 1 FROM n) OR EXISTS (SELECT 1 FROM stream_ext.state_column c"
								  "  WHERE c.stream = $1::pg_catalog.oid AND c.attnum = $2"
								  "   AND c.aggregate = $3::pg_catalog.oid AND c.star = $5"
								  "   AND c.argument_types::pg_catalog.oid[] = $4"
								  "   AND c.input_collation IS NOT DISTINCT FROM $7::pg_catalog.oid)",
								  8, argtypes, values, nulls, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not record the state columns of %s", name);
		if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of stream \"%s\" holds the states of another aggregate call",
							tle->resname, name),
					 errhint("Views writing to one output stream must compute each column with the same aggregate.")));
	}

	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
	StreamCheckNoCycle(relid, shape->stream, name);
	return relid;
}

/*
 * StreamCheckNoCycle refuses to write into output, a stream, from a view or
 * transform of stream when stream is downstream of output: fed by views
 * and transforms of output, of their outputs, and so on.
 */
void
StreamCheckNoCycle(Oid output, Oid stream, const char *name)
{
	Datum		values[2] = {ObjectIdGetDatum(output), ObjectIdGetDatum(stream)};
	bool		cycle;
	bool		isnull;

	SPI_connect();
	if (SPI_execute_with_args("WITH RECURSIVE down(s) AS (SELECT $1::pg_catalog.oid"
							  " UNION SELECT COALESCE(c.output_stream, c.target)::pg_catalog.oid"
							  "   FROM stream_ext.continuous_view c JOIN down d ON c.stream::pg_catalog.oid = d.s"
							  "  WHERE COALESCE(c.output_stream, c.target) IS NOT NULL)"
							  " SELECT EXISTS (SELECT 1 FROM down WHERE s = $2::pg_catalog.oid)",
							  2, (Oid[]) {OIDOID, OIDOID}, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not follow output streams");
	cycle = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	if (cycle)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("output stream \"%s\" would feed the stream \"%s\" it is computed from",
						name, get_rel_name(stream)),
				 errhint("Continuous views, transforms and the streams they write must not form a cycle.")));
}

/*
 * ResolveCombine replaces each stream_ext.combine(column) of the query by
 * the aggregate whose states the column holds (stream_ext.state_column),
 * over those states: agg(NULLs) FILTER (WHERE stream_ext.carry(column)),
 * which partial.c runs as a combining step.  combine() must be an output
 * column of its own (its type as parsed is the state's), and the other
 * aggregates of the query must be combine() too (one Agg node runs one
 * split).
 */
static void
ResolveCombine(ViewShape *shape)
{
	Query	   *q = shape->query;
	Oid			combine_oid = StreamExtFunction("combine", 1, (Oid[]) {ANYELEMENTOID});
	Oid			carry_oid = StreamExtFunction("carry", 1, (Oid[]) {ANYOID});
	int			ncombine = 0;
	int			nother = 0;
	ListCell   *lc;
	MemoryContext caller = CurrentMemoryContext;

	foreach(lc, pull_var_clause((Node *) q->targetList,
								PVC_INCLUDE_AGGREGATES | PVC_RECURSE_PLACEHOLDERS))
	{
		if (IsA(lfirst(lc), Aggref))
		{
			if (((Aggref *) lfirst(lc))->aggfnoid == combine_oid)
				ncombine++;
			else
				nother++;
		}
	}
	if (ncombine == 0)
		return;
	if (nother > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stream_ext.combine() cannot be mixed with other aggregates in a continuous view"),
				 errhint("Combine every state column of the output stream; count the groups of the upstream view there.")));

	SPI_connect();
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Aggref	   *call = (Aggref *) tle->expr;
		Aggref	   *agg;
		Var		   *var;
		Datum		values[2];
		HeapTuple	row;
		TupleDesc	desc;
		bool		isnull;
		Datum	   *elems;
		int			nelems;
		Oid			input_collation;
		Oid			state_type;

		if (!IsA(call, Aggref) || call->aggfnoid != combine_oid)
		{
			ListCell   *la;

			foreach(la, pull_var_clause((Node *) tle->expr,
										PVC_INCLUDE_AGGREGATES | PVC_RECURSE_PLACEHOLDERS))
			{
				if (IsA(lfirst(la), Aggref))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("stream_ext.combine() must be an output column of its own"),
							 errhint("Compute with its value when reading the result table.")));
			}
			continue;
		}
		if (call->aggfilter != NULL || call->aggdistinct != NIL || call->aggorder != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("stream_ext.combine() takes no FILTER, DISTINCT or ORDER BY"),
					 errhint("Filter the rows of the output stream with WHERE.")));
		var = (Var *) linitial_node(TargetEntry, call->args)->expr;
		if (!IsA(var, Var) || var->varno != shape->stream_rti || var->varlevelsup != 0 ||
			var->varattno <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the argument of stream_ext.combine() must be a column of the stream"),
					 errhint("combine() reads a column of aggregate states that a continuous view with output_stream writes.")));

		values[0] = ObjectIdGetDatum(shape->stream);
		values[1] = Int16GetDatum(var->varattno);
		if (SPI_execute_with_args("SELECT aggregate::pg_catalog.oid, argument_types::pg_catalog.oid[], star,"
								  " result_type::pg_catalog.oid, input_collation::pg_catalog.oid,"
								  " result_collation::pg_catalog.oid"
								  " FROM stream_ext.state_column WHERE stream = $1::pg_catalog.oid AND attnum = $2",
								  2, (Oid[]) {OIDOID, INT2OID}, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the state columns of stream %u", shape->stream);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("column \"%s\" of stream \"%s\" holds no aggregate states",
							get_attname(shape->stream, var->varattno, false),
							get_rel_name(shape->stream)),
					 errhint("stream_ext.combine() reads the state columns a continuous view with output_stream writes; aggregate other columns with an ordinary aggregate.")));
		row = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, desc, 2, &isnull)),
						  OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, NULL, &nelems);

		/* The aggregate, over the states in the column. */
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			agg = makeNode(Aggref);
			agg->aggfnoid = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
			agg->aggstar = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
			agg->aggtype = DatumGetObjectId(SPI_getbinval(row, desc, 4, &isnull));
			input_collation = DatumGetObjectId(SPI_getbinval(row, desc, 5, &isnull));
			agg->inputcollid = isnull ? InvalidOid : input_collation;
			agg->aggcollid = DatumGetObjectId(SPI_getbinval(row, desc, 6, &isnull));
			if (isnull)
				agg->aggcollid = InvalidOid;
			for (int i = 0; i < nelems; i++)
			{
				Oid			argtype = DatumGetObjectId(elems[i]);

				agg->aggargtypes = lappend_oid(agg->aggargtypes, argtype);
				agg->args = lappend(agg->args,
									makeTargetEntry((Expr *) makeNullConst(argtype, -1,
																		   type_is_collatable(argtype) ? agg->inputcollid : InvalidOid),
													i + 1, NULL, false));
			}
			agg->aggfilter = (Expr *) makeFuncExpr(carry_oid, BOOLOID, list_make1(copyObject(var)),
												   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
			agg->aggkind = AGGKIND_NORMAL;
			agg->aggsplit = AGGSPLIT_SIMPLE;
			agg->aggno = -1;
			agg->aggtransno = -1;
			agg->location = call->location;
			MemoryContextSwitchTo(spi);
		}
		state_type = StreamAggregateStateType(agg);
		if (state_type != var->vartype)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of stream \"%s\" has type %s, but the states of %s are %s",
							get_attname(shape->stream, var->varattno, false),
							get_rel_name(shape->stream), format_type_be(var->vartype),
							format_procedure(agg->aggfnoid), format_type_be(state_type))));
		tle->expr = (Expr *) agg;
	}
	SPI_finish();
}

/*
 * StreamNextPartNumber numbers a new view's part of batch statements
 * (stream_ext.view_part, a sequence of the catalog).
 */
uint32
StreamNextPartNumber(void)
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	bool		isnull;
	uint32		part;

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	if (SPI_execute("SELECT pg_catalog.nextval('stream_ext.view_part')", false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not number a continuous view");
	part = (uint32) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
	return part;
}

/*
 * StreamTableOid returns the OID of a table given by its qualified name.
 */
Oid
StreamTableOid(const char *qualified_name)
{
	return RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(qualified_name)),
							NoLock, false);
}

/*
 * StreamAnalyzeViewQuery parses and analyzes the query as the current user.
 */
ViewShape *
StreamAnalyzeViewQuery(const char *query_string)
{
	ErrorContextCallback callback;
	List	   *raw;
	RawStmt    *rawstmt;
	ViewShape  *shape = palloc0(sizeof(ViewShape));

	/* Errors point into the view's query, not into the call that gave it. */
	callback.callback = ViewQueryErrorPosition;
	callback.arg = (void *) query_string;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	raw = pg_parse_query(query_string);

	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a continuous view needs exactly one query, not %d",
						list_length(raw))));
	rawstmt = linitial_node(RawStmt, raw);
	if (!IsA(rawstmt->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("a continuous view's query must be a SELECT")));

	shape->query = parse_analyze_fixedparams(rawstmt, query_string, NULL, 0, NULL);
	error_context_stack = callback.previous;
	return shape;
}

/*
 * StreamIsViewTable tells whether a relation is the result table (or the
 * view) of a continuous view or transform.
 */
bool
StreamIsViewTable(Oid relid)
{
	bool		found;

	SPI_connect();
	if (SPI_execute_with_args("SELECT 1 FROM stream_ext.continuous_view WHERE result = $1::pg_catalog.oid",
							  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(relid)}, NULL,
							  true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the continuous views");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * ViewQueryErrorPosition makes the position of an error in a view's query
 * a position in that query, as the error of a query in a PL/pgSQL
 * function is: shown under the query, not under the statement that
 * created the view.
 */
static void
ViewQueryErrorPosition(void *arg)
{
	int			position = geterrposition();

	if (position > 0)
	{
		errposition(0);
		internalerrposition(position);
		internalerrquery((const char *) arg);
	}
}

/*
 * StreamRefuse raises the error for a construct a continuous view or a
 * transform cannot have.
 */
void
StreamRefuse(const char *construct, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s is not supported in a %s", construct, checking),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * IsHop tells whether a FROM function is stream_ext.hop().
 */
static bool
IsHop(RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *func;

	if (list_length(rte->functions) != 1 || rte->funcordinality)
		return false;
	rtfunc = linitial_node(RangeTblFunction, rte->functions);
	func = (FuncExpr *) rtfunc->funcexpr;
	return IsA(func, FuncExpr) &&
		strcmp(get_func_name(func->funcid), "hop") == 0 &&
		get_func_namespace(func->funcid) == get_namespace_oid("stream_ext", false);
}

/*
 * JoinTreeHasStream tells whether a part of the join tree reads the stream.
 */
static bool
JoinTreeHasStream(Node *node, int stream_rti)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblRef))
		return ((RangeTblRef *) node)->rtindex == stream_rti;
	if (IsA(node, JoinExpr))
		return JoinTreeHasStream(((JoinExpr *) node)->larg, stream_rti) ||
			JoinTreeHasStream(((JoinExpr *) node)->rarg, stream_rti);
	if (IsA(node, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) node)->fromlist)
		{
			if (JoinTreeHasStream(lfirst(lc), stream_rti))
				return true;
		}
	}
	return false;
}

/*
 * CheckJoins allows inner joins, and left joins that keep every event: the
 * stream on the left.  Each event is then counted once per matching
 * lookup row, or once with nulls when none matches.
 */
static void
CheckJoins(Node *node, int stream_rti)
{
	ListCell   *lc;

	if (node == NULL || IsA(node, RangeTblRef))
		return;
	if (IsA(node, FromExpr))
	{
		foreach(lc, ((FromExpr *) node)->fromlist)
			CheckJoins(lfirst(lc), stream_rti);
		return;
	}
	if (IsA(node, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) node;

		switch (join->jointype)
		{
			case JOIN_INNER:
				break;
			case JOIN_LEFT:
				if (JoinTreeHasStream(join->rarg, stream_rti))
					StreamRefuse("a LEFT JOIN with the stream on its right",
						   "Put the stream on the left: FROM stream LEFT JOIN lookup ON ...");
				break;
			case JOIN_RIGHT:
				StreamRefuse("RIGHT JOIN", "Write it as FROM stream LEFT JOIN lookup ON ...");
				break;
			case JOIN_FULL:
				StreamRefuse("FULL JOIN", "Lookups keep every event: FROM stream LEFT JOIN lookup ON ...");
				break;
			default:
				StreamRefuse("this kind of join", NULL);
		}
		CheckJoins(join->larg, stream_rti);
		CheckJoins(join->rarg, stream_rti);
		return;
	}
	elog(ERROR, "unexpected node type in a join tree: %d", (int) nodeTag(node));
}

/*
 * CheckFromItems finds the stream among the query's FROM items and
 * allows besides it only lookup tables and stream_ext.hop(), joined so
 * that every event is kept (CheckJoins).
 */
static void
CheckFromItems(ViewShape *shape)
{
	Query	   *q = shape->query;
	ListCell   *lc;
	int			rti = 0;

	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		rti++;
		if (rte->rtekind == RTE_JOIN)
			continue;			/* join types: CheckJoins */
		if (rte->rtekind == RTE_FUNCTION && IsHop(rte))
			continue;
		if (rte->rtekind != RTE_RELATION)
			StreamRefuse("this kind of FROM item",
				   "Read from one stream, optionally joined with tables and with LATERAL stream_ext.hop().");
		StreamCheckNotCitusTable(rte->relid, psprintf("read by a %s", checking));
		if (RelationIsStream(rte->relid))
		{
			if (shape->stream_rti != 0)
				StreamRefuse("a second stream", "A continuous view reads one stream.");
			shape->stream_rti = rti;
			shape->stream = rte->relid;
			continue;
		}

		/*
		 * A lookup table, read when each batch is processed: a plain or
		 * partitioned table or a materialized view.  A view is refused: its
		 * query would be expanded into the batch, where a stream it read
		 * would be counted again and its owner's rights would not apply.
		 */
		switch (get_rel_relkind(rte->relid))
		{
			case RELKIND_RELATION:
			case RELKIND_PARTITIONED_TABLE:
			case RELKIND_MATVIEW:
				if (!list_member_oid(shape->lookups, rte->relid))
					shape->lookups = lappend_oid(shape->lookups, rte->relid);
				break;
			case RELKIND_VIEW:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("view \"%s\" cannot be joined in a continuous view",
								get_rel_name(rte->relid)),
						 errhint("Join the tables it reads, or a materialized view.")));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("\"%s\" cannot be joined in a continuous view",
								get_rel_name(rte->relid)),
						 errhint("A continuous view reads one stream, optionally joined with tables.")));
		}
	}
	if (shape->stream_rti == 0)
	{
		if (shape->lookups != NIL && StreamIsViewTable(linitial_oid(shape->lookups)))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a stream", get_rel_name(linitial_oid(shape->lookups))),
					 errdetail("It is the result table of a continuous view, which its batches update in place."),
					 errhint("Give that view output_stream => 'a_stream', and aggregate its states with stream_ext.combine() in a view over that stream.")));
		if (shape->lookups != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a stream", get_rel_name(linitial_oid(shape->lookups))),
					 errhint("A continuous view reads a stream: register the table the events go to with stream_ext.create_stream().")));
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous view must read a stream"),
				 errhint("Name a stream in FROM.")));
	}
	CheckJoins((Node *) q->jointree, shape->stream_rti);
}

/*
 * StreamCheckViewQuery refuses what cannot be maintained incrementally and
 * fills in the stream, the grouping keys and the aggregates.
 */
void
StreamCheckViewQuery(ViewShape *shape)
{
	Query	   *q = shape->query;
	ListCell   *lc;
	List	   *names = NIL;

	checking = "continuous view";
	if (q->setOperations != NULL)
		StreamRefuse("UNION, INTERSECT or EXCEPT", NULL);
	if (q->cteList != NIL)
		StreamRefuse("WITH", "Write the query without common table expressions.");
	if (q->hasWindowFuncs)
		StreamRefuse("a window function", "Group the events with GROUP BY; a window function needs all rows at once.");
	if (q->limitCount != NULL || q->limitOffset != NULL)
		StreamRefuse("LIMIT or OFFSET", "Apply it when reading the result table.");
	if (q->sortClause != NIL)
		StreamRefuse("ORDER BY", "Sort when reading the result table.");
	if (q->distinctClause != NIL)
		StreamRefuse("DISTINCT", NULL);
	if (q->havingQual != NULL)
		StreamRefuse("HAVING", "Filter when reading the result table.");
	if (q->groupingSets != NIL)
		StreamRefuse("GROUPING SETS, ROLLUP or CUBE", "Create one continuous view per grouping.");
	if (q->hasTargetSRFs)
		StreamRefuse("a set-returning function in the select list", NULL);
	if (q->hasSubLinks)
		StreamRefuse("a subquery", NULL);
	if (q->rowMarks != NIL)
		StreamRefuse("FOR UPDATE or FOR SHARE", NULL);
	if (!q->hasAggs)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous view must aggregate"),
				 errhint("Use count(*), sum(), avg() or another aggregate with GROUP BY; stream_ext.create_transform() takes a query without aggregates.")));
	if (contain_volatile_functions((Node *) q))
		StreamRefuse("a volatile function such as random() or clock_timestamp()",
			   "A view's result must not depend on when its events are processed.");

	CheckFromItems(shape);

	/* Grouping keys: each must be an output column. */
	foreach(lc, q->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, q->targetList);

		if (tle->resjunk)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("every GROUP BY expression of a continuous view must be in its select list"),
					 errhint("Add the expression to the select list; the result table is keyed by it.")));
		shape->keys = lappend(shape->keys, tle);
	}

	/* Output names are column names. */
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		ListCell   *lc2;

		if (tle->resjunk)
			continue;
		foreach(lc2, names)
		{
			if (strcmp((char *) lfirst(lc2), tle->resname) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" appears twice in the continuous view's output",
								tle->resname),
						 errhint("Give the expressions different names with AS.")));
		}
		names = lappend(names, tle->resname);
	}

	/* combine() over an output stream's states, resolved. */
	ResolveCombine(shape);

	/* Distinct aggregate calls, each with its state type. */
	foreach(lc, pull_var_clause((Node *) q->targetList,
								PVC_INCLUDE_AGGREGATES | PVC_RECURSE_PLACEHOLDERS))
	{
		Node	   *node = lfirst(lc);

		if (!IsA(node, Aggref) || list_member(shape->aggs, node))
			continue;
		if (((Aggref *) node)->agglevelsup != 0)
			StreamRefuse("an outer-level aggregate", NULL);
		shape->state_types = lappend_oid(shape->state_types,
										 StreamAggregateStateType((Aggref *) node));
		shape->aggs = lappend(shape->aggs, node);
	}
}

/*
 * StreamCheckReservedNames refuses output columns named like the columns
 * stream_ext adds to a view's table.
 */
void
StreamCheckReservedNames(ViewShape *shape)
{
	ListCell   *lc;

	foreach(lc, shape->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && strncmp(tle->resname, "stream_ext_", strlen("stream_ext_")) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_RESERVED_NAME),
					 errmsg("output column name \"%s\" is reserved", tle->resname),
					 errdetail("Columns whose names begin with stream_ext_ are those stream_ext adds to a continuous view's table."),
					 errhint("Rename the column with AS.")));
	}
}
