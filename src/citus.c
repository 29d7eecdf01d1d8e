/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  Beside Citus: the tables Citus manages are refused as stream_ext's.
 *
 * stream_ext runs on a node of a Citus cluster as on any server
 * (shared_preload_libraries = 'citus,stream_ext': Citus insists on being
 * loaded first, and stream_ext chains the hooks it finds).  Its streams,
 * views and result tables are then tables of that node.
 *
 * A table Citus manages (distributed, reference, or a Citus local table)
 * keeps its rows in shards, possibly on other nodes, and is written
 * through Citus's executor, which evaluates column defaults on the
 * coordinator: an event's tag would be the coordinator's transaction, not
 * that of the node that stores the event, and a view's progress on that
 * node could not tell which events it has seen.  Until streams can be
 * distributed with their tags and batches on the nodes that hold their
 * shards, stream_ext refuses such tables, before anything is made:
 *
 *	- as a stream, a source, or in a view's or transform's query (their
 *	  creation checks each relation: StreamCheckNotCitusTable);
 *	- as the argument of the Citus functions that hand a table to Citus
 *	  (create_distributed_table() and the like), when the table is one of
 *	  stream_ext's (the planner hook: StreamCheckCitusCalls);
 *	- by a view's batch, should one of its tables have become Citus's by
 *	  another way: the view goes into error, its events kept.
 *
 * Without Citus (no pg_dist_partition), each check costs one syscache
 * lookup.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "stream_ext.h"

static Oid	DistPartitionCatalog(void);
static bool CitusCallsWalker(Node *node, void *context);
static char *StreamObjectKind(Oid relid);

/*
 * The Citus functions whose first argument is a table they hand to Citus
 * or rebuild.
 */
static const char *const citus_table_functions[] = {
	"create_distributed_table",
	"create_distributed_table_concurrently",
	"create_reference_table",
	"citus_add_local_table_to_metadata",
	"alter_distributed_table",
	"alter_table_set_access_method",
	"undistribute_table",
	"update_distributed_table_colocation",
	NULL
};

/*
 * DistPartitionCatalog returns the OID of Citus's pg_dist_partition, or
 * InvalidOid where Citus is not installed in this database.
 */
static Oid
DistPartitionCatalog(void)
{
	return get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
}

/*
 * StreamCitusTable tells whether Citus manages a table: it has an entry in
 * pg_dist_partition (distributed, reference or Citus local).
 */
bool
StreamCitusTable(Oid relid)
{
	Oid			dist_partition = DistPartitionCatalog();
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	if (!OidIsValid(dist_partition))
		return false;
	rel = table_open(dist_partition, AccessShareLock);
	/* logicalrelid, its first column */
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * StreamCheckNotCitusTable refuses a table Citus manages as what is named
 * (e.g. "a stream", "a source").
 */
void
StreamCheckNotCitusTable(Oid relid, const char *as_what)
{
	if (!StreamCitusTable(relid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("table \"%s\" is a Citus table and cannot be %s",
					get_rel_name(relid), as_what),
			 errdetail("Citus writes its rows on the nodes that hold its shards, with column defaults evaluated on the coordinator; stream_ext reads and tags events on the node that stores them."),
			 errhint("Use a table of this node, not distributed, reference or added to Citus's metadata (undistribute_table() turns it back into one).")));
}

/*
 * StreamCheckCitusCalls refuses, in a query about to be planned, a call of
 * one of Citus's table functions whose table argument, a constant, is one
 * of stream_ext's tables.  Cheap when Citus is absent or the query calls
 * no function with a regclass constant first.
 */
void
StreamCheckCitusCalls(Query *query)
{
	if (query->commandType != CMD_SELECT || !OidIsValid(DistPartitionCatalog()))
		return;
	(void) query_tree_walker(query, CitusCallsWalker, NULL, 0);
}

static bool
CitusCallsWalker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *func = (FuncExpr *) node;
		Node	   *arg = func->args != NIL ? linitial(func->args) : NULL;

		if (arg != NULL && IsA(arg, Const) && ((Const *) arg)->consttype == REGCLASSOID &&
			!((Const *) arg)->constisnull &&
			get_func_namespace(func->funcid) == PG_CATALOG_NAMESPACE)
		{
			char	   *name = get_func_name(func->funcid);
			Oid			relid = DatumGetObjectId(((Const *) arg)->constvalue);
			char	   *kind;
			int			i;

			for (i = 0; citus_table_functions[i] != NULL; i++)
				if (strcmp(name, citus_table_functions[i]) == 0)
					break;
			if (citus_table_functions[i] != NULL &&
				(kind = StreamObjectKind(relid)) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("%s() cannot take \"%s\": it is %s",
								name, get_rel_name(relid), kind),
						 errdetail("stream_ext reads and tags events on the node that stores them; Citus would move its rows to shards written through the coordinator."),
						 errhint("Keep stream_ext's tables on this node; see \"Scaling out with Citus\" in stream_ext's README.")));
		}
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, CitusCallsWalker, context, 0);
	return expression_tree_walker(node, CitusCallsWalker, context);
}

/*
 * StreamObjectKind says which of stream_ext's tables relid is ("a stream",
 * "the result table of continuous view v", ...), or NULL for none.
 */
static char *
StreamObjectKind(Oid relid)
{
	char	   *kind = NULL;

	if (!OidIsValid(get_extension_oid("stream_ext", true)))
		return NULL;
	SPI_connect();
	if (SPI_execute_with_args("SELECT CASE"
							  " WHEN EXISTS (SELECT 1 FROM stream_ext.stream WHERE relid = $1) THEN 'a stream'"
							  " WHEN EXISTS (SELECT 1 FROM stream_ext.segment WHERE partition = $1)"
							  "  THEN 'a segment of a stream'"
							  " WHEN EXISTS (SELECT 1 FROM stream_ext.source WHERE source = $1) THEN 'the source of a stream'"
							  " ELSE (SELECT pg_catalog.format('the %s of %s %s',"
							  "               CASE WHEN c.result = $1 AND c.kind = 'transform' THEN 'name'"
							  "                    WHEN c.result = $1 THEN 'result table'"
							  "                    WHEN c.state_table = $1 THEN 'state table'"
							  "                    WHEN c.append_to = $1 THEN 'append table'"
							  "                    ELSE 'target' END,"
							  "               CASE WHEN c.kind = 'transform' THEN 'transform' ELSE 'continuous view' END,"
							  "               c.result)"
							  "         FROM stream_ext.continuous_view c"
							  "        WHERE $1 IN (c.result, c.state_table, c.append_to, c.target) LIMIT 1) END",
							  1, (Oid[]) {REGCLASSOID}, (Datum[]) {ObjectIdGetDatum(relid)},
							  NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read stream_ext's catalog");
	if (SPI_processed == 1)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (value != NULL)
			kind = MemoryContextStrdup(TopTransactionContext, value);
	}
	SPI_finish();
	return kind;
}
