/*-------------------------------------------------------------------------
 *
 * ddl.c
 *	  Native DDL: streams and continuous views declared and changed with
 *	  PostgreSQL's own statements, next to the SQL functions (utility.c
 *	  calls these).
 *
 *	- CREATE TABLE ... WITH (stream_ext.event_time = ts) (or
 *	  stream_ext.stream, stream_ext.arrival_column = name) creates the
 *	  table, then registers it as create_stream() does.
 *	- CREATE MATERIALIZED VIEW name WITH (stream_ext.continuous [,
 *	  stream_ext.<option> = value ...]) AS SELECT ... creates a continuous
 *	  view as create_continuous_view() does, each option one of its
 *	  arguments.
 *	- DROP, ALTER ... RENAME, RENAME COLUMN, SET SCHEMA, OWNER TO and
 *	  COMMENT ON MATERIALIZED VIEW of a continuous view act on what it is:
 *	  its result table (or, for a sliding window, its view); ALTER
 *	  MATERIALIZED VIEW ... SET (stream_ext.paused = true | false) pauses
 *	  and resumes it, SET (stream_ext.on_error = ...) is set_on_error(); REFRESH MATERIALIZED VIEW says it is never stale.
 *
 * A continuous view is not a materialized view in the catalog (psql's \dm
 * does not list it): it is its result table, which stream_ext's batches
 * keep up to date, and which pg_dump dumps as a table with the catalog.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "stream_ext.h"
#include "batch_statement.h"

#define OPTION_NAMESPACE "stream_ext"

/*
 * create_continuous_view's arguments after name and query, in order: what
 * CREATE MATERIALIZED VIEW can set.
 */
static const struct
{
	const char *name;
	Oid			type;
}			view_options[] = {
	{"batch_size", INT4OID},
	{"paused", BOOLOID},
	{"backfill", BOOLOID},
	{"notify", TEXTOID},
	{"emit", TEXTOID},
	{"append_to", TEXTOID},
	{"allowed_lateness", INTERVALOID},
	{"late", TEXTOID},
	{"max_future", INTERVALOID},
	{"output_stream", TEXTOID},
	{"sliding", INTERVALOID},
	{"step", INTERVALOID},
	{"ttl", INTERVALOID},
	{"session_gap", INTERVALOID},
	{"on_error", TEXTOID},
};

#define VIEW_ARGS (2 + lengthof(view_options))

/* CREATE TABLE ... WITH stream_ext options, to register once made. */
struct StreamDeclaration
{
	RangeVar   *relation;
	char	   *event_time;
	char	   *arrival;
};

static List *OwnOptions(List *options, List **others);
static char *RangeVarName(RangeVar *rv);
static Oid	ContinuousViewOf(RangeVar *rv);
static void CallByName(const char *name, Oid relid);

/*
 * StreamDDLStreamTable returns, for CREATE TABLE ... WITH stream_ext
 * options, what StreamDDLRegisterStream needs once the table exists, and
 * in *plain the CREATE TABLE without those options; NULL for a statement
 * without them.
 */
StreamDeclaration *
StreamDDLStreamTable(CreateStmt *stmt, CreateStmt **plain)
{
	StreamDeclaration *declaration;
	List	   *others;
	List	   *own = OwnOptions(stmt->options, &others);
	char	   *event_time = NULL;
	char	   *arrival = NULL;
	ListCell   *lc;

	if (own == NIL)
		return NULL;
	foreach(lc, own)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "event_time") == 0)
			event_time = defGetString(opt);
		else if (strcmp(opt->defname, "arrival_column") == 0)
			arrival = defGetString(opt);
		else if (strcmp(opt->defname, "stream") != 0 || (opt->arg != NULL && !defGetBoolean(opt)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized stream_ext option \"%s\" for a table", opt->defname),
					 errhint("A stream is declared WITH (stream_ext.event_time = column), or WITH (stream_ext.stream) for events timed by their arrival (stream_ext.arrival_column = name renames that column).")));
	}
	if (event_time != NULL && arrival != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream_ext.arrival_column needs a stream without stream_ext.event_time"),
				 errhint("A stream with an event-time column gets no arrival column.")));
	if (stmt->partbound != NULL || stmt->partspec != NULL || stmt->ofTypename != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a stream is declared as a plain table"),
				 errhint("stream_ext makes the stream's partitions (its segments) itself.")));

	*plain = copyObject(stmt);
	(*plain)->options = others;
	declaration = palloc(sizeof(StreamDeclaration));
	declaration->relation = stmt->relation;
	declaration->event_time = event_time;
	declaration->arrival = arrival ? arrival : "arrival_time";
	return declaration;
}

