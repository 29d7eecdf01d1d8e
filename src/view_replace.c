/*-------------------------------------------------------------------------
 *
 * view_replace.c
 *	  replace_continuous_view(): a new query for a view whose results
 *	  follow from the states the view has stored.
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

static void MapReplacement(ViewShape *new_shape, ViewShape *old_shape, int **key_map,
						   int **agg_map);

PG_FUNCTION_INFO_V1(stream_ext_replace_continuous_view);

/*
 * MapReplacement checks that a replacing query's results follow from the
 * old view's states (same FROM and WHERE, keys and aggregates among the
 * old ones) and gives, for each new key and aggregate, the 1-based
 * position of the old one.
 */
static void
MapReplacement(ViewShape *new_shape, ViewShape *old_shape, int **key_map, int **agg_map)
{
	bool		same_from;
	ListCell   *lc;
	ListCell   *lo;

	same_from = new_shape->stream == old_shape->stream &&
		list_length(new_shape->query->rtable) == list_length(old_shape->query->rtable) &&
		equal(new_shape->query->jointree, old_shape->query->jointree);
	if (same_from)
	{
		forboth(lc, new_shape->query->rtable, lo, old_shape->query->rtable)
		{
			RangeTblEntry *a = lfirst_node(RangeTblEntry, lc);
			RangeTblEntry *b = lfirst_node(RangeTblEntry, lo);

			same_from &= a->rtekind == b->rtekind && a->relid == b->relid &&
				a->jointype == b->jointype && equal(a->functions, b->functions);
		}
	}
	if (!same_from)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the new query must read the same FROM items with the same WHERE as the old one"),
				 errdetail("Only grouping keys and output columns can change in place."),
				 errhint("Create the new view beside it with backfill => true, then swap their names with ALTER TABLE ... RENAME in one transaction.")));
	*key_map = palloc0(sizeof(int) * (list_length(new_shape->keys) + 1));
	foreach(lc, new_shape->keys)
	{
		foreach(lo, old_shape->keys)
		{
			if (equal(lfirst_node(TargetEntry, lc)->expr, lfirst_node(TargetEntry, lo)->expr))
				(*key_map)[foreach_current_index(lc)] = foreach_current_index(lo) + 1;
		}
		if ((*key_map)[foreach_current_index(lc)] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("grouping key \"%s\" is not one of the old view's",
							lfirst_node(TargetEntry, lc)->resname),
					 errdetail("A view's groups can be merged (keys dropped), not split."),
					 errhint("Create the new view beside it with backfill => true, then swap their names with ALTER TABLE ... RENAME in one transaction.")));
	}
	*agg_map = palloc0(sizeof(int) * (list_length(new_shape->aggs) + 1));
	foreach(lc, new_shape->aggs)
	{
		foreach(lo, old_shape->aggs)
		{
			if (equal(lfirst(lc), lfirst(lo)))
				(*agg_map)[foreach_current_index(lc)] = foreach_current_index(lo) + 1;
		}
		if ((*agg_map)[foreach_current_index(lc)] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("aggregate %s is not one of the old view's",
							deparse_expression(lfirst(lc),
											   deparse_context_for(get_rel_name(new_shape->stream),
																   new_shape->stream),
											   false, false)),
					 errdetail("Its state over the events already consumed is not stored."),
					 errhint("Create the new view beside it with backfill => true (with a retention on the stream, see stream_ext.set_retention), then swap their names with ALTER TABLE ... RENAME in one transaction.")));
	}
}

/*
 * stream_ext_replace_continuous_view gives a continuous view a new query
 * whose results follow from the states the view has stored: the same
 * stream, FROM and WHERE, grouping keys among the old ones (dropping keys
 * merges groups) and aggregate calls among the old ones (output
 * expressions over them may change).  A new view is made beside the old
 * one, its states combined from the old states per new group, its result
 * rows finalized from them, the old view's progress, watermark and
 * counters carried over; then the old view is dropped and the new one
 * takes its name.  All in the caller's transaction: exact, and the worker
 * waits for it.
 */
