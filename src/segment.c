/*-------------------------------------------------------------------------
 *
 * segment.c
 *	  Where events are stored: the segment partitions of a stream.
 *
 * A stream is a table partitioned by range on its tag column, with one
 * partition per segment slot: slot k holds tags [k << 48, (k + 1) << 48).
 * Writers fill the current slot; a worker consumes events of every slot
 * and truncates a slot once no transaction can still write into it and
 * every view has consumed its events.  TRUNCATE of one partition locks
 * only that partition, so pruning never waits for writers of the current
 * slot, nor they for it.
 *
 * The partitions live in the stream_ext schema and belong to the stream's
 * owner; they are created here as the extension's owner because users
 * have no CREATE privilege on that schema.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "stream_ext.h"

static Oid	RelationOwner(Oid relid);
static char *ReloptionsClause(ArrayType *reloptions);
static void CreateSegment(Oid relid, const char *stream, const char *owner,
						  int slot, const char *with);


/*
 * StreamRegisterStream records a rebuilt (partitioned) table as a stream,
 * gives its tag column its default and check, protects it as append-only
 * and creates its segment partitions.
 * create_stream() calls it after rebuilding the table; the caller must own
 * the table.  reloptions: storage parameters for the segments, or NULL.
 */
void
StreamRegisterStream(Oid relid, const char *event_time, const char *arrival,
					 int segments, ArrayType *reloptions)
{
	char	   *stream;
	char	   *owner;
	char	   *with;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	Oid			argtypes[4] = {OIDOID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	StreamCheckOwner(relid);
	if (!RelationIsStream(relid))
		elog(ERROR, "table \"%s\" has not been rebuilt as a stream", get_rel_name(relid));
	Assert(segments >= 2 && segments <= STREAM_MAX_SLOTS);

	stream = StreamQualifiedName(relid);
	owner = GetUserNameFromId(RelationOwner(relid), false);
	with = ReloptionsClause(reloptions);

	/* What it is, unless its owner said so already. */
	if (GetComment(relid, RelationRelationId, 0) == NULL)
		StreamRunDDL(psprintf("COMMENT ON TABLE %s IS %s", stream,
							  quote_literal_cstr(psprintf("stream_ext: a stream, event time %s; its events are read by continuous views (stream_ext.streams, stream_ext.continuous_views)",
														  quote_identifier(event_time)))));

	StreamSwitchToExtensionOwner(&save_userid, &save_sec_context,
								 &save_nestlevel);
	SPI_connect();

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(event_time);
	if (arrival)
		values[2] = CStringGetTextDatum(arrival);
	else
		nulls[2] = 'n';
	values[3] = Int32GetDatum(segments);
	if (SPI_execute_with_args("INSERT INTO stream_ext.stream"
							  " (relid, event_time, arrival_column, segments)"
							  " VALUES ($1::pg_catalog.oid, $2, $3, $4)",
							  4, argtypes, values, nulls,
							  false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not register stream %s", stream);

	/*
	 * The tag of every event: filled in by its default, for the inserting
	 * transaction and the current segment, and only by it (ingest.c).
	 */
	if (SPI_execute(psprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT stream_ext.tx('%u'::pg_catalog.regclass)",
							 stream, STREAM_TAG_COLUMN, relid), false, 0) != SPI_OK_UTILITY ||
		SPI_execute(psprintf("ALTER TABLE %s ADD CONSTRAINT %s_check"
							 " CHECK (stream_ext.check_tx(%s, '%u'::pg_catalog.regclass)) NOT VALID",
							 stream, STREAM_TAG_COLUMN, STREAM_TAG_COLUMN, relid), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not give stream %s its tag", stream);

	/* Events are facts: they can only be appended (prune.c empties segments). */
	if (SPI_execute(psprintf("CREATE TRIGGER stream_ext_append_only"
							 " BEFORE UPDATE OR DELETE OR TRUNCATE ON %s"
							 " FOR EACH STATEMENT EXECUTE FUNCTION stream_ext._refuse_modification()",
							 stream), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not protect stream %s", stream);

	for (int slot = 0; slot < segments; slot++)
		CreateSegment(relid, stream, owner, slot, with);

	SPI_finish();
	StreamRestoreUser(save_userid, save_sec_context, save_nestlevel);

	/* A stale entry from an earlier relation with this OID must go. */
	StreamForgetSlot(relid);
}

/*
 * CreateSegment creates the partition of one slot and records it.
 */
static void
CreateSegment(Oid relid, const char *stream, const char *owner, int slot,
			  const char *with)
{
	char		name[NAMEDATALEN];
	const char *qname;
	const char *relname = get_rel_name(relid);
	StringInfoData sql;

	/*
	 * PostgreSQL names the partition in constraint violations, so the name
	 * should say which stream it belongs to: "<stream>_seg<slot>", or with
	 * the stream's OID added when another schema's stream took that name.
	 */
	snprintf(name, sizeof(name), "%.*s_seg%d",
			 pg_mbcliplen(relname, strlen(relname), 48), relname, slot);
	if (OidIsValid(get_relname_relid(name, get_namespace_oid("stream_ext", false))))
		snprintf(name, sizeof(name), "%.*s_%u_seg%d",
				 pg_mbcliplen(relname, strlen(relname), 40), relname, relid, slot);
	qname = quote_qualified_identifier("stream_ext", name);

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "CREATE TABLE %s PARTITION OF %s FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")%s",
					 qname, stream,
					 (int64) ((uint64) slot << STREAM_TAG_SLOT_SHIFT),
					 (int64) ((uint64) (slot + 1) << STREAM_TAG_SLOT_SHIFT),
					 with);
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create segment %s", qname);

	/* Like the stream, a segment can only be appended to (prune.c empties it). */
	resetStringInfo(&sql);
	appendStringInfo(&sql,
					 "CREATE TRIGGER stream_ext_append_only"
					 " BEFORE UPDATE OR DELETE OR TRUNCATE ON %s"
					 " FOR EACH STATEMENT EXECUTE FUNCTION stream_ext._refuse_modification()",
					 qname);
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not protect segment %s", qname);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "ALTER TABLE %s OWNER TO %s",
					 qname, quote_identifier(owner));
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not give segment %s to its owner", qname);

	resetStringInfo(&sql);
	appendStringInfo(&sql,
					 "INSERT INTO stream_ext.segment (stream, slot, partition)"
					 " VALUES (%u, %d, %s::pg_catalog.regclass)",
					 relid, slot, quote_literal_cstr(qname));
	if (SPI_execute(sql.data, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record segment %s", qname);
}

/*
 * StreamQualifiedName returns the quoted, schema-qualified name.
 */
char *
StreamQualifiedName(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * RelationOwner returns pg_class.relowner.
 */
static Oid
RelationOwner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * ReloptionsClause turns pg_class.reloptions ("name=value" strings) into a
 * WITH clause, quoting each value; empty when there are none.
 */
static char *
ReloptionsClause(ArrayType *reloptions)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	StringInfoData buf;

	if (reloptions == NULL)
		return "";

	deconstruct_array(reloptions, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	if (n == 0)
		return "";

	initStringInfo(&buf);
	appendStringInfoString(&buf, " WITH (");
	for (int i = 0; i < n; i++)
	{
		char	   *opt;
		char	   *eq;

		if (nulls[i])
			continue;
		opt = TextDatumGetCString(elems[i]);
		eq = strchr(opt, '=');
		if (eq == NULL)
			elog(ERROR, "malformed storage parameter \"%s\"", opt);
		*eq = '\0';
		appendStringInfo(&buf, "%s%s = %s", i > 0 ? ", " : "",
						 quote_identifier(opt), quote_literal_cstr(eq + 1));
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}
