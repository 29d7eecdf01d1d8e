/*-------------------------------------------------------------------------
 *
 * result_table.c
 *	  The table a continuous view's batches write: its result table, which
 *	  holds each group's final values and the states they follow from, in
 *	  one row.
 *
 * A group is written once per batch, in one table.  Each aggregate's
 * state has a home column:
 *
 *	- the aggregate's own output column, when its value is its state
 *	  (no final function, the same type: count, sum of integers or floats,
 *	  min, max, bool_and, ...);
 *	- otherwise a column of its own after the view's columns,
 *	  stream_ext_state_<i> (avg, stddev, sketches, and aggregates used
 *	  only inside expressions), with a comment saying so.
 *
 * The other output columns are the view's expressions over those states
 * and the keys.  Where every aggregate's state is an ordinary value whose
 * final function is an ordinary function call, and every such expression
 * is immutable, they are generated columns
 * (GENERATED ALWAYS AS (float8_avg(stream_ext_state_3)) STORED), and a
 * batch writes keys and states only.  Otherwise (states of type internal,
 * stored serialized; stable expressions) the batch writes the final
 * values too (batch_merge.c).
 *
 * A sliding-window view has no result table: its steps' states are kept
 * in a table k1..kn, s1..sm in schema stream_ext, read through a view
 * (view.c).
 *
 * The key columns are the primary key when no key can be null, else a
 * unique constraint NULLS NOT DISTINCT; one row, on (true), without keys.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_language.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "batch_statement.h"

typedef struct LayoutContext
{
	ViewShape  *shape;
	ViewLayout *layout;
	bool		carry;			/* aggregates over carried states, or final calls */
	Oid			carry_oid;
} LayoutContext;

static Node *LayoutMutator(Node *node, LayoutContext *context);
static int	AggregateIndex(ViewShape *shape, Node *aggref);
static char *TableDDL(ViewShape *shape, ViewLayout *layout, const char *qualified_name,
					  List *final_sql);

/*
 * StreamPlanLayout decides where each of the view's aggregates keeps its
 * state and which output columns PostgreSQL can compute itself (see the
 * top of the file).  revision: the table counts the emissions of closed
 * windows.
 */
ViewLayout *
StreamPlanLayout(ViewShape *shape, ContinuousViewOptions *options, bool revision)
{
	ViewLayout *layout = palloc0(sizeof(ViewLayout));
	ListCell   *lc;
	AttrNumber	attno = 0;
	bool		plain = true;
	int			i = 0;

	layout->steps = options->sliding != NULL;
	layout->revision = revision;

	if (layout->steps)
	{
		/* k1..kn, s1..sm: the steps of a sliding window. */
		foreach(lc, shape->keys)
		{
			layout->keys = lappend(layout->keys, psprintf("k%d", foreach_current_index(lc) + 1));
			layout->key_attnos = lappend_int(layout->key_attnos, ++attno);
		}
	}
	else
	{
		foreach(lc, shape->query->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			if (tle->resjunk)
				continue;
			layout->outputs = lappend(layout->outputs, tle);
			attno++;
		}
		foreach(lc, shape->keys)
		{
			TargetEntry *key = lfirst_node(TargetEntry, lc);
			ListCell   *lo;

			layout->keys = lappend(layout->keys, pstrdup(key->resname));
			foreach(lo, layout->outputs)
			{
				if (lfirst(lo) == key)
					layout->key_attnos = lappend_int(layout->key_attnos,
													 foreach_current_index(lo) + 1);
			}
		}
	}

	/* Each aggregate's home, and whether the upsert can fold it. */
	foreach(lc, shape->aggs)
	{
		Aggref	   *aggref = lfirst(lc);
		ViewAggregate *agg = palloc0(sizeof(ViewAggregate));
		HeapTuple	tuple;
		Form_pg_aggregate form;
		ListCell   *lo;

		agg->aggref = aggref;
		agg->state_type = list_nth_oid(shape->state_types, i);
		tuple = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggref->aggfnoid));
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for aggregate %u", aggref->aggfnoid);
		form = (Form_pg_aggregate) GETSTRUCT(tuple);
		agg->combinefn = form->aggcombinefn;
		agg->finalfn = form->aggfinalfn;
		ReleaseSysCache(tuple);
		agg->plain_combine = aggref->aggtranstype != INTERNALOID &&
			StreamPlainCall(agg->combinefn, aggref->aggfnoid);
		agg->plain_final = aggref->aggtranstype != INTERNALOID && !form->aggfinalextra &&
			(!OidIsValid(agg->finalfn) || StreamPlainCall(agg->finalfn, aggref->aggfnoid));
		agg->combine_strict = func_strict(agg->combinefn);
		plain &= agg->plain_final;

		if (layout->steps)
		{
			agg->home = psprintf("s%d", i + 1);
			agg->home_attno = ++attno;
		}
		else
		{
			/* Its own output column, when that is the state. */
			foreach(lo, layout->outputs)
			{
				TargetEntry *tle = lfirst_node(TargetEntry, lo);

				if (!OidIsValid(agg->finalfn) && equal(tle->expr, aggref) &&
					exprType((Node *) aggref) == agg->state_type)
				{
					agg->home = pstrdup(tle->resname);
					agg->home_attno = foreach_current_index(lo) + 1;
					break;
				}
			}
			if (agg->home == NULL)
			{
				agg->hidden = true;
				agg->home = psprintf(STATE_COLUMN_PREFIX "%d", i + 1);
				agg->home_attno = ++attno;
			}
		}
		layout->aggregates = lappend(layout->aggregates, agg);
		i++;
	}

	/*
	 * The other outputs, as expressions over the table's columns: generated
	 * when every one of them can be.
	 */
	layout->generated = plain;
	foreach(lc, layout->outputs)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		AttrNumber	col = foreach_current_index(lc) + 1;
		Node	   *final = NULL;
		bool		stored = list_member_int(layout->key_attnos, col);
		ListCell   *lo;

		foreach(lo, layout->aggregates)
			stored |= ((ViewAggregate *) lfirst(lo))->home_attno == col;
		if (!stored && plain)
		{
			LayoutContext context = {shape, layout, false, InvalidOid};

			final = LayoutMutator((Node *) tle->expr, &context);
			if (contain_mutable_functions(final))
				layout->generated = false;
		}
		layout->finals = lappend(layout->finals, final);
	}
	if (!layout->generated)
		StreamLayoutWithoutGenerated(layout);
	return layout;
}