/*
 * StreamDDLRegisterStream registers the table CREATE TABLE has made as a
 * stream, as create_stream() does.
 */
void
StreamDDLRegisterStream(StreamDeclaration *declaration)
{
	Oid			types[3] = {REGCLASSOID, NAMEOID, NAMEOID};
	Datum		values[3];
	bool		nulls[3] = {false, declaration->event_time == NULL, false};
	bool		isnull;

	values[0] = ObjectIdGetDatum(RangeVarGetRelid(declaration->relation, NoLock, false));
	values[1] = declaration->event_time ?
		DirectFunctionCall1(namein, CStringGetDatum(declaration->event_time)) : (Datum) 0;
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(declaration->arrival));
	(void) StreamCallInternal("create_stream", 3, types, values, nulls, &isnull);
}

/*
 * StreamDDLCreateView creates the continuous view of CREATE MATERIALIZED
 * VIEW ... WITH (stream_ext.continuous ...); false: the statement is of an
 * ordinary materialized view.
 */
bool
StreamDDLCreateView(CreateTableAsStmt *stmt)
{
	List	   *others;
	List	   *own;
	Oid			types[VIEW_ARGS];
	Datum		values[VIEW_ARGS];
	bool		nulls[VIEW_ARGS];
	bool		isnull;
	bool		continuous = false;
	ListCell   *lc;

	if (stmt->objtype != OBJECT_MATVIEW || stmt->into == NULL)
		return false;
	own = OwnOptions(stmt->into->options, &others);
	if (own == NIL)
		return false;
	if (others != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a continuous view takes stream_ext options only, not \"%s\"",
						lfirst_node(DefElem, list_head(others))->defname),
				 errhint("Storage parameters of its result table are set with ALTER TABLE once it exists.")));
	if (stmt->into->skipData)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous view cannot be created WITH NO DATA"),
				 errhint("Use WITH (stream_ext.continuous, stream_ext.paused = true) for a view that waits to be resumed.")));
	if (stmt->into->colNames != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous view takes its column names from its query"),
				 errhint("Name the columns with AS in the query.")));
	if (stmt->if_not_exists && OidIsValid(RangeVarGetRelid(stmt->into->rel, NoLock, true)))
	{
		ereport(NOTICE,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists, skipping", stmt->into->rel->relname)));
		return true;
	}

	types[0] = types[1] = TEXTOID;
	values[0] = CStringGetTextDatum(RangeVarName(stmt->into->rel));
	values[1] = CStringGetTextDatum(pg_get_querydef(castNode(Query, stmt->query), false));
	nulls[0] = nulls[1] = false;
	for (int i = 0; i < lengthof(view_options); i++)
	{
		types[2 + i] = view_options[i].type;
		nulls[2 + i] = true;
	}
	foreach(lc, own)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);
		int			i;

		if (strcmp(opt->defname, "continuous") == 0)
		{
			continuous = opt->arg == NULL || defGetBoolean(opt);
			continue;
		}
		for (i = 0; i < lengthof(view_options); i++)
		{
			if (strcmp(opt->defname, view_options[i].name) == 0)
				break;
		}
		if (i == lengthof(view_options))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized stream_ext option \"%s\" for a continuous view", opt->defname),
					 errhint("The options are those of stream_ext.create_continuous_view(): batch_size, paused, backfill, notify, emit, append_to, allowed_lateness, late, max_future, output_stream, sliding, step, ttl, session_gap, on_error.")));
		{
			Oid			typinput;
			Oid			typioparam;

			getTypeInputInfo(view_options[i].type, &typinput, &typioparam);
			values[2 + i] = OidInputFunctionCall(typinput, opt->arg == NULL ? "true" : defGetString(opt),
												 typioparam, -1);
			nulls[2 + i] = false;
		}
	}
	if (!continuous)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream_ext options need stream_ext.continuous"),
				 errhint("Write WITH (stream_ext.continuous, ...) to create a continuous view.")));
	(void) StreamCallInternal("create_continuous_view", VIEW_ARGS, types, values, nulls, &isnull);
	return true;
}

