/*-------------------------------------------------------------------------
 *
 * view.c
 *	  A continuous view's query: what may be in it, and the SQL functions
 *	  that create, replace and define views and transforms.
 *
 * The user's query is analyzed as the user and checked here (keys,
 * aggregates, window, options); result_table.c then lays out and creates
 * the table that holds its groups, and batch_statement.c generates its
 * part of batch statements, stored in the catalog
 * (continuous_view.batch) and put together when a batch runs (apply.c).
 *
 * A transform's part is written here: one INSERT of its query over the
 * batch into its target.
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

static ViewShape *AnalyzeViewQuery(const char *query_string);
static void CheckViewQuery(ViewShape *shape);
static void CheckFromItems(ViewShape *shape);
static uint32 NextPartNumber(void);
static bool IsHop(RangeTblEntry *rte);
static bool JoinTreeHasStream(Node *node, int stream_rti);
static void CheckJoins(Node *node, int stream_rti);
static int	IntervalSign(Interval *interval);
static Oid	LookupOutputTable(const char *name, char **qualified);
static Oid	AppendTable(const char *name, Oid relid, const char *qualified,
						ViewLayout *layout);
static Oid	OutputStream(const char *name, Oid relid, const char *qualified,
						 ViewShape *shape);
static void ResolveCombine(ViewShape *shape);
static void AddSessionColumns(ViewShape *shape);

static void AddStepKey(ViewShape *shape, Interval *step);
static char *SlidingSelect(ViewShape *shape, ViewLayout *layout,
						   ContinuousViewOptions *options, Oid state_oid);
static void CheckNoCycle(Oid output, Oid stream, const char *name);
static Oid	TableOid(const char *qualified_name);
static void CheckReservedNames(ViewShape *shape);
static void CheckTransformQuery(ViewShape *shape);
static List *TransformFragment(ViewShape *shape, const char *cols, uint32 part);
static void CheckTransformTarget(Oid target, const char *target_name, Oid owner);
static void MapReplacement(ViewShape *new_shape, ViewShape *old_shape, int **key_map,
						   int **agg_map);
static char *TargetColumns(ViewShape *shape, Oid target, const char *target_name);

PG_FUNCTION_INFO_V1(stream_ext_view_sql);
PG_FUNCTION_INFO_V1(stream_ext_create_continuous_view);
PG_FUNCTION_INFO_V1(stream_ext_create_transform);
PG_FUNCTION_INFO_V1(stream_ext_replace_continuous_view);

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

	shape = AnalyzeViewQuery(query_string);
	CheckViewQuery(shape);
	CheckReservedNames(shape);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	layout = StreamPlanLayout(shape, &no_options, false);
	layout->table = StreamCreateViewTable(shape, layout, result_table);
	sql = StreamAssembleFragment(StreamViewFragment(shape, &no_options, layout, 1),
								 layout->table, InvalidOid, InvalidOid, InvalidOid, false);
	sql = StreamBatchStatement(shape->stream, shape->columns,
							   list_make1_int(1), list_make1(sql), false, false);

	AtEOXact_GUC(false, save_nestlevel);
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}

/*
 * A continuous view as create_continuous_view makes it: what it was given
 * (defaults filled in by ViewArguments, checked by ParseViewOptions),
 * what analysis makes of its query, and the tables it gets.
 */
typedef struct ViewDefinition
{
	/* As given. */
	char	   *name;
	char	   *query;
	bool		has_batch_size;
	int32		batch_size;
	bool		paused;
	bool		backfill;
	char	   *notify;
	char	   *emit;
	char	   *append_to;
	Interval   *allowed_lateness;
	char	   *late;
	Interval   *max_future;
	char	   *output_stream;
	Interval   *sliding;
	Interval   *step;
	Interval   *ttl;
	Interval   *session_gap;

	/* Made of it. */
	ContinuousViewOptions options;
	ViewShape  *shape;
	ViewLayout *layout;
	bool		emitting;
	RangeVar   *rv;
	char	   *result_table;	/* quoted and qualified */
	Oid			owner;
	char	   *timezone;		/* the settings the query is analyzed under */
	char	   *datestyle;
	char	   *search_path;
	Oid			result_oid;
	Oid			state_oid;
	Oid			append_oid;
	char	   *append_qualified;
	Oid			output_oid;
	char	   *output_qualified;
} ViewDefinition;

static void ViewArguments(FunctionCallInfo fcinfo, ViewDefinition *def);
static void ParseViewOptions(ViewDefinition *def);
static void AnalyzeContinuousView(ViewDefinition *def);
static void CreateViewTables(ViewDefinition *def);
static void RecordViewDependencies(ViewDefinition *def);
static void InsertViewRow(ViewDefinition *def, List *parts, uint32 part);

