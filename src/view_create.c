/*-------------------------------------------------------------------------
 *
 * view_create.c
 *	  create_continuous_view(): a view's definition from its arguments,
 *	  its tables and its catalog row.
 *
 * ViewArguments reads the arguments with their defaults, ParseViewOptions
 * checks them against each other, AnalyzeContinuousView checks the query
 * (view.c) against them and the caller's privileges, CreateViewTables
 * makes the table the batches write (result_table.c), and InsertViewRow
 * records the view with its part of the batch statement
 * (batch_statement.c), all over one ViewDefinition.
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

PG_FUNCTION_INFO_V1(stream_ext_create_continuous_view);

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
	part = StreamNextPartNumber();
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
	if ((def->allowed_lateness != NULL && StreamIntervalSign(def->allowed_lateness) < 0) ||
		(def->max_future != NULL && StreamIntervalSign(def->max_future) < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative",
						def->max_future != NULL && StreamIntervalSign(def->max_future) < 0 ?
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
		if (StreamIntervalSign(def->sliding) <= 0 || def->sliding->month != 0 ||
			StreamIntervalSign(def->step) <= 0 || def->step->month != 0)
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
		if (StreamIntervalSign(def->session_gap) <= 0 || def->session_gap->month != 0)
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
		if (StreamIntervalSign(def->ttl) < 0)
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
		def->append_oid = StreamLookupOutputTable(def->append_to, &def->append_qualified);
	if (def->output_stream != NULL)
		def->output_oid = StreamLookupOutputTable(def->output_stream, &def->output_qualified);
	if (OidIsValid(get_relname_relid(def->rv->relname, nspid)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", def->result_table),
				 errhint("A continuous view is its result table; choose another name.")));

	shape = def->shape = StreamAnalyzeViewQuery(def->query);
	StreamCheckViewQuery(shape);
	StreamCheckReservedNames(shape);
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
		 (def->allowed_lateness != NULL && StreamIntervalSign(def->allowed_lateness) != 0)))
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
		StreamAddStepKey(shape, def->step);
	if (def->session_gap != NULL)
		StreamAddSessionColumns(shape);
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
						  StreamSlidingSelect(shape, layout, &def->options, def->state_oid)));
	def->result_oid = StreamTableOid(def->result_table);
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
		def->append_oid = StreamAppendTable(def->append_to, def->append_oid, def->append_qualified,
									  def->layout);
		ObjectAddressSet(other_addr, RelationRelationId, def->append_oid);
		recordDependencyOn(&result_addr, &other_addr, DEPENDENCY_NORMAL);
	}

	/* The stream each batch's delta goes to (StreamOutputStream). */
	if (def->output_stream != NULL)
	{
		def->output_oid = StreamOutputStream(def->output_stream, def->output_oid, def->output_qualified,
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