/*
 * StreamCreateViewTable creates the view's table under the qualified name
 * (as the current user) and returns its OID.  Generation expressions are
 * deparsed against the table itself, so it is first made without them.
 */
Oid
StreamCreateViewTable(ViewShape *shape, ViewLayout *layout, const char *qualified_name)
{
	List	   *final_sql = NIL;
	ListCell   *lc;
	bool		any = false;
	Oid			relid;

	foreach(lc, layout->finals)
		any |= lfirst(lc) != NULL;
	if (any)
	{
		List	   *dpcontext;

		StreamRunDDL(TableDDL(shape, layout, qualified_name, NIL));
		relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(qualified_name)),
								 NoLock, false);
		dpcontext = deparse_context_for(get_rel_name(relid), relid);
		foreach(lc, layout->finals)
			final_sql = lappend(final_sql, lfirst(lc) == NULL ? NULL :
								deparse_expression(lfirst(lc), dpcontext, false, false));
		StreamRunDDL(psprintf("DROP TABLE %s", qualified_name));
	}
	StreamRunDDL(TableDDL(shape, layout, qualified_name, final_sql));
	relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(qualified_name)),
							 NoLock, false);

	StreamCommentStateColumns(layout, qualified_name);
	return relid;
}

/*
 * StreamCommentStateColumns says what the columns of the view's table
 * that are not the view's own hold.
 */
void
StreamCommentStateColumns(ViewLayout *layout, const char *qualified_name)
{
	ListCell   *lc;

	foreach(lc, layout->aggregates)
	{
		ViewAggregate *agg = lfirst(lc);

		if (!agg->hidden)
			continue;
		StreamRunDDL(psprintf("COMMENT ON COLUMN %s.%s IS %s", qualified_name,
							  quote_identifier(agg->home),
							  quote_literal_cstr(psprintf("stream_ext: the state of %s, combined by every batch; not a value to read",
														  format_procedure(agg->aggref->aggfnoid)))));
	}
	if (layout->revision)
		StreamRunDDL(psprintf("COMMENT ON COLUMN %s.%s IS %s", qualified_name, REVISION_COLUMN,
							  quote_literal_cstr("stream_ext: how often the window was emitted closed (0: still open)")));
}

