/*-------------------------------------------------------------------------
 *
 * view_definition.c
 *	  A continuous view's definition as the catalog keeps it, and the part
 *	  of the batch statement generated from it.
 *
 * The catalog keeps what a view is, not SQL generated for it: its query,
 * resolved (analyzed, then deparsed with every name qualified, as
 * pg_get_viewdef shows a view), its options and the settings its query
 * was analyzed under.  The worker generates a view's part of the batch
 * statement from that definition the first time it applies a batch to the
 * view, and again whenever the definition changes (StreamCachedViewPart):
 * a library with a better generator changes every view's batches when it
 * is loaded, a dump restored into another cluster is generated there.
 *
 * The resolved query names tables, columns and functions, so it must
 * follow their renames as a view's definition does: around RENAME and SET
 * SCHEMA (utility.c), each view's query is analyzed before the command
 * (so that it holds OIDs) and deparsed again after it
 * (StreamDefinitionsBeforeDDL, StreamDefinitionsAfterDDL).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "batch_statement.h"

/* A view's generated part of the batch statement, kept by the worker. */
typedef struct CachedPart
{
	Oid			view;			/* hash key: its result table */
	char	   *key;			/* the definition it was generated from */
	List	   *parts;
	List	   *columns;
	MemoryContext context;
} CachedPart;

static HTAB *cached_parts = NULL;

/* A view's query analyzed before a RENAME or SET SCHEMA. */
typedef struct AnalyzedDefinition
{
	StoredView *view;
	Query	   *query;
} AnalyzedDefinition;

/* Who and what ran before AsViewOwner. */
typedef struct SavedUser
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;
} SavedUser;

static char *DefinitionKey(StoredView *v);
static int	DefinitionSettings(StoredView *v);
static void AsViewOwner(StoredView *v, SavedUser *saved);
static void RestoreUser(SavedUser *saved);
static Query *AnalyzeSelect(const char *query_string);
static char *DeparseQuery(Query *query);
static bool HasGeneratedColumns(Oid relid);
static char *TextAt(HeapTuple row, TupleDesc desc, int n);
static Query *AnalyzeQuietly(StoredView *v, MemoryContext cxt);
static bool IsViewTable(Oid relid);

/*
 * StreamResolveQuery returns the view query, analyzed under the current
 * settings and deparsed with every name qualified: the definition the
 * catalog keeps.
 */
char *
StreamResolveQuery(const char *query_string)
{
	return DeparseQuery(AnalyzeSelect(query_string));
}

/*
 * StreamStoredViewResolve resolves a stored view's query as its owner
 * under its settings (the update from 0.1.0, which kept the query only).
 */
char *
StreamStoredViewResolve(StoredView *v)
{
	SavedUser	saved;
	char	   *resolved;

	AsViewOwner(v, &saved);
	resolved = StreamResolveQuery(v->definition);
	RestoreUser(&saved);
	return resolved;
}

/*
 * StreamReadStoredView reads a view's definition from a catalog row that
 * has the columns of STORED_VIEW_COLUMNS from column first on, into the
 * current memory context.
 */
StoredView *
StreamReadStoredView(HeapTuple row, TupleDesc desc, int first)
{
	StoredView *v = palloc0(sizeof(StoredView));
	bool		isnull;
	Datum		d;
	int			n = first;

#define NEXT_TEXT() (TextAt(row, desc, n++))
#define NEXT_BINARY() (SPI_getbinval(row, desc, n++, &isnull))
#define NEXT_INTERVAL() (d = NEXT_BINARY(), \
						 isnull ? NULL : (Interval *) datumCopy(d, false, sizeof(Interval)))
	v->result = DatumGetObjectId(NEXT_BINARY());
	v->transform = DatumGetBool(NEXT_BINARY());
	v->definition = NEXT_TEXT();
	v->search_path = NEXT_TEXT();
	v->timezone = NEXT_TEXT();
	v->datestyle = NEXT_TEXT();
	v->owner = DatumGetObjectId(NEXT_BINARY());
	d = NEXT_BINARY();
	v->state_table = isnull ? InvalidOid : DatumGetObjectId(d);
	v->notify = NEXT_TEXT();
	v->emit_final = DatumGetBool(NEXT_BINARY());
	v->late = *NEXT_TEXT();
	v->append = DatumGetBool(NEXT_BINARY());
	v->output = DatumGetBool(NEXT_BINARY());
	v->sliding = NEXT_INTERVAL();
	v->step = NEXT_INTERVAL();
	v->ttl = NEXT_INTERVAL();
	v->session_gap = NEXT_INTERVAL();
	v->max_future = NEXT_INTERVAL();
	v->part = (uint32) DatumGetInt32(NEXT_BINARY());