/*
 * stream_ext_create_continuous_view creates a continuous view: its result
 * table (as the calling user, who owns it and whose privileges the view
 * runs with) or, for a sliding window, its steps' table in schema
 * stream_ext and the view it is read through, and its catalog row, with
 * the current snapshot as progress: events committed from now on count,
 * earlier ones do not (unless backfill).
 */
Datum
stream_ext_create_continuous_view(PG_FUNCTION_ARGS)
{
	ViewDefinition def;
	int			save_nestlevel;
	Oid			save_userid;
	int			save_sec_context;
	int			owner_nestlevel;
	uint32		part;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a continuous view needs a name and a query")));
	ViewArguments(fcinfo, &def);
	ParseViewOptions(&def);
	AnalyzeContinuousView(&def);

	/* Tables and generated SQL name everything from pg_catalog on. */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	CreateViewTables(&def);
	RecordViewDependencies(&def);

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
	part = NextPartNumber();
	InsertViewRow(&def, StreamViewFragment(def.shape, &def.options, def.layout, part), part);
	StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);
	AtEOXact_GUC(false, save_nestlevel);
	StreamWakeWorkerAtCommit();
	PG_RETURN_OID(def.result_oid);
}

/*
 * ViewArguments reads create_continuous_view's arguments into def, with
 * the defaults of the NULL ones.
 */
static void
ViewArguments(FunctionCallInfo fcinfo, ViewDefinition *def)
{
	memset(def, 0, sizeof(*def));
	def->name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	def->query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	def->has_batch_size = !PG_ARGISNULL(2);
	def->batch_size = def->has_batch_size ? PG_GETARG_INT32(2) : 0;
	def->paused = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	def->backfill = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	def->notify = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	def->emit = PG_ARGISNULL(6) ? "changes" : text_to_cstring(PG_GETARG_TEXT_PP(6));
	def->append_to = PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7));
	def->allowed_lateness = PG_ARGISNULL(8) ? NULL : PG_GETARG_INTERVAL_P(8);
	def->late = PG_ARGISNULL(9) ? "update" : text_to_cstring(PG_GETARG_TEXT_PP(9));
	def->max_future = PG_ARGISNULL(10) ? NULL : PG_GETARG_INTERVAL_P(10);
	def->output_stream = PG_ARGISNULL(11) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(11));
	def->sliding = PG_ARGISNULL(12) ? NULL : PG_GETARG_INTERVAL_P(12);
	def->step = PG_ARGISNULL(13) ? NULL : PG_GETARG_INTERVAL_P(13);
	def->ttl = PG_ARGISNULL(14) ? NULL : PG_GETARG_INTERVAL_P(14);
	def->session_gap = PG_ARGISNULL(15) ? NULL : PG_GETARG_INTERVAL_P(15);
	def->owner = GetUserId();
	def->timezone = pstrdup(GetConfigOption("TimeZone", false, false));
	def->datestyle = pstrdup(GetConfigOption("DateStyle", false, false));
	def->search_path = pstrdup(GetConfigOption("search_path", false, false));
}

/*
 * ParseViewOptions checks a view's options against each other and fills
 * in def->options, the form the batch generator reads.
 */