/*
 * StreamDDLDropViews drops the continuous views named by DROP
 * MATERIALIZED VIEW and returns the statement for the names left, or
 * NULL when none is.
 */
DropStmt *
StreamDDLDropViews(DropStmt *stmt)
{
	List	   *left = NIL;
	ListCell   *lc;
	DropStmt   *rest;

	if (stmt->removeType != OBJECT_MATVIEW)
		return stmt;
	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList(lfirst(lc));
		Oid			view = ContinuousViewOf(rv);

		if (!OidIsValid(view))
		{
			left = lappend(left, lfirst(lc));
			continue;
		}
		if (stmt->behavior == DROP_CASCADE)
			StreamRunDDL(psprintf("DROP %s %s CASCADE",
							get_rel_relkind(view) == RELKIND_VIEW ? "VIEW" : "TABLE",
							StreamQualifiedName(view)));
		else
			CallByName("drop_continuous_view", view);
	}
	if (left == NIL)
		return NULL;
	rest = copyObject(stmt);
	rest->objects = left;
	return rest;
}

/*
 * StreamDDLAlterView turns ALTER, RENAME, SET SCHEMA and COMMENT ON
 * MATERIALIZED VIEW of a continuous view into the statement on its result
 * table (or view), and does ALTER ... SET (stream_ext.paused = ...)
 * itself; it returns the statement to run, or NULL when nothing is left
 * to run.  Other statements are returned as they are.
 */
Node *
StreamDDLAlterView(Node *parsetree)
{
	Oid			view;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
				List	   *cmds = NIL;
				ListCell   *lc;

				if (stmt->objtype != OBJECT_MATVIEW ||
					!OidIsValid(view = ContinuousViewOf(stmt->relation)))
					return parsetree;
				foreach(lc, stmt->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
					List	   *others;
					List	   *own;
					ListCell   *lo;

					if (cmd->subtype != AT_SetRelOptions)
					{
						cmds = lappend(cmds, cmd);
						continue;
					}
					own = OwnOptions((List *) cmd->def, &others);
					if (others != NIL)
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("a continuous view takes stream_ext options only, not \"%s\"",
										lfirst_node(DefElem, list_head(others))->defname),
								 errhint("Set storage parameters of its result table with ALTER TABLE.")));
					foreach(lo, own)
					{
						DefElem    *opt = lfirst_node(DefElem, lo);

						if (strcmp(opt->defname, "on_error") == 0)
						{
							Oid			types[2] = {TEXTOID, TEXTOID};
							Datum		args[2] = {CStringGetTextDatum(StreamQualifiedName(view)),
							CStringGetTextDatum(defGetString(opt))};
							bool		nulls[2] = {false, false};
							bool		isnull;

							(void) StreamCallInternal("set_on_error", 2, types, args, nulls, &isnull);
							continue;
						}
						if (strcmp(opt->defname, "paused") != 0)
							ereport(ERROR,
									(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
									 errmsg("stream_ext option \"%s\" of a continuous view cannot be changed", opt->defname),
									 errhint("Only stream_ext.paused and stream_ext.on_error can; for the others create the view again beside it (backfill) and swap their names, or use stream_ext.replace_continuous_view().")));
						CallByName(opt->arg == NULL || defGetBoolean(opt) ?
								   "pause_continuous_view" : "resume_continuous_view", view);
					}
				}
				if (cmds == NIL)
					return NULL;
				stmt = copyObject(stmt);
				stmt->cmds = cmds;
				stmt->objtype = get_rel_relkind(view) == RELKIND_VIEW ? OBJECT_VIEW : OBJECT_TABLE;
				return (Node *) stmt;
			}
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->relation == NULL ||
					(stmt->renameType != OBJECT_MATVIEW &&
					 !(stmt->renameType == OBJECT_COLUMN && stmt->relationType == OBJECT_MATVIEW)) ||
					!OidIsValid(view = ContinuousViewOf(stmt->relation)))
					return parsetree;
				stmt = copyObject(stmt);
				if (stmt->renameType == OBJECT_MATVIEW)
					stmt->renameType = get_rel_relkind(view) == RELKIND_VIEW ? OBJECT_VIEW : OBJECT_TABLE;
				stmt->relationType = get_rel_relkind(view) == RELKIND_VIEW ? OBJECT_VIEW : OBJECT_TABLE;
				return (Node *) stmt;
			}
		case T_AlterObjectSchemaStmt:
			{
				AlterObjectSchemaStmt *stmt = (AlterObjectSchemaStmt *) parsetree;

				if (stmt->objectType != OBJECT_MATVIEW || stmt->relation == NULL ||
					!OidIsValid(view = ContinuousViewOf(stmt->relation)))
					return parsetree;
				stmt = copyObject(stmt);
				stmt->objectType = get_rel_relkind(view) == RELKIND_VIEW ? OBJECT_VIEW : OBJECT_TABLE;
				return (Node *) stmt;
			}
		case T_CommentStmt:
			{
				CommentStmt *stmt = (CommentStmt *) parsetree;

				if (stmt->objtype != OBJECT_MATVIEW ||
					!OidIsValid(view = ContinuousViewOf(makeRangeVarFromNameList(castNode(List, stmt->object)))))
					return parsetree;
				stmt = copyObject(stmt);
				stmt->objtype = get_rel_relkind(view) == RELKIND_VIEW ? OBJECT_VIEW : OBJECT_TABLE;
				return (Node *) stmt;
			}
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *stmt = (RefreshMatViewStmt *) parsetree;

				if (!OidIsValid(view = ContinuousViewOf(stmt->relation)))
					return parsetree;
				ereport(ERROR,
						(errcode(ERRCODE_WRONG_OBJECT_TYPE),
						 errmsg("continuous view \"%s\" is not refreshed", get_rel_name(view)),
						 errdetail("Its batches apply each committed event as it comes."),
						 errhint("SELECT stream_ext.flush() returns once the events committed so far are applied.")));
				return parsetree;
			}
		default:
			return parsetree;
	}
}