/*
 * StreamLayoutWithoutGenerated makes the batches write every final value
 * of the layout, for a table whose final columns are not generated (a
 * result table made by version 0.1.0, upgrade.c).
 */
void
StreamLayoutWithoutGenerated(ViewLayout *layout)
{
	ListCell   *lc;

	layout->generated = false;
	foreach(lc, layout->finals)
		lfirst(lc) = NULL;
}

/*
 * StreamStateColumnDef is the definition of the column that holds an
 * aggregate's state: its name, type and collation.
 */
char *
StreamStateColumnDef(ViewAggregate *agg)
{
	char	   *def = psprintf("%s %s", quote_identifier(agg->home), format_type_be(agg->state_type));

	if (OidIsValid(agg->aggref->inputcollid) && type_is_collatable(agg->state_type) &&
		agg->aggref->inputcollid != DEFAULT_COLLATION_OID)
		def = psprintf("%s COLLATE %s", def, generate_collation_name(agg->aggref->inputcollid));
	return def;
}

/*
 * TableDDL returns the CREATE TABLE of the view's table, with the
 * generation expressions final_sql (one per output, NULL for none), or
 * without them and without constraints when final_sql is NIL.
 */
static char *
TableDDL(ViewShape *shape, ViewLayout *layout, const char *qualified_name, List *final_sql)
{
	StringInfoData sql;
	ListCell   *lc;
	bool		primary_key = shape->keys != NIL;
	int			i = 0;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", qualified_name);
	if (layout->steps)
	{
		foreach(lc, shape->keys)
		{
			appendStringInfo(&sql, "%sk%d %s", i > 0 ? ", " : "", i + 1,
							 StreamColumnType((Node *) lfirst_node(TargetEntry, lc)->expr));
			i++;
		}
	}
	foreach(lc, layout->outputs)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		char	   *generated = final_sql == NIL ? NULL :
			list_nth(final_sql, foreach_current_index(lc));

		appendStringInfo(&sql, "%s%s %s", i++ > 0 ? ", " : "", quote_identifier(tle->resname),
						 StreamColumnType((Node *) tle->expr));
		if (generated != NULL)
			appendStringInfo(&sql, " GENERATED ALWAYS AS (%s) STORED", generated);
	}
	foreach(lc, layout->aggregates)
	{
		ViewAggregate *agg = lfirst(lc);

		if (!agg->hidden && !layout->steps)
			continue;
		appendStringInfo(&sql, "%s%s", i++ > 0 ? ", " : "", StreamStateColumnDef(agg));
	}
	if (layout->revision)
		appendStringInfo(&sql, ", %s integer NOT NULL DEFAULT 0", REVISION_COLUMN);
	if (final_sql == NIL && layout->finals != NIL)
	{
		bool		any = false;

		foreach(lc, layout->finals)
			any |= lfirst(lc) != NULL;
		if (any)
		{
			/* Only to name the columns for deparsing (StreamCreateViewTable). */
			appendStringInfoChar(&sql, ')');
			return sql.data;
		}
	}

	/* A sliding window's steps are keyed like states always were. */
	primary_key &= !layout->steps;
	foreach(lc, shape->keys)
		primary_key &= StreamKeyIsNotNull((Node *) lfirst_node(TargetEntry, lc)->expr, shape);
	if (layout->keys != NIL)
	{
		appendStringInfoString(&sql, primary_key ? ", PRIMARY KEY (" : ", UNIQUE NULLS NOT DISTINCT (");
		foreach(lc, layout->keys)
			appendStringInfo(&sql, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
							 quote_identifier(lfirst(lc)));
		appendStringInfoString(&sql, "))");
	}
	else
		appendStringInfo(&sql, "); CREATE UNIQUE INDEX ON %s ((true))", qualified_name);

	/* The windows not emitted yet, by their key (batch_windows.c, v_n). */
	if (layout->revision)
		appendStringInfo(&sql, "; CREATE INDEX ON %s (%s) WHERE %s = 0", qualified_name,
						 quote_identifier(list_nth(layout->keys, shape->window->key - 1)),
						 REVISION_COLUMN);
	return sql.data;
}

/*
 * StreamFinalMutator rewrites an output expression of the user's query
 * over the columns of the view's table, for the executor to finalize: a
 * grouping key becomes its key column, an aggregate call agg(x) becomes
 * agg(NULL) FILTER (WHERE stream_ext.carry(home)), which partial.c turns
 * into the combination of the states in that column.
 */