static void
ParseViewOptions(ViewDefinition *def)
{
	ContinuousViewOptions *options = &def->options;

	options->notify = def->notify;
	options->late = 'u';
	options->append_to = def->append_to;
	options->output = def->output_stream != NULL;
	options->max_future = def->max_future != NULL ? StreamIntervalSQL(def->max_future) :
		"'01:00:00'::pg_catalog.interval";
	if (def->has_batch_size && def->batch_size < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be at least 1"),
				 errhint("Leave it NULL to use stream_ext.batch_size.")));
	if (def->notify != NULL && (def->notify[0] == '\0' || strlen(def->notify) >= NAMEDATALEN))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid notification channel \"%s\"", def->notify),
				 errdetail("A channel name is 1 to %d bytes long.", NAMEDATALEN - 1),
				 errhint("Leave notify NULL for no notifications.")));
	if (strcmp(def->emit, "final") == 0)
		options->emit_final = true;
	else if (strcmp(def->emit, "changes") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid emit \"%s\"", def->emit),
				 errhint("Use 'changes' (every changed row) or 'final' (each window once it closes).")));
	if (options->emit_final && def->notify == NULL && def->output_stream == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("emit => 'final' needs notify or output_stream"),
				 errhint("emit says what the notify channel and the output stream get; append_to records closed windows without it.")));
	if (strcmp(def->late, "update") == 0 || strcmp(def->late, "drop") == 0 ||
		strcmp(def->late, "adjust") == 0)
		options->late = def->late[0];
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid late \"%s\"", def->late),
				 errhint("Use 'update', 'drop' or 'adjust'.")));
	if ((def->allowed_lateness != NULL && IntervalSign(def->allowed_lateness) < 0) ||
		(def->max_future != NULL && IntervalSign(def->max_future) < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative",
						def->max_future != NULL && IntervalSign(def->max_future) < 0 ?
						"max_future" : "allowed_lateness")));
	if (def->step != NULL && def->sliding == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step needs sliding"),
				 errhint("step is the grain of a sliding window: give sliding => interval too.")));
	if (def->sliding != NULL)
	{
		if (def->step == NULL)
			def->step = DatumGetIntervalP(DirectFunctionCall2(interval_div,
															  IntervalPGetDatum(def->sliding),
															  Float8GetDatum(60.0)));
		if (IntervalSign(def->sliding) <= 0 || def->sliding->month != 0 ||
			IntervalSign(def->step) <= 0 || def->step->month != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("sliding and step must be positive and free of months and years"),
					 errhint("Write them in days, hours, minutes or seconds, e.g. sliding => '30 days'.")));
		if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(def->step),
											  IntervalPGetDatum(def->sliding))) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("step must not be longer than sliding"),
					 errhint("By default a sliding window is kept in 60 steps.")));
		if (def->notify != NULL || def->append_to != NULL || def->output_stream != NULL ||
			options->emit_final || def->ttl != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a sliding-window view has no %s",
							def->notify != NULL ? "notify" : def->append_to != NULL ? "append_to" :
							def->output_stream != NULL ? "output_stream" :
							def->ttl != NULL ? "ttl" : "emit"),
					 errhint("It is read through a view that combines the steps of the last sliding interval when queried; its steps expire by themselves.")));
		options->sliding = StreamIntervalSQL(def->sliding);
		options->step = StreamIntervalSQL(def->step);
	}
	if (def->session_gap != NULL)
	{
		if (IntervalSign(def->session_gap) <= 0 || def->session_gap->month != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("session_gap must be positive and free of months and years"),
					 errhint("Write it in days, hours, minutes or seconds, e.g. session_gap => '30 minutes'.")));
		if (def->sliding != NULL || def->output_stream != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a view with session windows has no %s",
							def->sliding != NULL ? "sliding window" : "output_stream"),
					 errhint("Its sessions are rows of its result table, merged as events come.")));
		options->session_gap = StreamIntervalSQL(def->session_gap);
	}
	if (def->ttl != NULL)
	{
		if (IntervalSign(def->ttl) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ttl must not be negative")));
		options->ttl = StreamIntervalSQL(def->ttl);
	}
}

/*
 * AnalyzeContinuousView resolves the view's name and the tables it writes
 * besides its own (by the caller's search_path), analyzes its query and
 * checks the query against the options and the caller's privileges.
 */
