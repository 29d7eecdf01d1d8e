/*-------------------------------------------------------------------------
 *
 * source.c
 *	  Trigger-fed streams: an ordinary table whose inserts (and, if asked,
 *	  updates and deletes) become events of a stream.
 *
 * attach_source() has its checks, the column mapping and the INSERT ...
 * SELECT over a transition table for each operation worked out in
 * PL/pgSQL (stream_ext._source_bodies, run as the caller); this file
 * creates, for each, the trigger function that runs it, and the trigger
 * on the source.  The trigger function is a PL/pgSQL
 * function in schema stream_ext, SECURITY DEFINER, owned by the user who
 * attached the source, so that writers of the source need no privilege on
 * the stream while nobody gains more than that user had.  The statement-
 * level trigger that calls it sees the whole statement's rows at once in
 * the transition table: one INSERT per statement, never a plan per row.
 *
 * The function depends on the stream (DROP TABLE of the stream refuses
 * while a source feeds it) and, automatically, on the source (dropping
 * the source drops it, and its trigger).  The catalog row is kept in
 * stream_ext.source.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "stream_ext.h"
#include "batch_statement.h"

PG_FUNCTION_INFO_V1(stream_ext_attach_source);

static Oid	CreateSourceFunction(Oid source, Oid stream, const char *operation,
								 const char *body);

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
	Datum	   *bodies;
	bool	   *body_nulls;
	int			n;

	result = StreamForwardInternal(fcinfo, "_source_bodies", 4, argtypes, &isnull);
	if (isnull)
		elog(ERROR, "_source_bodies returned NULL");
	deconstruct_array(DatumGetArrayTypeP(result), TEXTOID, -1, false, TYPALIGN_INT,
					  &bodies, &body_nulls, &n);

	for (int i = 0; i + 1 < n; i += 2)
	{
		Oid			source = PG_GETARG_OID(0);
		Oid			stream = PG_GETARG_OID(1);
		char	   *op = TextDatumGetCString(bodies[i]);
		Oid			function = CreateSourceFunction(source, stream, op,
													TextDatumGetCString(bodies[i + 1]));
		char		trigger[NAMEDATALEN];

		snprintf(trigger, sizeof(trigger), "stream_ext_%s_%u",
				 strcmp(op, "INSERT") == 0 ? "insert" :
				 strcmp(op, "UPDATE") == 0 ? "update" : "delete", stream);
		StreamRunDDL(psprintf("CREATE TRIGGER %s AFTER %s ON %s REFERENCING %s"
							  " FOR EACH STATEMENT EXECUTE FUNCTION %s()",
							  quote_identifier(trigger), op,
							  StreamQualifiedName(source),
							  strcmp(op, "INSERT") == 0 ? "NEW TABLE AS stream_ext_new" :
							  strcmp(op, "DELETE") == 0 ? "OLD TABLE AS stream_ext_old" :
							  "NEW TABLE AS stream_ext_new OLD TABLE AS stream_ext_old",
							  quote_qualified_identifier("stream_ext", get_func_name(function))));
	}
	PG_RETURN_VOID();
}

/*
 * CreateSourceFunction creates the trigger function of one operation of a
 * source, records it in stream_ext.source and returns it.  The caller must
 * own the source and be allowed to INSERT into the stream; the function
 * runs its body as the caller.
 */
static Oid
CreateSourceFunction(Oid source, Oid stream, const char *operation, const char *body)
{
	Oid			caller = GetUserId();
	char		name[NAMEDATALEN];
	char	   *qualified;
	Oid			function;
	AclResult	aclresult;
	ObjectAddress function_addr;
	ObjectAddress target_addr;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	StreamCheckOwner(source);
	if (!RelationIsStream(stream))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a stream", get_rel_name(stream)),
				 errhint("Register the table with stream_ext.create_stream().")));
	aclresult = pg_class_aclcheck(stream, caller, ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(stream));
	if (strcmp(operation, "INSERT") != 0 && strcmp(operation, "UPDATE") != 0 &&
		strcmp(operation, "DELETE") != 0)
		elog(ERROR, "unexpected source operation \"%s\"", operation);

	snprintf(name, sizeof(name), "_source_%u_%u_%s", source, stream, operation);
	qualified = quote_qualified_identifier("stream_ext", name);

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context, &save_nestlevel);
	SPI_connect();
	if (SPI_execute(psprintf("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql"
							 " SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
							 " AS %s",
							 qualified, quote_literal_cstr(body)),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create %s", qualified);
	if (SPI_execute(psprintf("ALTER FUNCTION %s() OWNER TO %s", qualified,
							 quote_identifier(GetUserNameFromId(caller, false))),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not give %s to its owner", qualified);
	CommandCounterIncrement();
	function = LookupFuncName(list_make2(makeString("stream_ext"), makeString(name)),
							  0, NULL, false);

	ObjectAddressSet(function_addr, ProcedureRelationId, function);
	ObjectAddressSet(target_addr, RelationRelationId, stream);
	recordDependencyOn(&function_addr, &target_addr, DEPENDENCY_NORMAL);
	ObjectAddressSet(target_addr, RelationRelationId, source);
	recordDependencyOn(&function_addr, &target_addr, DEPENDENCY_AUTO);

	{
		Oid			argtypes[4] = {OIDOID, OIDOID, TEXTOID, OIDOID};
		Datum		values[4];

		values[0] = ObjectIdGetDatum(source);
		values[1] = ObjectIdGetDatum(stream);
		values[2] = CStringGetTextDatum(operation);
		values[3] = ObjectIdGetDatum(function);
		if (SPI_execute_with_args("INSERT INTO stream_ext.source (source, stream, operation, function)"
								  " VALUES ($1::pg_catalog.oid, $2::pg_catalog.oid, $3, $4::pg_catalog.oid)",
								  4, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the source");
	}
	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);

	return function;
}