Node *
StreamFinalMutator(Node *node, ViewShape *shape, ViewLayout *layout)
{
	LayoutContext context = {shape, layout, true,
	StreamExtFunction("carry", 1, (Oid[]) {ANYOID})};

	return LayoutMutator(node, &context);
}

/*
 * LayoutMutator maps keys to their columns and each aggregate call to its
 * state: carried into an aggregate (context->carry), or finalized by a
 * call of its final function.
 */
static Node *
LayoutMutator(Node *node, LayoutContext *context)
{
	ViewShape  *shape = context->shape;
	ViewLayout *layout = context->layout;
	ListCell   *lc;

	if (node == NULL)
		return NULL;

	foreach(lc, shape->keys)
	{
		Expr	   *key = lfirst_node(TargetEntry, lc)->expr;

		if (equal(node, key))
			return (Node *) makeVar(1, list_nth_int(layout->key_attnos, foreach_current_index(lc)),
									exprType((Node *) key), exprTypmod((Node *) key),
									exprCollation((Node *) key), 0);
	}

	if (IsA(node, Aggref))
	{
		int			i = AggregateIndex(shape, node);
		ViewAggregate *agg = list_nth(layout->aggregates, i);
		Var		   *state = makeVar(1, agg->home_attno, agg->state_type, -1,
									type_is_collatable(agg->state_type) ?
									agg->aggref->inputcollid : InvalidOid, 0);

		if (context->carry)
		{
			Aggref	   *aggref = copyObject((Aggref *) node);
			List	   *args = NIL;

			foreach(lc, aggref->args)
			{
				TargetEntry *arg = copyObject(lfirst_node(TargetEntry, lc));

				arg->expr = (Expr *) makeNullConst(exprType((Node *) arg->expr),
												   exprTypmod((Node *) arg->expr),
												   exprCollation((Node *) arg->expr));
				args = lappend(args, arg);
			}
			aggref->args = args;
			aggref->aggfilter = (Expr *) makeFuncExpr(context->carry_oid, BOOLOID,
													  list_make1(state), InvalidOid,
													  InvalidOid, COERCE_EXPLICIT_CALL);
			return (Node *) aggref;
		}
		if (!OidIsValid(agg->finalfn))
			return (Node *) state;
		return (Node *) makeFuncExpr(agg->finalfn, agg->aggref->aggtype, list_make1(state),
									 agg->aggref->aggcollid, agg->aggref->inputcollid,
									 COERCE_EXPLICIT_CALL);
	}
	return expression_tree_mutator(node, LayoutMutator, (void *) context);
}

/*
 * AggregateIndex returns the index of an aggregate call in shape->aggs.
 */
static int
AggregateIndex(ViewShape *shape, Node *aggref)
{
	ListCell   *lc;

	foreach(lc, shape->aggs)
	{
		if (equal(lfirst(lc), aggref))
			return foreach_current_index(lc);
	}
	elog(ERROR, "aggregate call not found among the view's aggregates");
	return -1;					/* keep compiler quiet */
}

/*
 * StreamPlainCall tells whether the combine or final function of an
 * aggregate can be called as an ordinary function, outside an Agg node.
 * Most of PostgreSQL's own can (they use the aggregate context, when they
 * have one, only to work in place), but not those written as transition
 * functions (named so), nor any that refuses to when called with the
 * aggregate's initial state; nor can a C function of an extension be
 * trusted to.  Functions in SQL or a procedural language can.
 */