static void
AnalyzeContinuousView(ViewDefinition *def)
{
	ContinuousViewOptions *options = &def->options;
	Oid			nspid;
	ViewShape  *shape;
	AclResult	aclresult;
	ListCell   *lc;

	def->rv = makeRangeVarFromNameList(stringToQualifiedNameList(def->name));
	nspid = RangeVarGetCreationNamespace(def->rv);
	def->result_table = quote_qualified_identifier(get_namespace_name(nspid), def->rv->relname);
	if (def->append_to != NULL)
		def->append_oid = LookupOutputTable(def->append_to, &def->append_qualified);
	if (def->output_stream != NULL)
		def->output_oid = LookupOutputTable(def->output_stream, &def->output_qualified);
	if (OidIsValid(get_relname_relid(def->rv->relname, nspid)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", def->result_table),
				 errhint("A continuous view is its result table; choose another name.")));

	shape = def->shape = AnalyzeViewQuery(def->query);
	CheckViewQuery(shape);
	CheckReservedNames(shape);
	shape->window = StreamFindWindow(shape->query, shape->stream_rti, shape->stream, shape->keys);
	def->emitting = shape->window != NULL && (options->emit_final || def->append_to != NULL);
	if (def->session_gap != NULL && shape->window != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a view with session windows cannot also group by a tumbling or hopping window"),
				 errhint("Group by the keys that sessions are per, e.g. GROUP BY user_id.")));
	if (def->sliding != NULL && shape->window != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a sliding-window view cannot also group by a tumbling or hopping window"),
				 errhint("Group by the other keys only: sliding keeps the last sliding interval per group.")));
	if (shape->window == NULL &&
		(options->emit_final || def->append_to != NULL || options->late != 'u' || def->ttl != NULL ||
		 (def->allowed_lateness != NULL && IntervalSign(def->allowed_lateness) != 0)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s needs an event-time window",
						options->emit_final ? "emit => 'final'" : def->append_to != NULL ? "append_to" :
						options->late != 'u' ? "late" : def->ttl != NULL ? "ttl" : "allowed_lateness"),
				 errhint("Group by stream_ext.tumble() of the stream's event_time column, or by window_start or window_end of stream_ext.hop() over it, with constant sizes.")));
	/* Window sizes that no batch could use are refused now, not by a batch. */
	if (shape->window != NULL)
	{
		StreamWindow *w = shape->window;

		SPI_connect();
		if (SPI_execute(w->hop ?
						psprintf("SELECT * FROM stream_ext.hop(pg_catalog.now(), %s, %s, %s)",
								 w->size, w->slide, w->origin) :
						psprintf("SELECT stream_ext.tumble(pg_catalog.now()::%s, %s, %s)",
								 format_type_be(w->ts_type), w->size, w->origin),
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not check the window of %s", def->result_table);
		SPI_finish();
	}
	if (options->late == 'a' && shape->window->hop)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("late => 'adjust' works with tumbling windows only"),
				 errhint("With hop(), use 'update' or 'drop'.")));
	if (def->emitting)
	{
		foreach(lc, shape->query->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			if (!tle->resjunk && strcmp(tle->resname, "revision") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("output column \"revision\" is reserved for closed windows"),
						 errhint("Closed windows carry their revision in a column of that name; rename yours with AS.")));
		}
	}

	/* The creator, who owns the view, must be able to run its query. */
	aclresult = pg_class_aclcheck(shape->stream, def->owner, ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(shape->stream));
	(void) ExecCheckRTPerms(shape->query->rtable, true);
	/* Its progress would mix two clusters' transaction ids (restore.c). */
	StreamCheckStreamRestored(shape->stream);
}

/*
 * CreateViewTables creates the table the view's batches write: its result
 * table, or a sliding window's steps in schema stream_ext with the view
 * over them; and plans where its states live.
 */
static void
CreateViewTables(ViewDefinition *def)
{
	ViewShape  *shape = def->shape;
	ViewLayout *layout;
	char		state_name[NAMEDATALEN];
	char	   *state_table;
	Oid			save_userid;
	int			save_sec_context;
	int			owner_nestlevel;
	ObjectAddress state_addr;
	ObjectAddress result_addr;

	if (def->sliding != NULL)
		AddStepKey(shape, def->step);
	if (def->session_gap != NULL)
		AddSessionColumns(shape);
	layout = def->layout = StreamPlanLayout(shape, &def->options, def->emitting);
	if (def->sliding == NULL)
	{
		def->result_oid = StreamCreateViewTable(shape, layout, def->result_table);
		layout->table = def->result_oid;
		def->state_oid = InvalidOid;

		/*
		 * Only the worker's batches write it (guard.c); the trigger is
		 * created as the extension's owner, as users cannot execute its
		 * function.
		 */
		StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
		StreamRunDDL(psprintf("CREATE TRIGGER stream_ext_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE"
							  " ON %s FOR EACH STATEMENT EXECUTE FUNCTION stream_ext._guard_result('result')",
							  def->result_table));
		StreamRunDDL(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER stream_ext_guard", def->result_table));
		StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);
		if (def->ttl != NULL)
			StreamRunDDL(psprintf("CREATE INDEX ON %s (%s)", def->result_table,
								  quote_identifier(list_nth(layout->keys, shape->window->key - 1))));
		return;
	}

	/*
	 * A sliding-window view keeps the states of its steps in a table in
	 * stream_ext, owned by the view's owner, and is read through a view over
	 * it that combines the steps of the last sliding interval; the table is
	 * then named after that view.
	 */
	snprintf(state_name, sizeof(state_name), "%.*s_0_state",
			 pg_mbcliplen(def->rv->relname, strlen(def->rv->relname), 40), def->rv->relname);
	state_table = quote_qualified_identifier("stream_ext", state_name);
	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
	def->state_oid = StreamCreateViewTable(shape, layout, state_table);
	layout->table = def->state_oid;
	StreamRunDDL(psprintf("CREATE TRIGGER stream_ext_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE"
						  " ON %s FOR EACH STATEMENT EXECUTE FUNCTION stream_ext._guard_result('state')",
						  state_table));
	StreamRunDDL(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER stream_ext_guard", state_table));
	StreamRunDDL(psprintf("ALTER TABLE %s OWNER TO %s", state_table,
						  quote_identifier(GetUserNameFromId(def->owner, false))));
	StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);
	StreamRunDDL(psprintf("CREATE VIEW %s AS %s", def->result_table,
						  SlidingSelect(shape, layout, &def->options, def->state_oid)));
	def->result_oid = TableOid(def->result_table);
	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
	snprintf(state_name, sizeof(state_name), "%.*s_%u_state",
			 pg_mbcliplen(def->rv->relname, strlen(def->rv->relname), 40), def->rv->relname,
			 def->result_oid);
	StreamRunDDL(psprintf("ALTER TABLE %s RENAME TO %s", state_table, quote_identifier(state_name)));
	StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);

	/* Dropping the read view drops the steps with it. */
	ObjectAddressSet(state_addr, RelationRelationId, def->state_oid);
	ObjectAddressSet(result_addr, RelationRelationId, def->result_oid);
	recordDependencyOn(&state_addr, &result_addr, DEPENDENCY_AUTO);
}