Datum
stream_ext_replace_continuous_view(PG_FUNCTION_ARGS)
{
	Oid			view;
	char	   *new_query;
	char	   *old_query;
	char	   *old_path;
	ViewShape  *old_shape;
	ViewShape  *new_shape;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	int			save_nestlevel;
	int		   *key_map;
	int		   *agg_map;
	char	   *name;
	char	   *schema;
	char	   *temp_name;
	Oid			new_oid;
	ViewLayout *old_layout;
	ViewLayout *new_layout;
	ContinuousViewOptions no_options = {NULL, false, 'u', NULL, false, NULL, NULL, NULL, NULL, NULL};
	char	   *sql;
	Datum		values[2];
	Oid			save_userid;
	int			save_sec_context;
	int			owner_nestlevel;

	StreamCheckVersion();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("replace_continuous_view needs a view and a query")));
	view = StreamRelationByName(PG_GETARG_TEXT_PP(0));
	new_query = text_to_cstring(PG_GETARG_TEXT_PP(1));

	/* The old view, its batches waited for and kept out meanwhile. */
	StreamCheckOwner(view);
	LockRelationOid(view, AccessExclusiveLock);
	SPI_connect();
	values[0] = ObjectIdGetDatum(view);
	if (SPI_execute_with_args("SELECT definition, search_path,"
							  "       kind = 'view' AND sliding IS NULL AND session_gap IS NULL"
							  "       AND append_to IS NULL AND output_stream IS NULL AND emit = 'changes'"
							  "  FROM stream_ext.continuous_view WHERE result = $1::pg_catalog.oid",
							  1, (Oid[]) {OIDOID}, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read continuous view %u", view);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a continuous view", get_rel_name(view)),
				 errhint("SELECT * FROM stream_ext.continuous_views lists them.")));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (!DatumGetBool(SPI_getbinval(row, desc, 3, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous view \"%s\" cannot be replaced in place", get_rel_name(view)),
				 errdetail("Sliding and session windows, append_to, output_stream and emit => 'final' keep more than states per group."),
				 errhint("Create the new view beside it with backfill => true (with a retention on the stream, see stream_ext.set_retention), then swap their names with ALTER TABLE ... RENAME in one transaction.")));
	old_query = SPI_palloc(strlen(SPI_getvalue(row, desc, 1)) + 1);
	strcpy(old_query, SPI_getvalue(row, desc, 1));
	old_path = SPI_palloc(strlen(SPI_getvalue(row, desc, 2)) + 1);
	strcpy(old_path, SPI_getvalue(row, desc, 2));
	SPI_finish();

	/* Both queries analyzed; the old one as it was created (resolved). */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", old_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	old_shape = StreamAnalyzeViewQuery(old_query);
	StreamCheckViewQuery(old_shape);
	AtEOXact_GUC(false, save_nestlevel);
	new_shape = StreamAnalyzeViewQuery(new_query);
	StreamCheckViewQuery(new_shape);

	/* The new results must follow from the old states. */
	MapReplacement(new_shape, old_shape, &key_map, &agg_map);

	/* The new view, beside the old one, paused until it holds the states. */
	name = get_rel_name(view);
	schema = get_namespace_name(get_rel_namespace(view));
	temp_name = psprintf("%.*s_stream_ext_new", pg_mbcliplen(name, strlen(name), 40), name);
	SPI_connect();
	values[0] = ObjectIdGetDatum(view);
	values[1] = CStringGetTextDatum(new_query);
	if (SPI_execute_with_args(psprintf("SELECT stream_ext.create_continuous_view(%s, $2, c.batch_size,"
									   " true, false, c.notify, c.emit, NULL, c.allowed_lateness, c.late,"
									   " c.max_future, NULL, NULL, NULL, c.ttl, NULL, c.on_error)"
									   " FROM stream_ext.continuous_view c WHERE c.result = $1::pg_catalog.oid",
									   quote_literal_cstr(quote_qualified_identifier(schema, temp_name))),
							  2, (Oid[]) {OIDOID, TEXTOID}, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not create the new version of %s", name);
	new_oid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/*
	 * Its states: the old ones combined per new group; its final values
	 * follow.  Generated with search_path = pg_catalog.
	 */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	old_layout = StreamPlanLayout(old_shape, &no_options, false);
	old_layout->table = view;
	new_layout = StreamPlanLayout(new_shape, &no_options, false);
	new_layout->table = new_oid;
	sql = StreamFillFromStates(new_shape, new_layout, quote_qualified_identifier(schema, temp_name),
							   old_shape, old_layout, view, key_map, agg_map);
	AtEOXact_GUC(false, save_nestlevel);

	StreamApplyingBatch = true;
	PG_TRY();
	{
		if (SPI_execute(sql, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not fill the new version of %s", name);
	}
	PG_FINALLY();
	{
		StreamApplyingBatch = false;
	}
	PG_END_TRY();

	/* What the old view consumed and counted, and its state. */
	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
	values[0] = ObjectIdGetDatum(view);
	values[1] = ObjectIdGetDatum(new_oid);
	if (SPI_execute_with_args("UPDATE stream_ext.continuous_view n"
							  "   SET progress = o.progress, state = o.state, max_event_time = o.max_event_time,"
							  "       watermark = o.watermark, batches = o.batches, events = o.events,"
							  "       rows_written = o.rows_written, notifications = o.notifications,"
							  "       notifications_skipped = o.notifications_skipped,"
							  "       late_events = o.late_events, retries = o.retries,"
							  "       last_batch_at = o.last_batch_at, last_error = o.last_error,"
							  "       last_error_code = o.last_error_code, last_error_detail = o.last_error_detail,"
							  "       last_error_hint = o.last_error_hint, last_error_context = o.last_error_context,"
							  "       last_error_at = o.last_error_at, created_at = o.created_at"
							  "  FROM stream_ext.continuous_view o"
							  " WHERE o.result = $1::pg_catalog.oid AND n.result = $2::pg_catalog.oid",
							  2, (Oid[]) {OIDOID, OIDOID}, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not carry over the progress of %s", name);
	StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);
	SPI_finish();

	/* The old view goes; the new one takes its name. */
	StreamRunDDL(psprintf("DROP TABLE %s", quote_qualified_identifier(schema, name)));
	StreamRunDDL(psprintf("ALTER TABLE %s RENAME TO %s", quote_qualified_identifier(schema, temp_name),
					quote_identifier(name)));
	StreamWakeWorkerAtCommit();
	PG_RETURN_OID(new_oid);
}
