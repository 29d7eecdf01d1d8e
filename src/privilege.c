/*-------------------------------------------------------------------------
 *
 * privilege.c
 *	  Running internal steps as the extension's owner, and calling the
 *	  extension's internal functions on behalf of its SQL functions.
 *
 * Users own their streams but cannot write stream_ext's catalog or
 * create tables in the stream_ext schema.  The few internal steps that
 * need to run as the extension's owner check first that the calling user
 * owns the stream, then switch user the way SECURITY DEFINER functions
 * and REFRESH MATERIALIZED VIEW do, with a pinned search_path.  A
 * transaction or subtransaction abort restores the user by itself.
 *
 * Internal functions are not executable by PUBLIC.  Where an SQL function
 * of the extension needs one written in SQL or PL/pgSQL (create_stream's
 * rebuild, attach_source's trigger bodies), the SQL function is written
 * in C and calls it through the function manager, which runs it as the
 * caller without an EXECUTE check, as PostgreSQL's own code calls
 * functions (StreamCallInternal).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "stream_ext.h"

/*
 * StreamExtensionOwner returns the role that created the extension in the
 * current database.
 */
Oid
StreamExtensionOwner(void)
{
	Oid			extoid = get_extension_oid("stream_ext", false);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "extension stream_ext has no catalog entry");
	owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	return owner;
}

/*
 * StreamInstalledVersion returns the version of the extension installed
 * in the current database (palloc'd), or NULL when it is not installed.
 */
char *
StreamInstalledVersion(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("stream_ext"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		datum = heap_getattr(tuple, Anum_pg_extension_extversion,
										 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = TextDatumGetCString(datum);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * StreamCheckVersion raises an error when the database's extension is of
 * another version than this library (between installing a new library
 * and ALTER EXTENSION stream_ext UPDATE).
 */
void
StreamCheckVersion(void)
{
	char	   *version = StreamInstalledVersion();

	if (version != NULL && strcmp(version, STREAM_EXT_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stream_ext in this database is version %s, but its library is version %s",
						version, STREAM_EXT_VERSION),
				 errdetail("No batches run until the extension is updated; events wait in their streams."),
				 errhint("Run ALTER EXTENSION stream_ext UPDATE.")));
}

/*
 * StreamCheckOwner raises the usual "must be owner" error unless the
 * current user owns (or is a member of the owner of) the relation.
 */
void
StreamCheckOwner(Oid relid)
{
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
}

/*
 * StreamSwitchToExtensionOwner becomes the extension's owner with
 * search_path pinned to pg_catalog, saving what StreamRestoreUser needs.
 */
void
StreamSwitchToExtensionOwner(Oid *save_userid, int *save_sec_context,
							 int *save_nestlevel)
{
	Oid			owner = StreamExtensionOwner();

	GetUserIdAndSecContext(save_userid, save_sec_context);
	SetUserIdAndSecContext(owner,
						   *save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	*save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * StreamRestoreUser undoes StreamSwitchToExtensionOwner.
 */
void
StreamRestoreUser(Oid save_userid, int save_sec_context, int save_nestlevel)
{
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * StreamCallInternal calls the internal function stream_ext.name with the
 * given argument types and values (nulls[i]: argument i is NULL) as the
 * current user, and returns its result (*isnull: it is NULL).
 */
Datum
StreamCallInternal(const char *name, int nargs, Oid *argtypes, Datum *values,
				   bool *nulls, bool *isnull)
{
	Oid			fn = LookupFuncName(list_make2(makeString("stream_ext"),
											  makeString(pstrdup(name))),
								   nargs, argtypes, false);
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, FUNC_MAX_ARGS);
	Datum		result;

	Assert(nargs <= FUNC_MAX_ARGS);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = values[i];
		fcinfo->args[i].isnull = nulls[i];
	}
	result = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/*
 * StreamForwardInternal calls the internal function stream_ext.name with
 * the arguments of the SQL function being run (fcinfo), of the given
 * types.
 */
Datum
StreamForwardInternal(FunctionCallInfo fcinfo, const char *name, int nargs, Oid *argtypes,
					  bool *isnull)
{
	Datum		values[FUNC_MAX_ARGS];
	bool		nulls[FUNC_MAX_ARGS];

	Assert(nargs <= PG_NARGS());
	for (int i = 0; i < nargs; i++)
	{
		nulls[i] = PG_ARGISNULL(i);
		values[i] = nulls[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	return StreamCallInternal(name, nargs, argtypes, values, nulls, isnull);
}