/*
 * RecordViewDependencies makes the tables the view reads and writes
 * besides its own unable to go from under it (but with CASCADE): its
 * lookup tables, the table of its closed windows (made if missing, as the
 * caller) and its output stream (the same).
 */
static void
RecordViewDependencies(ViewDefinition *def)
{
	ObjectAddress result_addr;
	ObjectAddress other_addr;
	ListCell   *lc;

	ObjectAddressSet(result_addr, RelationRelationId, def->result_oid);
	foreach(lc, def->shape->lookups)
	{
		ObjectAddressSet(other_addr, RelationRelationId, lfirst_oid(lc));
		recordDependencyOn(&result_addr, &other_addr, DEPENDENCY_NORMAL);
	}

	/*
	 * The table of closed windows: made with the view's columns, the
	 * revision and when it was appended, unless it exists; then it must be
	 * a table with those columns that the owner may insert into.
	 */
	if (def->append_to != NULL)
	{
		def->append_oid = AppendTable(def->append_to, def->append_oid, def->append_qualified,
									  def->layout);
		ObjectAddressSet(other_addr, RelationRelationId, def->append_oid);
		recordDependencyOn(&result_addr, &other_addr, DEPENDENCY_NORMAL);
	}

	/* The stream each batch's delta goes to (OutputStream). */
	if (def->output_stream != NULL)
	{
		def->output_oid = OutputStream(def->output_stream, def->output_oid, def->output_qualified,
									   def->shape);
		ObjectAddressSet(other_addr, RelationRelationId, def->output_oid);
		recordDependencyOn(&result_addr, &other_addr, DEPENDENCY_NORMAL);
	}
}

/*
 * InsertViewRow records the view in the catalog, with its part of the
 * batch statement and the settings its query was analyzed under; run as
 * the extension's owner.
 */
