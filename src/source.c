/*-------------------------------------------------------------------------
 *
 * source.c
 *	  Trigger-fed streams: an ordinary table whose inserts (and, if asked,
 *	  updates and deletes) become events of a stream.
 *
 * attach_source() checks its arguments (stream_ext._check_source, run as
 * the caller), records each operation in stream_ext.source and gives the
 * source, for each, a statement-level AFTER trigger with transition
 * tables.  Every such trigger runs one C function, stream_ext_source_trigger,
 * driven by the catalog: it finds its row by the source and the trigger's
 * name (which dump and restore keep), and inserts the statement's rows
 * into the stream in one INSERT ... SELECT over the transition tables,
 * never a plan per row.  The columns are matched by name when the
 * statement runs (SourceInsert), so columns added later take part.
 *
 * The insert runs as the role that attached the source (the catalog's
 * owner), as a foreign key's checks run as the table's owner: writers of
 * the source need no privilege on the stream, and nobody gains more than
 * that role had.
 *
 * The trigger depends on the stream (DROP TABLE of the stream refuses
 * while a source feeds it; drop_stream(cascade) drops the trigger), and
 * goes with the source; the sql_drop event trigger deletes the row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "stream_ext.h"
#include "batch_statement.h"

PG_FUNCTION_INFO_V1(stream_ext_attach_source);
PG_FUNCTION_INFO_V1(stream_ext_source_trigger);

static char *SourceInsert(Oid source, Oid stream, const char *operation,
						  const char *operation_column, int *mapped);

/*
 * attach_source(source regclass, stream regclass, operations text[],
 * operation_column name)
 */
Datum
stream_ext_attach_source(PG_FUNCTION_ARGS)
{
	Oid			argtypes[4] = {REGCLASSOID, REGCLASSOID, TEXTARRAYOID, NAMEOID};
	bool		isnull;
	Datum		result;
	Datum	   *operations;
	int			n;
	Oid			source;
	Oid			stream;
	char	   *operation_column;
	AclResult	aclresult;

	StreamCheckVersion();
	if (!PG_ARGISNULL(0))
		StreamCheckNotCitusTable(PG_GETARG_OID(0), "a source");
	/* The checks of the arguments; the operations, upper case, once each. */
	result = StreamForwardInternal(fcinfo, "_check_source", 4, argtypes, &isnull);
	if (isnull)
		elog(ERROR, "_check_source returned NULL");
	deconstruct_array(DatumGetArrayTypeP(result), TEXTOID, -1, false, TYPALIGN_INT,
					  &operations, NULL, &n);
	source = PG_GETARG_OID(0);
	stream = PG_GETARG_OID(1);
	operation_column = PG_ARGISNULL(3) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(3)));

	aclresult = pg_class_aclcheck(stream, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(stream));

	for (int i = 0; i < n; i++)
		StreamAttachOperation(source, stream, TextDatumGetCString(operations[i]),
							  GetUserId(), operation_column, NULL, 0);
	PG_RETURN_VOID();
}

/*
 * StreamAttachOperation makes one operation of a source feed a stream:
 * its catalog row (attached by owner, at attached_at, or now when 0) and
 * its trigger (named trigger, or stream_ext_<operation>_<stream OID>),
 * created as the extension's owner since users cannot execute the trigger
 * function.  Also used by the update from 0.1.0 (upgrade.c).
 */
void
StreamAttachOperation(Oid source, Oid stream, const char *operation, Oid owner,
					  const char *operation_column, const char *trigger,
					  TimestampTz attached_at)
{
	char		name[NAMEDATALEN];
	int			mapped;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	ObjectAddress trigger_addr;
	ObjectAddress stream_addr;
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (strcmp(operation, "INSERT") != 0 && strcmp(operation, "UPDATE") != 0 &&
		strcmp(operation, "DELETE") != 0)
		elog(ERROR, "unexpected source operation \"%s\"", operation);
	(void) SourceInsert(source, stream, operation, operation_column, &mapped);
	if (mapped == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("stream %s has no column of table %s",
						StreamQualifiedName(stream), StreamQualifiedName(source)),
				 errhint("Columns are matched by name; give the stream columns named like the source's.")));
	if (trigger == NULL)
	{
		snprintf(name, sizeof(name), "stream_ext_%s_%u",
				 strcmp(operation, "INSERT") == 0 ? "insert" :
				 strcmp(operation, "UPDATE") == 0 ? "update" : "delete", stream);
		trigger = name;
	}

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	StreamRunDDL(psprintf("CREATE TRIGGER %s AFTER %s ON %s REFERENCING %s"
						  " FOR EACH STATEMENT EXECUTE FUNCTION stream_ext._source_trigger()",
						  quote_identifier(trigger), operation, StreamQualifiedName(source),
						  strcmp(operation, "INSERT") == 0 ? "NEW TABLE AS stream_ext_new" :
						  strcmp(operation, "DELETE") == 0 ? "OLD TABLE AS stream_ext_old" :
						  "NEW TABLE AS stream_ext_new OLD TABLE AS stream_ext_old"));
	ObjectAddressSet(trigger_addr, TriggerRelationId, get_trigger_oid(source, trigger, false));
	ObjectAddressSet(stream_addr, RelationRelationId, stream);
	recordDependencyOn(&trigger_addr, &stream_addr, DEPENDENCY_NORMAL);

	values[0] = ObjectIdGetDatum(source);
	values[1] = ObjectIdGetDatum(stream);
	values[2] = CStringGetTextDatum(operation);
	values[3] = CStringGetTextDatum(trigger);
	values[4] = ObjectIdGetDatum(owner);
	values[5] = operation_column ? CStringGetTextDatum(operation_column) : (Datum) 0;
	nulls[5] = operation_column ? ' ' : 'n';
	values[6] = TimestampTzGetDatum(attached_at);
	nulls[6] = attached_at != 0 ? ' ' : 'n';
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO stream_ext.source"
							  " (source, stream, operation, trigger, owner, operation_column, attached_at)"
							  " VALUES ($1::pg_catalog.oid, $2::pg_catalog.oid, $3, $4::pg_catalog.name,"
							  "  $5::pg_catalog.oid, $6::pg_catalog.name, COALESCE($7, pg_catalog.now()))",
							  7, (Oid[]) {OIDOID, OIDOID, TEXTOID, TEXTOID, OIDOID, TEXTOID, TIMESTAMPTZOID},
							  values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the source");
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);
}