#undef NEXT_TEXT
#undef NEXT_BINARY
#undef NEXT_INTERVAL
	return v;
}

/*
 * TextAt returns column n of an SPI row as text, or NULL.
 */
static char *
TextAt(HeapTuple row, TupleDesc desc, int n)
{
	char	   *value = SPI_getvalue(row, desc, n);

	return value ? pstrdup(value) : NULL;
}

/*
 * StreamStoredViewOptions fills in the options the batch generator reads
 * from a stored view's (checked when it was created).
 */
void
StreamStoredViewOptions(StoredView *v, ContinuousViewOptions *options)
{
	memset(options, 0, sizeof(*options));
	options->notify = v->notify;
	options->emit_final = v->emit_final;
	options->late = v->late;
	options->append_to = v->append ? "append" : NULL;
	options->output = v->output;
	options->sliding = v->sliding ? StreamIntervalSQL(v->sliding) : NULL;
	options->step = v->sliding ? StreamIntervalSQL(v->step) : NULL;
	options->ttl = v->ttl ? StreamIntervalSQL(v->ttl) : NULL;
	options->session_gap = v->session_gap ? StreamIntervalSQL(v->session_gap) : NULL;
	options->max_future = v->max_future ? StreamIntervalSQL(v->max_future) :
		"'01:00:00'::pg_catalog.interval";
}

/*
 * StreamStoredViewShape analyzes a stored view's query as its owner under
 * its settings, as create_continuous_view did, and returns its shape;
 * options: filled in (StreamStoredViewOptions); *emitting: the view emits
 * closed windows.
 */
ViewShape *
StreamStoredViewShape(StoredView *v, ContinuousViewOptions *options, bool *emitting)
{
	SavedUser	saved;
	ViewShape  *shape;

	StreamStoredViewOptions(v, options);
	AsViewOwner(v, &saved);
	shape = StreamRedefineView(v->definition, options, v->sliding ? v->step : NULL,
							   v->session_gap != NULL, emitting);
	RestoreUser(&saved);
	return shape;
}

/*
 * StreamStoredViewPart generates a stored view's (or transform's) part of
 * the batch statement; *columns: the stream columns it reads.
 */
List *
StreamStoredViewPart(StoredView *v, List **columns)
{
	ContinuousViewOptions options;
	ViewShape  *shape;
	ViewLayout *layout;
	bool		emitting;
	int			save_nestlevel;
	List	   *parts;

	if (v->transform)
	{
		SavedUser	saved;

		AsViewOwner(v, &saved);
		parts = StreamTransformFragment(v->definition, v->part, columns);
		RestoreUser(&saved);
		return parts;
	}

	shape = StreamStoredViewShape(v, &options, &emitting);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	layout = StreamPlanLayout(shape, &options, emitting);
	layout->table = layout->steps ? v->state_table : v->result;

	/*
	 * Final values that PostgreSQL computes itself are generated columns of
	 * the table; a table updated from 0.1.0 has them as ordinary columns,
	 * which the batches write.
	 */
	if (layout->generated && !HasGeneratedColumns(layout->table))
		StreamLayoutWithoutGenerated(layout);
	parts = StreamViewFragment(shape, &options, layout, v->part);
	*columns = shape->columns;	/* known once the part is generated */
	AtEOXact_GUC(false, save_nestlevel);
	return parts;
}

/*
 * StreamCachedViewPart returns a stored view's part of the batch
 * statement as generated the last time from the same definition, and
 * generates it when there is none (the first batch of the view in this
 * process, or a definition changed since: replaced, renamed, updated).
 * The lists live as long as the cache entry: until the definition
 * changes.
 */