static void
InsertViewRow(ViewDefinition *def, List *parts, uint32 part)
{
	ViewShape  *shape = def->shape;
	Oid			argtypes[26] = {OIDOID, OIDOID, TEXTOID, OIDOID, TEXTARRAYOID,
		OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID, TEXTOID, BOOLOID, TEXTOID,
		TEXTOID, OIDOID, INTERVALOID, TEXTOID, INTERVALOID, BOOLOID, OIDOID,
	INTERVALOID, INTERVALOID, INTERVALOID, INTERVALOID, INT4OID};
	Datum		values[26];
	char		nulls[26];
	ListCell   *lc;
	Datum	   *columns = palloc0(sizeof(Datum) * (list_length(shape->columns) + 1));
	Datum	   *elems = palloc(sizeof(Datum) * list_length(parts));
	int			ncolumns = 0;

#define OPTIONAL(i, cond, datum) \
	(nulls[i] = (cond) ? ' ' : 'n', values[i] = (cond) ? (datum) : (Datum) 0)

	foreach(lc, shape->columns)
		columns[ncolumns++] = CStringGetTextDatum(lfirst(lc));
	foreach(lc, parts)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(lfirst(lc));
	memset(nulls, ' ', sizeof(nulls));
	values[0] = ObjectIdGetDatum(def->result_oid);
	values[1] = ObjectIdGetDatum(shape->stream);
	values[2] = CStringGetTextDatum(def->query);
	OPTIONAL(3, OidIsValid(def->state_oid), ObjectIdGetDatum(def->state_oid));
	values[4] = PointerGetDatum(construct_array(elems, list_length(parts), TEXTOID,
												-1, false, TYPALIGN_INT));
	values[5] = ObjectIdGetDatum(def->owner);
	values[6] = CStringGetTextDatum(def->timezone);
	values[7] = CStringGetTextDatum(def->datestyle);
	values[8] = CStringGetTextDatum(def->search_path);
	values[9] = PointerGetDatum(construct_array(columns, ncolumns, TEXTOID, -1, false, TYPALIGN_INT));
	OPTIONAL(10, def->has_batch_size, Int32GetDatum(def->batch_size));
	values[11] = CStringGetTextDatum(def->paused ? "paused" : "active");
	values[12] = BoolGetDatum(def->backfill);
	OPTIONAL(13, def->notify != NULL, CStringGetTextDatum(def->notify));
	values[14] = CStringGetTextDatum(def->emit);
	OPTIONAL(15, OidIsValid(def->append_oid), ObjectIdGetDatum(def->append_oid));
	OPTIONAL(16, def->allowed_lateness != NULL, IntervalPGetDatum(def->allowed_lateness));
	values[17] = CStringGetTextDatum(def->late);
	OPTIONAL(18, def->max_future != NULL, IntervalPGetDatum(def->max_future));
	values[19] = BoolGetDatum(shape->window != NULL);
	OPTIONAL(20, OidIsValid(def->output_oid), ObjectIdGetDatum(def->output_oid));
	OPTIONAL(21, def->sliding != NULL, IntervalPGetDatum(def->sliding));
	OPTIONAL(22, def->sliding != NULL, IntervalPGetDatum(def->step));
	OPTIONAL(23, def->ttl != NULL, IntervalPGetDatum(def->ttl));
	OPTIONAL(24, def->session_gap != NULL, IntervalPGetDatum(def->session_gap));
	values[25] = Int32GetDatum((int32) part);
#undef OPTIONAL
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO stream_ext.continuous_view"
							  " (result, stream, query, state_table, batch, owner,"
							  "  timezone, datestyle, search_path, columns, batch_size,"
							  "  state, progress, notify, emit, append_to,"
							  "  allowed_lateness, late, max_future, watermarked, output_stream,"
							  "  sliding, step, ttl, session_gap, part)"
							  " VALUES ($1::pg_catalog.oid, $2::pg_catalog.oid, $3,"
							  "  $4::pg_catalog.oid, $5, $6::pg_catalog.oid, $7, $8, $9,"
							  "  $10, $11, $12,"
							  "  CASE WHEN $13 THEN '3:3:'::pg_catalog.pg_snapshot"
							  "       ELSE pg_catalog.pg_current_snapshot() END, $14, $15,"
							  "  $16::pg_catalog.oid, COALESCE($17, '0'::pg_catalog.interval), $18,"
							  "  COALESCE($19, '1 hour'::pg_catalog.interval), $20,"
							  "  $21::pg_catalog.oid, $22, $23, $24, $25, $26)",
							  26, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not register continuous view %s", def->result_table);
	SPI_finish();
}

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
	if (SPI_execute_with_args("SELECT query, search_path,"
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

	/* Both queries analyzed; the old one as it was created. */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", old_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	old_shape = AnalyzeViewQuery(old_query);
	CheckViewQuery(old_shape);
	AtEOXact_GUC(false, save_nestlevel);
	new_shape = AnalyzeViewQuery(new_query);
	CheckViewQuery(new_shape);

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
									   " c.max_future, NULL, NULL, NULL, c.ttl, NULL)"
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
 * StreamRedefineView analyzes a stored view's query again, with the
 * options it was created with (checked then), as create_continuous_view
 * does, and returns its shape; *emitting: whether the view emits closed
 * windows.  step: the step of its sliding window, or NULL; session: it has
 * session windows.  For the update from 0.1.0 (upgrade.c), which runs it
 * as the view's owner with the view's search_path, time zone and date
 * style.
 */
ViewShape *
StreamRedefineView(const char *query_string, ContinuousViewOptions *options, Interval *step,
				   bool session, bool *emitting)
{
	ViewShape  *shape = AnalyzeViewQuery(query_string);
	int			save_nestlevel;

	CheckViewQuery(shape);
	shape->window = StreamFindWindow(shape->query, shape->stream_rti, shape->stream, shape->keys);
	*emitting = shape->window != NULL && (options->emit_final || options->append_to != NULL);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (step != NULL)
		AddStepKey(shape, step);
	if (session)
		AddSessionColumns(shape);
	AtEOXact_GUC(false, save_nestlevel);
	return shape;
}

/*
 * StreamSlidingSelect is the query of the view a sliding window is read
 * through, over its steps' table.
 */
char *
StreamSlidingSelect(ViewShape *shape, ViewLayout *layout, ContinuousViewOptions *options,
					Oid steps)
{
	return SlidingSelect(shape, layout, options, steps);
}

/*
 * StreamTransformFragment analyzes a stored transform's query again and
 * returns its part of a batch statement (for the update from 0.1.0).
 */
List *
StreamTransformFragment(const char *query_string, uint32 part)
{
	ViewShape  *shape = AnalyzeViewQuery(query_string);
	StringInfoData cols;
	ListCell   *lc;
	int			save_nestlevel;
	List	   *parts;

	CheckTransformQuery(shape);
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
	AtEOXact_GUC(false, save_nestlevel);
	return parts;
}

/*
 * CheckTransformQuery refuses what a transform cannot do: its rows must
 * come from each event on its own (and its lookup rows), so that applying
 * the events batch by batch gives the rows of the query over all of them.
 */
static void
CheckTransformQuery(ViewShape *shape)
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
	ListCell   *lc;
	char	   *cols;
	List	   *parts = NIL;
	uint32		part;
	char	   *definition;
	Oid			view_oid;
	ObjectAddress view_addr;
	ObjectAddress target_addr;
	int			save_nestlevel;

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

	shape = AnalyzeViewQuery(query_string);
	CheckTransformQuery(shape);
	aclresult = pg_class_aclcheck(shape->stream, owner, ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(shape->stream));
	(void) ExecCheckRTPerms(shape->query->rtable, true);
	/* Its progress would mix two clusters' transaction ids (restore.c). */
	StreamCheckStreamRestored(shape->stream);

	/* Rows go into the target's columns of the same names. */
	cols = TargetColumns(shape, target, target_name);
	if (RelationIsStream(target))
		CheckNoCycle(target, shape->stream, target_name);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	definition = pg_get_querydef(copyObject(shape->query), false);
	StreamRunDDL(psprintf("CREATE VIEW %s AS %s", qualified, definition));
	view_oid = TableOid(qualified);

	/* The target cannot be dropped from under it (but CASCADE). */
	ObjectAddressSet(view_addr, RelationRelationId, view_oid);
	ObjectAddressSet(target_addr, RelationRelationId, target);
	recordDependencyOn(&view_addr, &target_addr, DEPENDENCY_NORMAL);

	part = NextPartNumber();
	parts = TransformFragment(shape, cols, part);

	{
		Oid			argtypes[14] = {OIDOID, OIDOID, TEXTOID, TEXTARRAYOID, OIDOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID, TEXTOID, BOOLOID, OIDOID, INT4OID};
		Datum		values[14];
		char		nulls[14];
		Datum	   *elems = palloc(sizeof(Datum) * list_length(parts));
		Datum	   *columns = palloc0(sizeof(Datum) * (list_length(shape->columns) + 1));
		int			ncolumns = 0;
		Oid			save_userid;
		int			save_sec_context;
		int			owner_nestlevel;

		foreach(lc, parts)
			elems[foreach_current_index(lc)] = CStringGetTextDatum(lfirst(lc));
		foreach(lc, shape->columns)
			columns[ncolumns++] = CStringGetTextDatum(lfirst(lc));
		memset(nulls, ' ', sizeof(nulls));
		values[0] = ObjectIdGetDatum(view_oid);
		values[1] = ObjectIdGetDatum(shape->stream);
		values[2] = CStringGetTextDatum(query_string);
		values[3] = PointerGetDatum(construct_array(elems, list_length(parts), TEXTOID,
													-1, false, TYPALIGN_INT));
		values[4] = ObjectIdGetDatum(owner);
		values[5] = CStringGetTextDatum(GetConfigOption("TimeZone", false, false));
		values[6] = CStringGetTextDatum(GetConfigOption("DateStyle", false, false));
		AtEOXact_GUC(false, save_nestlevel);
		values[7] = CStringGetTextDatum(GetConfigOption("search_path", false, false));
		values[8] = PointerGetDatum(construct_array(columns, ncolumns, TEXTOID, -1, false, TYPALIGN_INT));
		values[9] = Int32GetDatum(batch_size);
		nulls[9] = has_batch_size ? ' ' : 'n';
		values[10] = CStringGetTextDatum(paused ? "paused" : "active");
		values[11] = BoolGetDatum(backfill);
		values[12] = ObjectIdGetDatum(target);
		values[13] = Int32GetDatum((int32) part);
		StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
		SPI_connect();
		if (SPI_execute_with_args("INSERT INTO stream_ext.continuous_view"
								  " (result, kind, stream, query, batch, owner, timezone, datestyle,"
								  "  search_path, columns, batch_size, state, progress, target, part)"
								  " VALUES ($1::pg_catalog.oid, 'transform', $2::pg_catalog.oid, $3, $4,"
								  "  $5::pg_catalog.oid, $6, $7, $8, $9, $10, $11,"
								  "  CASE WHEN $12 THEN '3:3:'::pg_catalog.pg_snapshot"
								  "       ELSE pg_catalog.pg_current_snapshot() END, $13::pg_catalog.oid, $14)",
								  14, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not register transform %s", qualified);
		SPI_finish();
		StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);
	}

	StreamWakeWorkerAtCommit();
	PG_RETURN_OID(view_oid);
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
 * AddStepKey adds the step of a sliding window as the last grouping key:
 * date_bin(step, event time, '2000-01-01'), not an output column.
 */
static void
AddStepKey(ViewShape *shape, Interval *step)
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
 * AddSessionColumns adds to a view with session windows its last grouping
 * key, session_start (each event's time; a session's start once merged),
 * and the aggregate session_end, max(event time), both output columns.
 */
static void
AddSessionColumns(ViewShape *shape)
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
 * SlidingSelect returns the query of a sliding-window view's read view:
 * the states of the steps that end within the last sliding interval,
 * combined per group and finalized.
 */
static char *
SlidingSelect(ViewShape *shape, ViewLayout *layout, ContinuousViewOptions *options,
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
 * LookupOutputTable resolves the name of a table a view writes to under
 * the caller's search_path: its OID, or InvalidOid with *qualified set to
 * the quoted name to create it under.
 */
static Oid
LookupOutputTable(const char *name, char **qualified)
{
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));
	Oid			relid = RangeVarGetRelid(rv, AccessShareLock, true);

	if (!OidIsValid(relid))
		*qualified = quote_qualified_identifier(get_namespace_name(RangeVarGetCreationNamespace(rv)),
												rv->relname);
	return relid;
}

/*
 * IntervalSign returns -1, 0 or 1 as an interval is negative, zero or
 * positive.
 */
static int
IntervalSign(Interval *interval)
{
	Interval	zero = {0, 0, 0};

	return DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(interval),
											 IntervalPGetDatum(&zero)));
}

