/*-------------------------------------------------------------------------
 *
 * stream_api.c
 *	  The SQL functions that make a table a stream and drop it:
 *	  create_stream() and drop_stream().
 *
 * create_stream rebuilds the table as a segmented one in PL/pgSQL
 * (_rebuild_stream, run as the caller: the new table is the caller's),
 * then records the stream and creates its segments as the extension's
 * owner (segment.c).  drop_stream checks what reads and feeds the stream
 * (_check_drop_stream), takes the locks of its views in the order the
 * worker takes them, then drops the views and the stream as the caller.
 * The internal functions are called through the function manager
 * (StreamCallInternal): users cannot execute them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "stream_ext.h"
#include "batch_statement.h"

/* The segments of a new stream. */
#define STREAM_DEFAULT_SEGMENTS 3

PG_FUNCTION_INFO_V1(stream_ext_create_stream);
PG_FUNCTION_INFO_V1(stream_ext_drop_stream);

static void LockViews(Oid stream);

/*
 * create_stream(stream regclass, event_time name, arrival_column name)
 */
Datum
stream_ext_create_stream(PG_FUNCTION_ARGS)
{
	Oid			argtypes[3] = {REGCLASSOID, NAMEOID, NAMEOID};
	bool		isnull;
	Datum		rebuilt;
	HeapTupleHeader row;
	Oid			relid;
	char	   *time_column;
	Datum		arrival;
	bool		no_arrival;
	Datum		storage;

	StreamCheckVersion();
	if (!PG_ARGISNULL(0))
		StreamCheckNotCitusTable(PG_GETARG_OID(0), "a stream");
	rebuilt = StreamForwardInternal(fcinfo, "_rebuild_stream", 3, argtypes, &isnull);
	if (isnull)
		elog(ERROR, "_rebuild_stream returned no row");
	row = DatumGetHeapTupleHeader(rebuilt);
	relid = DatumGetObjectId(GetAttributeByNum(row, 1, &isnull));
	Assert(!isnull);
	time_column = pstrdup(NameStr(*DatumGetName(GetAttributeByNum(row, 2, &isnull))));
	Assert(!isnull);
	arrival = GetAttributeByNum(row, 3, &no_arrival);
	storage = GetAttributeByNum(row, 4, &isnull);

	CommandCounterIncrement();
	StreamRegisterStream(relid, time_column,
						 no_arrival ? NULL : pstrdup(NameStr(*DatumGetName(arrival))),
						 STREAM_DEFAULT_SEGMENTS, isnull ? NULL : DatumGetArrayTypeP(storage));
	PG_RETURN_OID(relid);
}

/*
 * drop_stream(stream regclass, cascade boolean)
 */
Datum
stream_ext_drop_stream(PG_FUNCTION_ARGS)
{
	Oid			stream;
	bool		cascade;
	Oid			argtypes[2] = {REGCLASSOID, BOOLOID};
	Datum		values[2];
	bool		nulls[2] = {false, false};
	bool		isnull;
	char	   *name;

	StreamCheckVersion();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream must not be NULL")));
	stream = PG_GETARG_OID(0);
	cascade = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	values[0] = ObjectIdGetDatum(stream);
	values[1] = BoolGetDatum(cascade);

	/* What reads and feeds it may go; its views wait for their batches. */
	if (DatumGetBool(StreamCallInternal("_check_drop_stream", 2, argtypes, values, nulls,
										&isnull)))
		LockViews(stream);

	name = StreamQualifiedName(stream);
	SPI_connect();
	if (SPI_execute_with_args("SELECT c.result::pg_catalog.oid FROM stream_ext.continuous_view c"
							  " WHERE c.stream = $1::pg_catalog.oid ORDER BY c.result",
							  1, (Oid[]) {OIDOID}, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the views of stream %u", stream);
	{
		uint64		nviews = SPI_processed;
		Oid		   *views = palloc(sizeof(Oid) * (nviews + 1));

		for (uint64 i = 0; i < nviews; i++)
			views[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
													  SPI_tuptable->tupdesc, 1, &isnull));
		for (uint64 i = 0; i < nviews; i++)
			StreamDropView(views[i]);
	}
	SPI_finish();
	StreamRunDDL(psprintf("DROP TABLE %s%s", name, cascade ? " CASCADE" : ""));
	PG_RETURN_VOID();
}

/*
 * LockViews takes, for drop_stream(cascade) and in the order the worker
 * takes them (VIEW_ROWS_IN_ORDER), the locks of the stream's views: their
 * result tables, then their catalog rows.  A batch in flight finishes
 * first, and no lock cycle forms with the worker.  The caller must own
 * the stream; the locks are taken as the extension's owner, as the
 * views' drops then delete the rows.
 */
static void
LockViews(Oid stream)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(stream)};
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	StreamCheckOwner(stream);
	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	if (SPI_execute_with_args("SELECT result::pg_catalog.oid FROM stream_ext.continuous_view"
							  " WHERE stream = $1::pg_catalog.oid ORDER BY result",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the views of stream %u", stream);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		LockRelationOid(DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 1, &isnull)),
						AccessExclusiveLock);
	}
	if (SPI_execute_with_args("SELECT 1 FROM stream_ext.continuous_view"
							  " WHERE stream = $1::pg_catalog.oid ORDER BY result FOR UPDATE",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the views of stream %u", stream);
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
}
