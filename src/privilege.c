/*-------------------------------------------------------------------------
 *
 * privilege.c
 *	  Running internal steps as the extension's owner.
 *
 * Users own their streams but cannot write stream_ext's catalog or
 * create tables in the stream_ext schema.  The few internal steps that
 * need to run as the extension's owner check first that the calling user
 * owns the stream, then switch user the way SECURITY DEFINER functions
 * and REFRESH MATERIALIZED VIEW do, with a pinned search_path.  A
 * transaction or subtransaction abort restores the user by itself.
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
#include "utils/acl.h"
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