/*
 * AppendTable returns the table closed windows are appended to, creating
 * it with the view's columns (their types, collations and NOT NULL), the
 * revision and when it was appended, as the current user, when it does
 * not exist.
 */
static Oid
AppendTable(const char *name, Oid relid, const char *qualified, ViewLayout *layout)
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
		return TableOid(qualified);
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
 * OutputStream returns the stream a view writes its batches' deltas into:
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
static Oid
OutputStream(const char *name, Oid relid, const char *qualified, ViewShape *shape)
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
		relid = TableOid(qualified);
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
		relid = TableOid(qualified);
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
	CheckNoCycle(relid, shape->stream, name);
	return relid;
}

/*
 * CheckNoCycle refuses to write into output, a stream, from a view or
 * transform of stream when stream is downstream of output: fed by views
 * and transforms of output, of their outputs, and so on.
 */
static void
CheckNoCycle(Oid output, Oid stream, const char *name)
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
 * NextPartNumber numbers a new view's part of batch statements
 * (stream_ext.view_part, a sequence of the catalog).
 */
static uint32
NextPartNumber(void)
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
 * TableOid returns the OID of a table given by its qualified name.
 */
static Oid
TableOid(const char *qualified_name)
{
	return RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(qualified_name)),
							NoLock, false);
}

/*
 * AnalyzeViewQuery parses and analyzes the query as the current user.
 */
static ViewShape *
AnalyzeViewQuery(const char *query_string)
{
	List	   *raw = pg_parse_query(query_string);
	RawStmt    *rawstmt;
	ViewShape  *shape = palloc0(sizeof(ViewShape));

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
	return shape;
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
 * CheckViewQuery refuses what cannot be maintained incrementally and
 * fills in the stream, the grouping keys and the aggregates.
 */
static void
CheckViewQuery(ViewShape *shape)
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
 * CheckReservedNames refuses output columns named like the columns
 * stream_ext adds to a view's table.
 */
static void
CheckReservedNames(ViewShape *shape)
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
