/*-------------------------------------------------------------------------
 *
 * view_api.c
 *	  The SQL functions that act on a continuous view or transform by
 *	  name: pause, resume and drop.
 *
 * A name is resolved with the caller's search_path, as a cast to regclass
 * would; the caller must own the view (pause, resume) or be allowed to
 * drop its table (drop, checked by DROP itself).  The state change is
 * written as the extension's owner, who owns the catalog.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "stream_ext.h"
#include "batch_statement.h"

PG_FUNCTION_INFO_V1(stream_ext_pause_continuous_view);
PG_FUNCTION_INFO_V1(stream_ext_resume_continuous_view);
PG_FUNCTION_INFO_V1(stream_ext_drop_continuous_view);
PG_FUNCTION_INFO_V1(stream_ext_set_on_error);
PG_FUNCTION_INFO_V1(stream_ext_pause_transform);
PG_FUNCTION_INFO_V1(stream_ext_resume_transform);
PG_FUNCTION_INFO_V1(stream_ext_drop_transform);

static Oid	ViewByName(text *name, bool transform);
static void SetViewState(Oid view, const char *state);
static void UpdateOwnView(Oid view, const char *set, const char *value);


Datum
stream_ext_pause_continuous_view(PG_FUNCTION_ARGS)
{
	StreamCheckVersion();
	SetViewState(ViewByName(PG_GETARG_TEXT_PP(0), false), "paused");
	PG_RETURN_VOID();
}

Datum
stream_ext_resume_continuous_view(PG_FUNCTION_ARGS)
{
	StreamCheckVersion();
	SetViewState(ViewByName(PG_GETARG_TEXT_PP(0), false), "active");
	PG_RETURN_VOID();
}

Datum
stream_ext_drop_continuous_view(PG_FUNCTION_ARGS)
{
	StreamCheckVersion();
	StreamDropView(ViewByName(PG_GETARG_TEXT_PP(0), false));
	PG_RETURN_VOID();
}

/*
 * set_on_error(name text, on_error text): what the view's batches do with
 * the events its query fails on from now on; 'skip' lets a view in error
 * go on without them once resumed.
 */
Datum
stream_ext_set_on_error(PG_FUNCTION_ARGS)
{
	Oid			view;
	char	   *on_error;

	StreamCheckVersion();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("set_on_error needs a view and 'stop' or 'skip'")));
	view = ViewByName(PG_GETARG_TEXT_PP(0), false);
	on_error = text_to_cstring(PG_GETARG_TEXT_PP(1));
	StreamCheckOnError(on_error);
	UpdateOwnView(view, "on_error = $2", on_error);
	PG_RETURN_VOID();
}

Datum
stream_ext_pause_transform(PG_FUNCTION_ARGS)
{
	StreamCheckVersion();
	SetViewState(ViewByName(PG_GETARG_TEXT_PP(0), true), "paused");
	PG_RETURN_VOID();
}

Datum
stream_ext_resume_transform(PG_FUNCTION_ARGS)
{
	StreamCheckVersion();
	SetViewState(ViewByName(PG_GETARG_TEXT_PP(0), true), "active");
	PG_RETURN_VOID();
}

Datum
stream_ext_drop_transform(PG_FUNCTION_ARGS)
{
	StreamCheckVersion();
	StreamDropView(ViewByName(PG_GETARG_TEXT_PP(0), true));
	PG_RETURN_VOID();
}

/*
 * StreamRelationByName resolves a relation name given as text with the
 * caller's search_path, as name::regclass does.
 */
Oid
StreamRelationByName(text *name)
{
	List	   *names = textToQualifiedNameList(name);

	return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, false);
}

/*
 * ViewByName returns the relation of the continuous view (or transform)
 * of that name, or raises an error naming what it is instead.
 */
static Oid
ViewByName(text *name, bool transform)
{
	Oid			view = StreamRelationByName(name);
	Datum		values[1] = {ObjectIdGetDatum(view)};
	char	   *kind = NULL;

	SPI_connect();
	if (SPI_execute_with_args("SELECT kind FROM stream_ext.continuous_view"
							  " WHERE result = $1::pg_catalog.oid",
							  1, (Oid[]) {OIDOID}, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the catalog entry of %u", view);
	if (SPI_processed == 1)
		kind = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_finish();

	if (transform && (kind == NULL || strcmp(kind, "transform") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a transform", get_rel_name(view)),
				 errhint("SELECT * FROM stream_ext.transforms lists them.")));
	if (!transform && (kind == NULL || strcmp(kind, "view") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a continuous view", get_rel_name(view)),
				 kind != NULL ?
				 errhint("It is a transform: use stream_ext.pause_transform(), resume_transform() or drop_transform().") :
				 errhint("SELECT * FROM stream_ext.continuous_views lists them.")));
	return view;
}

/*
 * SetViewState pauses or resumes a view or transform (resuming also
 * clears an error); the caller must own it.
 */
static void
SetViewState(Oid view, const char *state)
{
	UpdateOwnView(view, "state = $2, last_error = NULL, last_error_code = NULL,"
				  " last_error_detail = NULL, last_error_hint = NULL,"
				  " last_error_context = NULL, attempts = 0", state);
}

/*
 * UpdateOwnView sets columns of the catalog row of a view the caller must
 * own (set: the SET clause, $2 the value), as the extension's owner, and
 * wakes the worker at commit.
 */
static void
UpdateOwnView(Oid view, const char *set, const char *value)
{
	Datum		values[2];
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	StreamCheckOwner(view);
	values[0] = ObjectIdGetDatum(view);
	values[1] = CStringGetTextDatum(value);

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	if (SPI_execute_with_args(psprintf("UPDATE stream_ext.continuous_view SET %s"
									   " WHERE result = $1::pg_catalog.oid", set),
							  2, (Oid[]) {OIDOID, TEXTOID}, values, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != 1)
		elog(ERROR, "could not change continuous view %u", view);
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
	StreamWakeWorkerAtCommit();
}

/*
 * StreamDropView drops the view's relation as the caller; the event trigger
 * removes its catalog entry, and with it its state tables.  A sliding
 * window's view and a transform are views, the others tables.
 */
void
StreamDropView(Oid view)
{
	char	   *name = StreamQualifiedName(view);

	StreamRunDDL(psprintf("DROP %s %s", get_rel_relkind(view) == RELKIND_VIEW ? "VIEW" : "TABLE",
						  name));
}