List *
StreamCachedViewPart(StoredView *v, List **columns)
{
	char	   *key = DefinitionKey(v);
	CachedPart *entry;
	bool		found;
	List	   *parts;
	List	   *read;
	ListCell   *lc;
	MemoryContext old;

	if (cached_parts == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CachedPart);
		cached_parts = hash_create("stream_ext view parts", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	entry = hash_search(cached_parts, &v->result, HASH_ENTER, &found);
	if (found && strcmp(entry->key, key) == 0)
	{
		*columns = entry->columns;
		return entry->parts;
	}
	if (found)
		MemoryContextDelete(entry->context);
	entry->context = NULL;
	entry->key = NULL;

	/* A failure leaves no entry: the next batch generates it again. */
	PG_TRY();
	{
		parts = StreamStoredViewPart(v, &read);
	}
	PG_CATCH();
	{
		hash_search(cached_parts, &v->result, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();

	entry->context = AllocSetContextCreate(TopMemoryContext, "stream_ext view part",
										   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(entry->context);
	entry->key = pstrdup(key);
	entry->parts = NIL;
	entry->columns = NIL;
	foreach(lc, parts)
		entry->parts = lappend(entry->parts, pstrdup(lfirst(lc)));
	foreach(lc, read)
		entry->columns = lappend(entry->columns, pstrdup(lfirst(lc)));
	MemoryContextSwitchTo(old);
	*columns = entry->columns;
	return entry->parts;
}

/*
 * DefinitionKey is everything a view's part of the batch statement is
 * generated from, as one string.
 */
static char *
DefinitionKey(StoredView *v)
{
	ContinuousViewOptions o;

	StreamStoredViewOptions(v, &o);
	return psprintf("%d|%u|%u|%u|%s|%s|%s|%s|%d|%c|%d|%d|%s|%s|%s|%s|%s|%s",
					v->transform, v->owner, v->state_table, v->part, v->search_path,
					v->timezone, v->datestyle, o.notify ? o.notify : "", o.emit_final, o.late,
					o.append_to != NULL, o.output, o.sliding ? o.sliding : "",
					o.step ? o.step : "", o.ttl ? o.ttl : "",
					o.session_gap ? o.session_gap : "", o.max_future, v->definition);
}

/*
 * DefinitionSettings sets what a view's query is analyzed and deparsed
 * under: its search_path, time zone and date style, and the interval style
 * and float precision under which constants read back as they were; undone
 * by AtEOXact_GUC of the level it returns.
 */
static int
DefinitionSettings(StoredView *v)
{
	int			save_nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", v->search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("TimeZone", v->timezone, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("DateStyle", v->datestyle, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return save_nestlevel;
}

/*
 * AsViewOwner becomes the view's owner under the view's settings
 * (DefinitionSettings), saving what RestoreUser undoes.
 */
static void
AsViewOwner(StoredView *v, SavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(v->owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
	saved->nestlevel = DefinitionSettings(v);
}

/*
 * RestoreUser undoes AsViewOwner.
 */
static void
RestoreUser(SavedUser *saved)
{
	AtEOXact_GUC(false, saved->nestlevel);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * AnalyzeSelect parses and analyzes one SELECT.
 */
static Query *
AnalyzeSelect(const char *query_string)
{
	List	   *raw = pg_parse_query(query_string);

	if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("a continuous view's query must be one SELECT")));
	return parse_analyze_fixedparams(linitial_node(RawStmt, raw), query_string, NULL, 0, NULL);
}

/*
 * DeparseQuery deparses an analyzed query with every name qualified and
 * every constant in a form that reads back the same.
 */
static char *
DeparseQuery(Query *query)
{
	int			save_nestlevel = NewGUCNestLevel();
	char	   *sql;

	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	sql = pg_get_querydef(copyObject(query), false);
	AtEOXact_GUC(false, save_nestlevel);
	return sql;
}

/*
 * HasGeneratedColumns tells whether a table has a generated column.
 */
static bool
HasGeneratedColumns(Oid relid)
{
	Relation	rel = RelationIdGetRelation(relid);
	bool		generated;

	if (!RelationIsValid(rel))
		elog(ERROR, "could not open relation with OID %u", relid);
	generated = rel->rd_att->constr != NULL && rel->rd_att->constr->has_generated_stored;
	RelationClose(rel);
	return generated;
}

/*
 * StreamDefinitionsBeforeDDL is called before a command (parsetree) that
 * renames or moves objects a view's query may name: it analyzes each
 * view's query, so that it holds the objects by OID.  A view whose query
 * does not analyze (its owner lost a privilege, say) is left as it is.
 *
 * The views' catalog rows are locked in the order a batch takes its
 * locks, which is: the views' tables, their catalog rows, then the
 * streams and lookup tables they read.  So the rows are locked here,
 * before the command locks what it renames (a batch in flight finishes
 * first), unless that is a view's own table: then after it
 * (StreamDefinitionsAfterDDL).
 */
List *
StreamDefinitionsBeforeDDL(Node *parsetree)
{
	RangeVar   *relation = NULL;
	bool		rows_after;
	List	   *analyzed = NIL;
	Oid			save_userid;
	int			save_sec_context;
	int			owner_nestlevel;
	MemoryContext cxt = CurrentMemoryContext;

	if (!IsTransactionState() || creating_extension ||
		!OidIsValid(get_extension_oid("stream_ext", true)) ||
		strcmp(StreamInstalledVersion(), STREAM_EXT_VERSION) != 0)
		return NIL;

	if (IsA(parsetree, RenameStmt))
		relation = ((RenameStmt *) parsetree)->relation;
	else if (IsA(parsetree, AlterObjectSchemaStmt))
		relation = ((AlterObjectSchemaStmt *) parsetree)->relation;
	rows_after = relation != NULL && IsViewTable(RangeVarGetRelid(relation, NoLock, true));

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
	SPI_connect();
	if (SPI_execute(rows_after ?
					"SELECT " STORED_VIEW_COLUMNS "  FROM stream_ext.continuous_view ORDER BY result" :
					"SELECT " STORED_VIEW_COLUMNS "  FROM stream_ext.continuous_view ORDER BY result FOR UPDATE",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the continuous views");
	StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext spi = MemoryContextSwitchTo(cxt);
		AnalyzedDefinition *a = palloc0(sizeof(AnalyzedDefinition));

		a->view = StreamReadStoredView(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		a->query = AnalyzeQuietly(a->view, cxt);
		if (a->query != NULL)
			analyzed = lappend(analyzed, a);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return analyzed;
}

/*
 * AnalyzeQuietly analyzes a stored view's query as its owner under its
 * settings, into cxt, and returns it; NULL if it does not analyze.
 */
static Query *
AnalyzeQuietly(StoredView *v, MemoryContext cxt)
{
	ResourceOwner owner = CurrentResourceOwner;
	Query	   *volatile query = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		SavedUser	saved;

		AsViewOwner(v, &saved);
		query = AnalyzeSelect(v->definition);
		RestoreUser(&saved);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		query = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return query;
}

/*
 * IsViewTable tells whether a relation is a view's result table, the view
 * of a sliding window or transform, or a sliding window's steps.
 */
static bool
IsViewTable(Oid relid)
{
	bool		found;

	if (!OidIsValid(relid))
		return false;
	SPI_connect();
	if (SPI_execute_with_args("SELECT 1 FROM stream_ext.continuous_view"
							  " WHERE result = $1::pg_catalog.oid OR state_table = $1::pg_catalog.oid",
							  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(relid)}, NULL,
							  true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the continuous views");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * StreamDefinitionsAfterDDL deparses the queries StreamDefinitionsBeforeDDL
 * analyzed, now that the command (parsetree) has renamed or moved what
 * they name, and records those that changed.  A column of a view's own
 * table renamed is an output column of its query renamed.
 */
void
StreamDefinitionsAfterDDL(List *analyzed, Node *parsetree)
{
	Oid			save_userid;
	int			save_sec_context;
	int			owner_nestlevel;
	ListCell   *lc;
	Oid			renamed_in = InvalidOid;
	RenameStmt *rename = NULL;

	if (analyzed == NIL)
		return;
	CommandCounterIncrement();
	if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN &&
		((RenameStmt *) parsetree)->relation != NULL)
	{
		rename = (RenameStmt *) parsetree;
		renamed_in = RangeVarGetRelid(rename->relation, NoLock, true);
	}
	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &owner_nestlevel);
	SPI_connect();

	/* After a view's own table, its catalog row (see above). */
	if (SPI_execute("SELECT 1 FROM stream_ext.continuous_view ORDER BY result FOR UPDATE",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the continuous views");
	foreach(lc, analyzed)
	{
		AnalyzedDefinition *a = lfirst(lc);
		int			nestlevel;
		char	   *definition;
		Datum		values[2];

		if (OidIsValid(renamed_in) && a->view->result == renamed_in)
		{
			ListCell   *lt;

			foreach(lt, a->query->targetList)
			{
				TargetEntry *tle = lfirst_node(TargetEntry, lt);

				if (!tle->resjunk && strcmp(tle->resname, rename->subname) == 0)
					tle->resname = pstrdup(rename->newname);
			}
		}
		nestlevel = DefinitionSettings(a->view);
		definition = DeparseQuery(a->query);

		AtEOXact_GUC(false, nestlevel);
		if (strcmp(definition, a->view->definition) == 0)
			continue;
		values[0] = ObjectIdGetDatum(a->view->result);
		values[1] = CStringGetTextDatum(definition);
		if (SPI_execute_with_args("UPDATE stream_ext.continuous_view SET definition = $2"
								  " WHERE result = $1::pg_catalog.oid",
								  2, (Oid[]) {OIDOID, TEXTOID}, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the definition of %s", StreamQualifiedName(a->view->result));
	}
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, owner_nestlevel);
}
