/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  The utility hook: what stream_ext does around DDL and COPY.
 *
 *	- COPY FROM into a stream without a column list gets the stream's own
 *	  columns (ingest.c).
 *	- DROP DATABASE, ALTER DATABASE ... RENAME / SET TABLESPACE and CREATE
 *	  DATABASE ... TEMPLATE need the database without other sessions: the
 *	  database's worker is stopped first (launcher.c).
 *	- RENAME and SET SCHEMA of what a view's query may name: each view's
 *	  resolved query is analyzed before and deparsed after the command, so
 *	  that it names what it named under the new names (view_definition.c).
 *	- CREATE TABLE and CREATE MATERIALIZED VIEW with stream_ext options,
 *	  and DROP, ALTER, RENAME and COMMENT ON MATERIALIZED VIEW of a
 *	  continuous view (ddl.c); ALTER ... OWNER TO of a view's table makes
 *	  its batches run as the new owner.
 *	- DROP EXTENSION stream_ext first releases the user's tables (streams,
 *	  result tables, sources become plain tables with their data), and
 *	  wakes the database's worker at commit, so
 *	  it exits at once rather than at its next idle wake-up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "stream_ext.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void StreamProcessUtility(PlannedStmt *pstmt, const char *queryString,
								 bool readOnlyTree,
								 ProcessUtilityContext context,
								 ParamListInfo params,
								 QueryEnvironment *queryEnv,
								 DestReceiver *dest, QueryCompletion *qc);
static void StopWorkerOf(const char *dbname);
static bool MayRenameWhatQueriesName(Node *parsetree);
static bool ChangesOwner(AlterTableStmt *stmt);

/* StreamRunDDL is running stream_ext's own DDL: no definition follows it. */
bool		StreamRunningOwnDDL = false;

/*
 * StreamUtilityInstallHook installs the utility hook.
 */
void
StreamUtilityInstallHook(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = StreamProcessUtility;
}

/*
 * StreamProcessUtility acts before the commands listed at the top.
 */
static void
StreamProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	List	   *definitions = NIL;
	StreamDeclaration *register_stream = NULL;
	Oid			new_owner_of = InvalidOid;

	/* Native DDL of streams and continuous views (ddl.c). */
	switch (nodeTag(parsetree))
	{
		case T_CreateStmt:
			{
				CreateStmt *plain;

				register_stream = StreamDDLStreamTable((CreateStmt *) parsetree, &plain);
				if (register_stream != NULL)
					parsetree = (Node *) plain;
			}
			break;
		case T_CreateTableAsStmt:
			if (StreamDDLCreateView((CreateTableAsStmt *) parsetree))
				return;
			break;
		case T_DropStmt:
			parsetree = (Node *) StreamDDLDropViews((DropStmt *) parsetree);
			if (parsetree == NULL)
				return;
			break;
		case T_AlterTableStmt:
		case T_RenameStmt:
		case T_AlterObjectSchemaStmt:
		case T_CommentStmt:
		case T_RefreshMatViewStmt:
			parsetree = StreamDDLAlterView(parsetree);
			if (parsetree == NULL)
				return;
			if (IsA(parsetree, AlterTableStmt) && ChangesOwner((AlterTableStmt *) parsetree))
				new_owner_of = RangeVarGetRelid(((AlterTableStmt *) parsetree)->relation, NoLock, true);
			break;
		default:
			break;
	}
	if (parsetree != pstmt->utilityStmt)
	{
		PlannedStmt *changed = makeNode(PlannedStmt);

		memcpy(changed, pstmt, sizeof(PlannedStmt));
		changed->utilityStmt = parsetree;
		pstmt = changed;
		readOnlyTree = false;
	}

	switch (nodeTag(parsetree))
	{
		case T_CopyStmt:
			pstmt = StreamCopyDefaultColumns(pstmt, readOnlyTree);
			break;
		case T_DropdbStmt:
			StopWorkerOf(((DropdbStmt *) parsetree)->dbname);
			break;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				StopWorkerOf(((RenameStmt *) parsetree)->subname);
			else if (MayRenameWhatQueriesName(parsetree))
				definitions = StreamDefinitionsBeforeDDL(parsetree);
			break;
		case T_AlterObjectSchemaStmt:
			if (MayRenameWhatQueriesName(parsetree))
				definitions = StreamDefinitionsBeforeDDL(parsetree);
			break;
		case T_AlterDatabaseStmt:
			StopWorkerOf(((AlterDatabaseStmt *) parsetree)->dbname);
			break;
		case T_CreatedbStmt:
			{
				ListCell   *lc;

				foreach(lc, ((CreatedbStmt *) parsetree)->options)
				{
					DefElem    *opt = lfirst_node(DefElem, lc);

					if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
						StopWorkerOf(defGetString(opt));
				}
			}
			break;
		case T_DropStmt:
			if (((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
			{
				ListCell   *lc;

				foreach(lc, ((DropStmt *) parsetree)->objects)
				{
					if (strcmp(strVal(lfirst(lc)), "stream_ext") == 0 &&
						OidIsValid(get_extension_oid("stream_ext", true)))
					{
						/* The user's tables stay, with their data. */
						SPI_connect();
						if (SPI_execute("SELECT stream_ext._release_user_objects()", false, 0) != SPI_OK_SELECT)
							elog(ERROR, "could not release the tables of stream_ext");
						SPI_finish();
						StreamWakeWorkerAtCommit();
					}
				}
			}
			break;
		default:
			break;
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
	StreamDefinitionsAfterDDL(definitions, parsetree);
	if (register_stream != NULL)
	{
		CommandCounterIncrement();
		StreamDDLRegisterStream(register_stream);
	}
	if (OidIsValid(new_owner_of))
	{
		CommandCounterIncrement();
		StreamDDLOwnerChanged(new_owner_of);
	}
}

/*
 * ChangesOwner tells whether an ALTER TABLE gives the table a new owner.
 */
static bool
ChangesOwner(AlterTableStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		if (lfirst_node(AlterTableCmd, lc)->subtype == AT_ChangeOwner)
			return true;
	}
	return false;
}

/*
 * MayRenameWhatQueriesName tells whether a RENAME or SET SCHEMA (not one of
 * stream_ext's own) is of a kind of object a query can name.
 */
static bool
MayRenameWhatQueriesName(Node *parsetree)
{
	ObjectType	type;

	if (StreamRunningOwnDDL)
		return false;
	if (IsA(parsetree, RenameStmt))
		type = ((RenameStmt *) parsetree)->renameType;
	else
		type = ((AlterObjectSchemaStmt *) parsetree)->objectType;
	switch (type)
	{
		case OBJECT_TABLE:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_FOREIGN_TABLE:
		case OBJECT_COLUMN:
		case OBJECT_SCHEMA:
		case OBJECT_FUNCTION:
		case OBJECT_AGGREGATE:
		case OBJECT_ROUTINE:
		case OBJECT_OPERATOR:
		case OBJECT_TYPE:
		case OBJECT_DOMAIN:
		case OBJECT_ATTRIBUTE:
		case OBJECT_COLLATION:
		case OBJECT_SEQUENCE:
			return true;
		default:
			return false;
	}
}

/*
 * StopWorkerOf stops the worker of the named database, if any.
 */
static void
StopWorkerOf(const char *dbname)
{
	Oid			dboid;

	if (dbname == NULL)
		return;
	dboid = get_database_oid(dbname, true);
	if (OidIsValid(dboid) && dboid != MyDatabaseId)
		StreamStopDatabaseWorker(dboid);
}