/*
 * stream_ext_source_trigger is the trigger of every source operation:
 * after each statement, the statement's rows go into the stream of the
 * trigger's catalog row, as the role that attached the source.
 */
Datum
stream_ext_source_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			source;
	const char *operation;
	Datum		values[3];
	bool		isnull;
	Oid			stream;
	Oid			owner;
	char	   *operation_column;
	char	   *sql;
	int			mapped;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		elog(ERROR, "stream_ext._source_trigger() runs as an AFTER ... FOR EACH STATEMENT trigger");
	source = RelationGetRelid(trigdata->tg_relation);
	operation = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ? "INSERT" :
		TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : NULL;
	if (operation == NULL)
		elog(ERROR, "stream_ext._source_trigger() runs for INSERT, UPDATE or DELETE");

	SPI_connect();
	values[0] = ObjectIdGetDatum(source);
	values[1] = CStringGetTextDatum(trigdata->tg_trigger->tgname);
	values[2] = CStringGetTextDatum(operation);
	if (SPI_execute_with_args("SELECT stream::pg_catalog.oid, owner::pg_catalog.oid, operation_column"
							  "  FROM stream_ext.source"
							  " WHERE source = $1::pg_catalog.oid AND trigger = $2::pg_catalog.name"
							  "   AND operation = $3",
							  3, (Oid[]) {OIDOID, TEXTOID, TEXTOID}, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the source of trigger %s", trigdata->tg_trigger->tgname);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("trigger \"%s\" on %s feeds no stream", trigdata->tg_trigger->tgname,
						StreamQualifiedName(source)),
				 errdetail("stream_ext.source has no %s row for it.", operation),
				 errhint("Drop the trigger, or attach the table again with stream_ext.attach_source().")));
	stream = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	operation_column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);

	sql = SourceInsert(source, stream, operation, operation_column, &mapped);
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition tables of %s", StreamQualifiedName(source));
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute(sql, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert the events of %s", StreamQualifiedName(source));
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * SourceInsert returns the INSERT ... SELECT of one operation's rows from
 * the transition tables (stream_ext_new, stream_ext_old) into the stream:
 * a stream column named like a column of the source takes its value (the
 * old one for DELETE), old_<column> the old value of an UPDATE, the
 * operation column the operation; the others take their defaults.
 * *mapped: how many columns take a value of the source.  The old and new
 * rows of an UPDATE are paired by position: PostgreSQL stores them row by
 * row, in the same order, in the two tables.
 */
static char *
SourceInsert(Oid source, Oid stream, const char *operation, const char *operation_column,
			 int *mapped)
{
	Relation	rel = table_open(stream, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData targets;
	StringInfoData exprs;

	initStringInfo(&targets);
	initStringInfo(&exprs);
	*mapped = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *column = NameStr(att->attname);
		char	   *expr = NULL;

		if (att->attisdropped || att->attgenerated != '\0' ||
			strcmp(column, STREAM_TAG_COLUMN) == 0)
			continue;
		if (operation_column != NULL && strcmp(column, operation_column) == 0)
			expr = quote_literal_cstr(operation);
		else if (get_attnum(source, column) > 0)
			expr = psprintf("n.%s", quote_identifier(column));
		else if (strcmp(operation, "UPDATE") == 0 && strncmp(column, "old_", 4) == 0 &&
				 get_attnum(source, column + 4) > 0)
			expr = psprintf("o.%s", quote_identifier(column + 4));
		if (expr == NULL)
			continue;
		if (operation_column == NULL || strcmp(column, operation_column) != 0)
			(*mapped)++;
		appendStringInfo(&targets, "%s%s", targets.len > 0 ? ", " : "", quote_identifier(column));
		appendStringInfo(&exprs, "%s%s", exprs.len > 0 ? ", " : "", expr);
	}
	table_close(rel, AccessShareLock);
	return psprintf("INSERT INTO %s (%s) SELECT %s FROM %s", StreamQualifiedName(stream),
					targets.data, exprs.data,
					strcmp(operation, "INSERT") == 0 ? "stream_ext_new n" :
					strcmp(operation, "DELETE") == 0 ? "stream_ext_old n" :
					"(SELECT *, pg_catalog.row_number() OVER () AS stream_ext_pos FROM stream_ext_new) n"
					" JOIN (SELECT *, pg_catalog.row_number() OVER () AS stream_ext_pos FROM stream_ext_old) o"
					" USING (stream_ext_pos)");
}