bool
StreamPlainCall(Oid funcid, Oid aggfnoid)
{
	HeapTuple	tuple;
	Form_pg_proc proc;
	bool		plain;
	char	   *name;

	if (!OidIsValid(funcid))
		return false;
	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", funcid);
	proc = (Form_pg_proc) GETSTRUCT(tuple);
	name = pstrdup(NameStr(proc->proname));
	if (proc->prolang != ClanguageId && proc->prolang != INTERNALlanguageId)
		plain = true;
	else
		plain = proc->pronamespace == PG_CATALOG_NAMESPACE &&
			!(strlen(name) > 8 && strcmp(name + strlen(name) - 8, "_transfn") == 0);
	ReleaseSysCache(tuple);

	/* Called once with the initial state, as no Agg node would. */
	if (plain)
	{
		HeapTuple	aggtuple = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggfnoid));
		bool		isnull;
		Datum		initval;
		Form_pg_aggregate form;

		if (!HeapTupleIsValid(aggtuple))
			elog(ERROR, "cache lookup failed for aggregate %u", aggfnoid);
		form = (Form_pg_aggregate) GETSTRUCT(aggtuple);
		initval = SysCacheGetAttr(AGGFNOID, aggtuple, Anum_pg_aggregate_agginitval, &isnull);
		if (!isnull && get_func_nargs(funcid) <= 2 && !IsPolymorphicType(form->aggtranstype))
		{
			char	   *sql = psprintf("SELECT %s(%s)",
									   quote_qualified_identifier(get_namespace_name(get_func_namespace(funcid)),
																  get_func_name(funcid)),
									   get_func_nargs(funcid) == 2 ?
									   psprintf("%s::%s, %s::%s",
												quote_literal_cstr(TextDatumGetCString(initval)),
												format_type_be(form->aggtranstype),
												quote_literal_cstr(TextDatumGetCString(initval)),
												format_type_be(form->aggtranstype)) :
									   psprintf("%s::%s", quote_literal_cstr(TextDatumGetCString(initval)),
												format_type_be(form->aggtranstype)));
			MemoryContext cxt = CurrentMemoryContext;
			ResourceOwner owner = CurrentResourceOwner;

			BeginInternalSubTransaction(NULL);
			PG_TRY();
			{
				SPI_connect();
				(void) SPI_execute(sql, true, 1);
				SPI_finish();
				ReleaseCurrentSubTransaction();
			}
			PG_CATCH();
			{
				MemoryContextSwitchTo(cxt);
				FlushErrorState();
				RollbackAndReleaseCurrentSubTransaction();
				plain = false;
			}
			PG_END_TRY();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
		}
		ReleaseSysCache(aggtuple);
	}
	return plain;
}

/*
 * StreamColumnType returns the type of an expression as SQL, with its
 * typmod and collation.
 */
char *
StreamColumnType(Node *expr)
{
	Oid			type = exprType(expr);
	Oid			collation = exprCollation(expr);
	char	   *sql = format_type_with_typemod(type, exprTypmod(expr));

	if (OidIsValid(collation) && collation != get_typcollation(type))
		sql = psprintf("%s COLLATE %s", sql, generate_collation_name(collation));
	return sql;
}

/*
 * StreamKeyIsNotNull tells whether a grouping key can never be null: a
 * constant, a NOT NULL column of the stream (never on the nullable side of
 * a join, see StreamCheckViewQuery), or a strict function or operator of such
 * keys.
 */
bool
StreamKeyIsNotNull(Node *expr, ViewShape *shape)
{
	ListCell   *lc;
	List	   *args;

	if (expr == NULL)
		return false;
	switch (nodeTag(expr))
	{
		case T_Const:
			return !((Const *) expr)->constisnull;
		case T_Var:
			{
				Var		   *var = (Var *) expr;
				HeapTuple	tuple;
				bool		notnull;

				if (var->varno != shape->stream_rti || var->varlevelsup != 0 ||
					var->varattno <= 0)
					return false;
				tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(shape->stream),
										Int16GetDatum(var->varattno));
				if (!HeapTupleIsValid(tuple))
					return false;
				notnull = ((Form_pg_attribute) GETSTRUCT(tuple))->attnotnull;
				ReleaseSysCache(tuple);
				return notnull;
			}
		case T_RelabelType:
			return StreamKeyIsNotNull((Node *) ((RelabelType *) expr)->arg, shape);
		case T_FuncExpr:
			if (!func_strict(((FuncExpr *) expr)->funcid))
				return false;
			args = ((FuncExpr *) expr)->args;
			break;
		case T_OpExpr:
			if (!func_strict(get_opcode(((OpExpr *) expr)->opno)))
				return false;
			args = ((OpExpr *) expr)->args;
			break;
		default:
			return false;
	}
	foreach(lc, args)
	{
		if (!StreamKeyIsNotNull(lfirst(lc), shape))
			return false;
	}
	return true;
}

/*
 * StreamRunDDL runs a generated DDL statement as the current user.
 */
void
StreamRunDDL(const char *sql)
{
	bool		own = StreamRunningOwnDDL;

	SPI_connect();
	StreamRunningOwnDDL = true;
	PG_TRY();
	{
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not run: %s", sql);
	}
	PG_FINALLY();
	{
		StreamRunningOwnDDL = own;
	}
	PG_END_TRY();
	SPI_finish();
	CommandCounterIncrement();
}
