/*-------------------------------------------------------------------------
 *
 * transform.c
 *	  Continuous transforms: the rows of a query without aggregates over
 *	  each batch, inserted into a table or stream (create_transform()).
 *
 * The query is checked like a view's (view.c, StreamCheckTransformQuery);
 * a transform's part of a batch statement is one INSERT of its query over
 * the batch into its target.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_coerce.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "batch_statement.h"

static void CheckTransformTarget(Oid target, const char *target_name, Oid owner);
static char *TargetColumns(ViewShape *shape, Oid target, const char *target_name);
static List *TransformFragment(ViewShape *shape, const char *cols, uint32 part);

PG_FUNCTION_INFO_V1(stream_ext_create_transform);

/*
 * CheckTransformTarget refuses a target that is not a table or stream the
 * transform's owner may insert into, or one of a continuous view's own.
 */
static void
CheckTransformTarget(Oid target, const char *target_name, Oid owner)
{
	bool		exists;
	bool		isnull;
	AclResult	aclresult;

	StreamCheckNotCitusTable(target, "the target of a transform");
	if (get_rel_relkind(target) != RELKIND_RELATION &&
		get_rel_relkind(target) != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" cannot be the target of a transform", target_name),
				 errhint("The target is a table or a stream.")));
	SPI_connect();
	if (SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM stream_ext.continuous_view"
							  " WHERE result = $1::pg_catalog.oid OR state_table = $1::pg_catalog.oid)",
							  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(target)}, NULL,
							  true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read continuous views");
	exists = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	if (exists)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" belongs to a continuous view", target_name),
				 errhint("Only the view's batches write its tables; make the transform's target a table or stream of its own.")));
	aclresult = pg_class_aclcheck(target, owner, ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, target_name);
}

/*
 * TargetColumns returns the list of the target's columns the transform's
 * rows go into: those named like its output columns, of types its values
 * can be assigned to.
 */
static char *
TargetColumns(ViewShape *shape, Oid target, const char *target_name)
{
	StringInfoData cols;
	ListCell   *lc;

	initStringInfo(&cols);
	foreach(lc, shape->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		AttrNumber	attnum;
		Oid			from;
		Oid			to;

		if (tle->resjunk)
			continue;
		attnum = get_attnum(target, tle->resname);
		if (attnum == InvalidAttrNumber || strcmp(tle->resname, STREAM_TAG_COLUMN) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target \"%s\" has no column \"%s\"", target_name, tle->resname),
					 errhint("Name each output column of the transform's query like a column of the target, with AS.")));
		from = exprType((Node *) tle->expr);
		to = get_atttype(target, attnum);
		if (!can_coerce_type(1, &from, &to, COERCION_ASSIGNMENT))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of target \"%s\" is of type %s, but the transform gives %s",
							tle->resname, target_name, format_type_be(to), format_type_be(from)),
					 errhint("Cast the expression in the query.")));
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", quote_identifier(tle->resname));
	}
	return cols.data;
}

/*
 * TransformFragment returns a transform's part of a batch statement: the
 * rows of its query over the batch, inserted into the target's columns
 * cols.  Generated with search_path = pg_catalog.
 */
static List *
TransformFragment(ViewShape *shape, const char *cols, uint32 part)
{
	StringInfoData sql;
	List	   *parts;

	initStringInfo(&sql);
	parts = list_make2(psprintf("x_%u AS (INSERT INTO ", part), "output");
	appendStringInfo(&sql, " (%s) %s RETURNING 1),\n"
					 "o_%u AS (SELECT (SELECT pg_catalog.count(*) FROM x_%u), 0::pg_catalog.int8,"
					 " 0::pg_catalog.int8, 0::pg_catalog.int8, 0::pg_catalog.int8, 0::pg_catalog.int8,"
					 " NULL::pg_catalog.timestamptz, NULL::pg_catalog.timestamptz,"
					 " NULL::pg_catalog.int8 AS stream_ext_events)",
					 cols, StreamBatchQuery(shape, copyObject(shape->query)), part, part);
	return lappend(parts, sql.data);
}

/*
 * StreamTransformFragment analyzes a stored transform's query again and
 * returns its part of a batch statement; *columns: the stream columns it
 * reads (view_definition.c).
 */
List *
StreamTransformFragment(const char *query_string, uint32 part, List **columns)
{
	ViewShape  *shape = StreamAnalyzeViewQuery(query_string);
	StringInfoData cols;
	ListCell   *lc;
	int			save_nestlevel;
	List	   *parts;

	StreamCheckTransformQuery(shape);
	initStringInfo(&cols);
	foreach(lc, shape->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk)
			appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", quote_identifier(tle->resname));
	}
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	parts = TransformFragment(shape, cols.data, part);
	*columns = shape->columns;	/* known once the part is generated */
	AtEOXact_GUC(false, save_nestlevel);
	return parts;
}

/*
 * stream_ext_create_transform creates a continuous transform: a view
 * named name over the query (owned by the caller, whose privileges the
 * batches run with; it shows the query over the events the stream still
 * holds), and its catalog row, whose batch statement inserts the query's
 * rows over each batch into target, a table or stream the caller may
 * insert into, whose columns are named like the query's output columns.
 */