/*
 * StreamDDLOwnerChanged makes the batches of a continuous view whose
 * result table (or view) got a new owner run as that owner.
 */
void
StreamDDLOwnerChanged(Oid relid)
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	if (!StreamIsViewTable(relid))
		return;
	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	if (SPI_execute_with_args("UPDATE stream_ext.continuous_view c SET owner = k.relowner"
							  "  FROM pg_catalog.pg_class k"
							  " WHERE k.oid = c.result AND c.result = $1::pg_catalog.oid",
							  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(relid)}, NULL,
							  false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the new owner of %s", StreamQualifiedName(relid));
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
}

/*
 * OwnOptions returns the options in stream_ext's namespace, *others the
 * rest.
 */
static List *
OwnOptions(List *options, List **others)
{
	List	   *own = NIL;
	ListCell   *lc;

	*others = NIL;
	foreach(lc, options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (opt->defnamespace != NULL && strcmp(opt->defnamespace, OPTION_NAMESPACE) == 0)
			own = lappend(own, opt);
		else
			*others = lappend(*others, opt);
	}
	return own;
}

/*
 * RangeVarName returns a RangeVar as a (qualified if it was) quoted name.
 */
static char *
RangeVarName(RangeVar *rv)
{
	return rv->schemaname ? quote_qualified_identifier(rv->schemaname, rv->relname) :
		pstrdup(quote_identifier(rv->relname));
}

/*
 * ContinuousViewOf returns the result table (or view) of the continuous
 * view a name resolves to, InvalidOid when it is something else or
 * nothing (the statement then says so itself).
 */
static Oid
ContinuousViewOf(RangeVar *rv)
{
	Oid			relid;

	if (!OidIsValid(get_extension_oid(OPTION_NAMESPACE, true)))
		return InvalidOid;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return InvalidOid;
	return StreamIsViewTable(relid) ? relid : InvalidOid;
}

/*
 * CallByName calls stream_ext.name(view's name).
 */
static void
CallByName(const char *name, Oid relid)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(StreamQualifiedName(relid))};
	bool		nulls[1] = {false};
	bool		isnull;

	(void) StreamCallInternal(name, 1, types, values, nulls, &isnull);
	CommandCounterIncrement();
}