Datum
stream_ext_create_transform(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *query_string;
	Oid			target;
	bool		has_batch_size = !PG_ARGISNULL(3);
	int32		batch_size = has_batch_size ? PG_GETARG_INT32(3) : 0;
	bool		paused = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	bool		backfill = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
	RangeVar   *rv;
	Oid			nspid;
	char	   *qualified;
	char	   *target_name;
	ViewShape  *shape;
	Oid			owner = GetUserId();
	AclResult	aclresult;
	char	   *cols;
	uint32		part;
	char	   *definition;
	Oid			view_oid;
	ObjectAddress view_addr;
	ObjectAddress target_addr;
	int			save_nestlevel;

	StreamCheckVersion();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a transform needs a name, a query and a target")));
	if (has_batch_size && batch_size < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be at least 1"),
				 errhint("Leave it NULL to use stream_ext.batch_size.")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	query_string = text_to_cstring(PG_GETARG_TEXT_PP(1));
	target = PG_GETARG_OID(2);
	target_name = get_rel_name(target);
	if (target_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target relation %u does not exist", target)));
	rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));
	nspid = RangeVarGetCreationNamespace(rv);
	qualified = quote_qualified_identifier(get_namespace_name(nspid), rv->relname);
	if (OidIsValid(get_relname_relid(rv->relname, nspid)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", qualified),
				 errhint("A transform is a view of that name; choose another name.")));

	CheckTransformTarget(target, target_name, owner);

	shape = StreamAnalyzeViewQuery(query_string);
	StreamCheckTransformQuery(shape);
	aclresult = pg_class_aclcheck(shape->stream, owner, ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(shape->stream));
	(void) ExecCheckRTPerms(shape->query->rtable, true);
	/* Its progress would mix two clusters' transaction ids (restore.c). */
	StreamCheckStreamRestored(shape->stream);

	/* Rows go into the target's columns of the same names. */
	cols = TargetColumns(shape, target, target_name);
	if (RelationIsStream(target))
		StreamCheckNoCycle(target, shape->stream, target_name);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	definition = pg_get_querydef(copyObject(shape->query), false);
	StreamRunDDL(psprintf("CREATE VIEW %s AS %s", qualified, definition));
	view_oid = StreamTableOid(qualified);
	StreamRunDDL(psprintf("COMMENT ON VIEW %s IS %s", qualified,
						  quote_literal_cstr(psprintf("stream_ext: a continuous transform into %s; this view shows its query over the events the stream holds",
													  StreamQualifiedName(target)))));

	/* The target cannot be dropped from under it (but CASCADE). */
	ObjectAddressSet(view_addr, RelationRelationId, view_oid);
	ObjectAddressSet(target_addr, RelationRelationId, target);
	recordDependencyOn(&view_addr, &target_addr, DEPENDENCY_NORMAL);

	/*
	 * Its part of the batch statement is generated by the worker from the
	 * definition (view_definition.c); generated here once, so that what
	 * could not be is refused now rather than by a batch.
	 */
	part = StreamNextPartNumber();
	(void) TransformFragment(shape, cols, part);
	AtEOXact_GUC(false, save_nestlevel);

	{
		Datum		values[13];
		char		nulls[13];
		Oid			save_userid;
		int			save_sec_context;
		int			owner_nestlevel;

		memset(nulls, ' ', sizeof(nulls));
		values[0] = ObjectIdGetDatum(view_oid);
		values[1] = ObjectIdGetDatum(shape->stream);
		values[2] = CStringGetTextDatum(query_string);
		values[3] = CStringGetTextDatum(StreamResolveQuery(query_string));
		values[4] = ObjectIdGetDatum(owner);
		values[5] = CStringGetTextDatum(GetConfigOption("TimeZone", false, false));
		values[6] = CStringGetTextDatum(GetConfigOption("DateStyle", false, false));
		values[7] = CStringGetTextDatum(GetConfigOption("search_path", false, false));
		values[8] = Int32GetDatum(batch_size);
		nulls[8] = has_batch_size ? ' ' : 'n';
		values[9] = CStringGetTextDatum(paused ? "paused" : "active");
		values[10] = BoolGetDatum(backfill);
		values[11] = ObjectIdGetDatum(target);
		values[12] = Int32GetDatum((int32) part);
		StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
		SPI_connect();
		if (SPI_execute_with_args("INSERT INTO stream_ext.continuous_view"
								  " (result, kind, stream, query, definition, owner, timezone, datestyle,"
								  "  search_path, batch_size, state, progress, target, part)"
								  " VALUES ($1::pg_catalog.oid, 'transform', $2::pg_catalog.oid, $3, $4,"
								  "  $5::pg_catalog.oid, $6, $7, $8, $9, $10,"
								  "  CASE WHEN $11 THEN '3:3:'::pg_catalog.pg_snapshot"
								  "       ELSE pg_catalog.pg_current_snapshot() END, $12::pg_catalog.oid, $13)",
								  13, (Oid[]) {OIDOID, OIDOID, TEXTOID, TEXTOID, OIDOID, TEXTOID,
								  TEXTOID, TEXTOID, INT4OID, TEXTOID, BOOLOID, OIDOID, INT4OID},
								  values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not register transform %s", qualified);
		SPI_finish();
		StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);
	}

	StreamWakeWorkerAtCommit();
	PG_RETURN_OID(view_oid);
}
