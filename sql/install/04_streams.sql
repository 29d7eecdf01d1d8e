-- ---------------------------------------------------------------------
-- Streams are append-only
-- ---------------------------------------------------------------------

CREATE FUNCTION stream_ext._pruning()
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_pruning';
COMMENT ON FUNCTION stream_ext._pruning() IS
    'internal: whether this backend is emptying a consumed segment (prune.c)';

-- Whether finish_restore() is renumbering the tags of this stream, restored
-- from another cluster (restore.c): the only UPDATE a stream takes.
CREATE FUNCTION stream_ext._rebasing(stream regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT current_setting('stream_ext.restoring') = 'on'
       AND EXISTS (SELECT 1 FROM stream_ext.stream s
                    WHERE s.relid = stream
                      AND s.system_identifier <> (SELECT pgc.system_identifier FROM pg_catalog.pg_control_system() pgc))
$$;

CREATE FUNCTION stream_ext._refuse_modification()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND stream_ext._pruning() OR TG_OP = 'UPDATE' AND stream_ext._rebasing(TG_RELID) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'cannot % stream %', TG_OP,
            format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        USING ERRCODE = 'feature_not_supported',
              DETAIL = 'A stream holds events, which are facts: they can only be appended with INSERT or COPY.',
              HINT = 'Use stream_ext.drop_stream() to remove a stream with its events.';
END;
$$;

-- ---------------------------------------------------------------------
-- create_stream
-- ---------------------------------------------------------------------

-- create_stream's rebuild of the table as a segmented one, run as the
-- caller by create_stream (stream_api.c), which then registers the stream
-- and creates its segments.
CREATE FUNCTION stream_ext._rebuild_stream(stream regclass, event_time name, arrival_column name,
                                           OUT rebuilt regclass, OUT time_column name,
                                           OUT arrival name, OUT storage text[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel         pg_catalog.pg_class;
    nsp         name;
    qname       text;
    oldname     name;
    time_col    name := event_time;
    time_type   regtype;
    nonempty    boolean;
    what        text;
    r           record;
    old_indexes name[];
    new_indexes name[];
    seqstate    record;
    identity_seqs text[] := '{}';
    newrel      regclass;
    col_defs    text := '';
BEGIN
    IF stream IS NULL THEN
        RAISE EXCEPTION 'stream must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    SELECT * INTO rel FROM pg_class WHERE oid = stream;
    nsp := (SELECT nspname FROM pg_namespace WHERE oid = rel.relnamespace);
    qname := format('%I.%I', nsp, rel.relname);

    IF EXISTS (SELECT 1 FROM stream_ext.stream s WHERE s.relid = stream) THEN
        RAISE EXCEPTION 'table % is already a stream', qname
            USING ERRCODE = 'duplicate_object',
                  HINT = 'SELECT * FROM stream_ext.streams lists the streams.';
    END IF;

    CASE rel.relkind
        WHEN 'r' THEN
            NULL;
        WHEN 'p' THEN
            RAISE EXCEPTION 'cannot make partitioned table % a stream', qname
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'stream_ext partitions a stream itself, into segments that background workers consume and prune.',
                      HINT = 'Register a plain table with the same columns.';
        WHEN 'v' THEN
            RAISE EXCEPTION '% is a view, not a table', qname
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'Register the table the events are inserted into; continuous views are created with stream_ext.create_continuous_view().';
        WHEN 'm' THEN
            RAISE EXCEPTION '% is a materialized view, not a table', qname
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'Register the table the events are inserted into; continuous views are created with stream_ext.create_continuous_view().';
        WHEN 'f' THEN
            RAISE EXCEPTION 'cannot make foreign table % a stream', qname
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Events must be stored in this database to be processed exactly once.',
                      HINT = 'Create a local table and load the events into it.';
        ELSE
            RAISE EXCEPTION '% is not a table', qname
                USING ERRCODE = 'wrong_object_type';
    END CASE;

    IF rel.relpersistence = 't' THEN
        RAISE EXCEPTION 'cannot make temporary table % a stream', quote_ident(rel.relname)
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Background workers cannot see temporary tables.',
                  HINT = 'Create the table without TEMPORARY.';
    END IF;
    IF rel.relpersistence = 'u' THEN
        RAISE EXCEPTION 'cannot make unlogged table % a stream', qname
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'An unlogged table is emptied by crash recovery, so committed events would be lost.',
                  HINT = format('Run ALTER TABLE %s SET LOGGED first.', qname);
    END IF;
    IF rel.relispartition OR EXISTS (SELECT 1 FROM pg_inherits
                                      WHERE inhrelid = stream OR inhparent = stream) THEN
        RAISE EXCEPTION 'cannot make table % a stream: it takes part in inheritance or partitioning', qname
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Register a stand-alone table.';
    END IF;
    IF rel.reloftype <> 0 THEN
        RAISE EXCEPTION 'cannot make typed table % a stream', qname
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create the table with explicit columns instead of OF type.';
    END IF;

    IF NOT pg_has_role(current_user, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', qname
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    -- Event time: the user's column, or one added for the arrival time.
    IF event_time IS NOT NULL THEN
        SELECT atttypid INTO time_type FROM pg_attribute
         WHERE attrelid = stream AND attname = event_time
           AND attnum > 0 AND NOT attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', event_time, qname
                USING ERRCODE = 'undefined_column',
                      HINT = 'event_time names the column that holds the time of each event; leave it out to use the arrival time.';
        END IF;
        IF time_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype) THEN
            RAISE EXCEPTION 'event time column "%" has type %', event_time, time_type
                USING ERRCODE = 'datatype_mismatch',
                      DETAIL = 'The event time must be of type timestamp with time zone or timestamp.',
                      HINT = 'Change the column''s type, or leave event_time out to use the arrival time.';
        END IF;
        arrival_column := NULL;
    ELSE
        IF arrival_column IS NULL THEN
            RAISE EXCEPTION 'either event_time or arrival_column must be given'
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = stream AND attname = arrival_column
                      AND attnum > 0 AND NOT attisdropped) THEN
            RAISE EXCEPTION 'table % already has a column "%"', qname, arrival_column
                USING ERRCODE = 'duplicate_column',
                      HINT = format('To use it as the event time, pass event_time => %L; otherwise choose another arrival_column.', arrival_column);
        END IF;
        time_col := arrival_column;
        col_defs := format(', %I timestamptz NOT NULL DEFAULT pg_catalog.now()', arrival_column);
    END IF;

    IF EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = stream AND attname = 'stream_ext_tx'
                  AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'table % has a column named "stream_ext_tx"', qname
            USING ERRCODE = 'duplicate_column',
                  DETAIL = 'stream_ext adds a column of that name to every stream.',
                  HINT = 'Rename the column.';
    END IF;

    -- What a stream cannot have.
    SELECT c.conname INTO what FROM pg_constraint c
     WHERE c.conrelid = stream AND c.contype IN ('p', 'u', 'x') LIMIT 1;
    IF NOT FOUND THEN
        SELECT i.indexrelid::regclass::text INTO what FROM pg_index i
         WHERE i.indrelid = stream AND i.indisunique LIMIT 1;
    END IF;
    IF what IS NOT NULL THEN
        RAISE EXCEPTION 'cannot make table % a stream: it has the unique constraint or index "%"', qname, what
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Uniqueness would have to hold across all events, and events are pruned once processed.',
                  HINT = 'Drop the primary key, unique or exclusion constraint first; a continuous view can group events by key instead.';
    END IF;
    SELECT c.conrelid::regclass::text INTO what FROM pg_constraint c
     WHERE c.confrelid = stream LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make table % a stream: table % has a foreign key to it', qname, what
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the foreign key first.';
    END IF;
    SELECT t.tgname INTO what FROM pg_trigger t
     WHERE t.tgrelid = stream AND NOT t.tgisinternal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make table % a stream: it has trigger "%"', qname, what
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the triggers, register the table, then create them again on the stream.';
    END IF;
    IF rel.relhasrules THEN
        RAISE EXCEPTION 'cannot make table % a stream: it has rules', qname
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the rules first.';
    END IF;
    IF rel.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = stream) THEN
        RAISE EXCEPTION 'cannot make table % a stream: it has row-level security', qname
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Continuous views read every event of a stream as their owner.',
                  HINT = 'Disable row-level security and drop the policies, and filter in the views instead.';
    END IF;
    SELECT pg_describe_object(d.classid, d.objid, d.objsubid) INTO what
      FROM pg_depend d
     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = stream
       AND d.deptype = 'n'
       AND NOT (d.classid = 'pg_constraint'::regclass
                AND EXISTS (SELECT 1 FROM pg_constraint c
                             WHERE c.oid = d.objid AND c.conrelid = stream))
       AND NOT (d.classid = 'pg_class'::regclass AND d.objid = stream)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make table % a stream: % depends on it', qname, what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'create_stream rebuilds the table, which would drop dependent objects.',
                  HINT = 'Drop the dependent objects, register the table, then create them again.';
    END IF;
    SELECT pg_describe_object(d.classid, d.objid, d.objsubid) INTO what
      FROM pg_depend d
     WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = rel.reltype
       AND d.deptype = 'n'
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot make table % a stream: % depends on its row type', qname, what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'create_stream rebuilds the table, which would drop dependent objects.',
                  HINT = 'Drop the dependent objects, register the table, then create them again.';
    END IF;

    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', qname) INTO nonempty;
    IF nonempty THEN
        RAISE EXCEPTION 'table % is not empty', qname
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'create_stream rebuilds the table as a partitioned table, which PostgreSQL cannot do in place.',
                  HINT = 'Register an empty table, then load the events into the stream.';
    END IF;

    -- Rebuild: move the old table and its index names aside, create the
    -- partitioned table under the original name, carry everything over.
    oldname := left(rel.relname, 40) || '_stream_ext_' || stream::oid;
    SELECT array_agg(c.relname ORDER BY c.oid) INTO old_indexes
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = stream;
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', qname);
    EXECUTE format('ALTER TABLE %s RENAME TO %I', qname, oldname);
    FOR r IN SELECT c.oid, row_number() OVER (ORDER BY c.oid) AS n
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = stream ORDER BY c.oid LOOP
        EXECUTE format('ALTER INDEX %s RENAME TO %I', r.oid::regclass,
                       left(oldname, 40) || '_idx_' || r.n);
    END LOOP;

    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL,'
                   ' stream_ext_tx int8 NOT NULL%s) PARTITION BY RANGE (stream_ext_tx)%s',
                   nsp, rel.relname, nsp, oldname, col_defs,
                   CASE WHEN rel.reltablespace <> 0
                        THEN format(' TABLESPACE %I', (SELECT spcname FROM pg_tablespace
                                                        WHERE oid = rel.reltablespace))
                        ELSE '' END);
    newrel := format('%I.%I', nsp, rel.relname)::regclass;
    -- The tag's default and check, the append-only trigger and the
    -- segments are stream_ext's (segment.c, after this returns).

    -- Index names.
    SELECT array_agg(c.relname ORDER BY c.oid) INTO new_indexes
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = newrel;
    FOR i IN 1 .. coalesce(array_length(old_indexes, 1), 0) LOOP
        IF new_indexes[i] <> old_indexes[i] THEN
            EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', nsp, new_indexes[i], old_indexes[i]);
        END IF;
    END LOOP;

    -- Foreign keys to other tables.
    FOR r IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
              WHERE conrelid = stream AND contype = 'f' ORDER BY oid LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', newrel, r.conname, r.def);
    END LOOP;

    -- Statistics targets.
    FOR r IN SELECT attname, attstattarget FROM pg_attribute
              WHERE attrelid = stream AND attnum > 0 AND NOT attisdropped
                AND attstattarget >= 0 LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS %s',
                       newrel, r.attname, r.attstattarget);
    END LOOP;

    -- Sequences: serial columns keep theirs; identity columns got new ones,
    -- which take the old names and positions.
    FOR r IN SELECT s.oid AS seq, a.attname, d.deptype
               FROM pg_depend d
               JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE d.classid = 'pg_class'::regclass
                AND d.refclassid = 'pg_class'::regclass
                AND d.refobjid = stream AND d.deptype IN ('a', 'i') LOOP
        IF r.deptype = 'a' THEN
            EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', r.seq::regclass, newrel, r.attname);
        ELSE
            EXECUTE format('SELECT last_value, is_called FROM %s', r.seq::regclass) INTO seqstate;
            PERFORM pg_catalog.setval(pg_get_serial_sequence(newrel::text, r.attname),
                                      seqstate.last_value, seqstate.is_called);
            identity_seqs := identity_seqs || ARRAY[r.attname::text, (SELECT relname FROM pg_class WHERE oid = r.seq)::text];
        END IF;
    END LOOP;

    -- Owner, grants, comment.
    IF rel.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('ALTER TABLE %s OWNER TO %I', newrel,
                       (SELECT rolname FROM pg_roles WHERE oid = rel.relowner));
    END IF;
    IF rel.relacl IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON %s FROM %I', newrel,
                       (SELECT rolname FROM pg_roles WHERE oid = rel.relowner));
        FOR r IN SELECT a.privilege_type, a.is_grantable,
                        CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                             ELSE quote_ident((SELECT rolname FROM pg_roles WHERE oid = a.grantee)) END AS grantee
                   FROM aclexplode(rel.relacl) a LOOP
            EXECUTE format('GRANT %s ON %s TO %s%s', r.privilege_type, newrel, r.grantee,
                           CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
    END IF;
    FOR r IN SELECT at.attname, a.privilege_type, a.is_grantable,
                    CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                         ELSE quote_ident((SELECT rolname FROM pg_roles WHERE oid = a.grantee)) END AS grantee
               FROM pg_attribute at, aclexplode(at.attacl) a
              WHERE at.attrelid = stream AND at.attnum > 0 AND at.attacl IS NOT NULL LOOP
        EXECUTE format('GRANT %s (%I) ON %s TO %s%s', r.privilege_type, r.attname, newrel, r.grantee,
                       CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    IF obj_description(stream, 'pg_class') IS NOT NULL THEN
        EXECUTE format('COMMENT ON TABLE %s IS %L', newrel, obj_description(stream, 'pg_class'));
    END IF;

    EXECUTE format('DROP TABLE %I.%I', nsp, oldname);

    -- Identity sequences take the names of the ones just dropped.
    FOR i IN 1 .. coalesce(array_length(identity_seqs, 1), 0) / 2 LOOP
        EXECUTE format('ALTER SEQUENCE %s RENAME TO %I',
                       pg_get_serial_sequence(newrel::text, identity_seqs[2 * i - 1]),
                       identity_seqs[2 * i]);
    END LOOP;

    rebuilt := newrel;
    time_column := time_col;
    arrival := arrival_column;
    storage := rel.reloptions;
END;
$fn$;
COMMENT ON FUNCTION stream_ext._rebuild_stream(regclass, name, name) IS
    'internal: create_stream''s rebuild of an empty table as a segmented one under the same name';

CREATE FUNCTION stream_ext.create_stream(stream regclass,
                                         event_time name DEFAULT NULL,
                                         arrival_column name DEFAULT 'arrival_time')
RETURNS regclass
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_create_stream';
COMMENT ON FUNCTION stream_ext.create_stream(regclass, name, name) IS
    'registers an empty table as a stream, rebuilding it as a segmented table under the same name';

-- ---------------------------------------------------------------------
-- drop_stream, and keeping the catalog in step with DROP TABLE
-- ---------------------------------------------------------------------

-- drop_stream's checks, run as the caller by drop_stream (stream_api.c),
-- which then locks the views as the worker does and drops them (true:
-- the stream has views).
CREATE FUNCTION stream_ext._check_drop_stream(stream regclass, "cascade" boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    views text;
    sources text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM stream_ext.stream s WHERE s.relid = stream) THEN
        RAISE EXCEPTION 'table % is not a stream', stream
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'SELECT * FROM stream_ext.streams lists the streams.';
    END IF;
    SELECT string_agg(c.result::text, ', ' ORDER BY c.result::text) INTO views
      FROM stream_ext.continuous_view c WHERE c.stream = _check_drop_stream.stream;
    IF NOT "cascade" THEN
        SELECT string_agg(DISTINCT x.source::text, ', ') INTO sources
          FROM stream_ext.source x WHERE x.stream = _check_drop_stream.stream;
        IF sources IS NOT NULL THEN
            RAISE EXCEPTION 'cannot drop stream % because tables feed it', stream
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = format('Sources: %s.', sources),
                      HINT = 'Detach them with stream_ext.detach_source(), or use stream_ext.drop_stream(stream, cascade => true).';
        END IF;
    END IF;
    IF views IS NOT NULL AND NOT "cascade" THEN
        RAISE EXCEPTION 'cannot drop stream % because continuous views read it', stream
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Continuous views: %s.', views),
                  HINT = 'Drop the views first, or use stream_ext.drop_stream(stream, cascade => true).';
    END IF;
    RETURN views IS NOT NULL;
END;
$$;
COMMENT ON FUNCTION stream_ext._check_drop_stream(regclass, boolean) IS
    'internal: drop_stream''s checks: the table is a stream, and what reads or feeds it may go';

CREATE FUNCTION stream_ext.drop_stream(stream regclass, "cascade" boolean DEFAULT false)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_drop_stream';
COMMENT ON FUNCTION stream_ext.drop_stream(regclass, boolean) IS
    'drops a stream with its events; with cascade, also the continuous views that read it and the triggers of tables that feed it';

CREATE FUNCTION stream_ext._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    what text;
BEGIN
    -- A segment goes only with its stream.
    SELECT d.object_identity INTO what
      FROM pg_event_trigger_dropped_objects() d
      JOIN stream_ext.segment g ON g.partition::oid = d.objid
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND NOT EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() p
                        WHERE p.classid = 'pg_class'::regclass AND p.objsubid = 0
                          AND p.objid = g.stream::oid)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot drop % on its own', what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'It is a segment of a stream and holds its events.',
                  HINT = 'Use stream_ext.drop_stream() to drop the stream with its segments.';
    END IF;

    -- Nor can a stream's event-time column go.
    SELECT d.object_identity INTO what
      FROM pg_event_trigger_dropped_objects() d
      JOIN stream_ext.stream s ON s.relid::oid = d.objid
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid <> 0
       AND d.address_names[3] = s.event_time
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot drop column %', what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'It is the event time of a stream.',
                  HINT = 'Drop the stream with stream_ext.drop_stream() instead.';
    END IF;

    DELETE FROM stream_ext.source x
     USING pg_event_trigger_dropped_objects() d
     WHERE (d.classid = 'pg_trigger'::regclass
            AND d.object_identity = quote_ident(x.trigger) || ' on ' || x.source::text)
        OR (d.classid = 'pg_class'::regclass AND d.objsubid = 0
            AND d.objid IN (x.source::oid, x.stream::oid));

    DELETE FROM stream_ext.continuous_view v
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND v.result::oid = d.objid;

    -- A dropped view's dead letters go with it; a dropped stream's too.
    DELETE FROM stream_ext.dead_letter x
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND d.objid IN (x.view::oid, x.stream::oid);

    DELETE FROM stream_ext.stream s
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND s.relid::oid = d.objid;
END;
$$;

-- Before DROP EXTENSION (utility.c): what stream_ext made of the user's
-- tables goes, the tables and their data stay.  Streams become plain
-- partitioned tables (their segments move to the stream's schema; the
-- tag column stays, without its default and check), result tables plain
-- tables, trigger-fed sources plain tables again; state tables and the
-- views that read them (sliding windows) go with the extension.
CREATE FUNCTION stream_ext._release_user_objects()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.result, c.kind, c.state_table, k.relkind
               FROM stream_ext.continuous_view c JOIN pg_class k ON k.oid = c.result LOOP
        IF r.kind = 'view' AND r.relkind = 'v' THEN
            EXECUTE format('DROP VIEW %s', r.result);
        ELSIF r.kind = 'view' THEN
            EXECUTE format('DROP TRIGGER IF EXISTS stream_ext_guard ON %s', r.result);
        END IF;
    END LOOP;
    FOR r IN SELECT c.state_table FROM stream_ext.continuous_view c
              WHERE c.state_table IS NOT NULL AND to_regclass(c.state_table::text) IS NOT NULL LOOP
        EXECUTE format('DROP TABLE %s', r.state_table);
    END LOOP;
    FOR r IN SELECT x.trigger, x.source FROM stream_ext.source x LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.trigger, r.source);
    END LOOP;
    FOR r IN SELECT g.partition, n.nspname, g.stream FROM stream_ext.segment g
               JOIN pg_class c ON c.oid = g.stream JOIN pg_namespace n ON n.oid = c.relnamespace LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS stream_ext_append_only ON %s', r.partition);
        EXECUTE format('ALTER TABLE %s SET SCHEMA %I', r.partition, r.nspname);
    END LOOP;
    FOR r IN SELECT s.relid FROM stream_ext.stream s LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN stream_ext_tx DROP DEFAULT', r.relid);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS stream_ext_tx_check', r.relid);
        EXECUTE format('DROP TRIGGER IF EXISTS stream_ext_append_only ON %s', r.relid);
    END LOOP;
END;
$$;

CREATE EVENT TRIGGER stream_ext_sql_drop ON sql_drop
    EXECUTE FUNCTION stream_ext._on_sql_drop();

-- After ALTER TABLE on a stream: its event-time column must still exist
-- under its name, and its segments must still be its partitions.
CREATE FUNCTION stream_ext._on_alter_table()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT s.relid, s.event_time
               FROM pg_event_trigger_ddl_commands() c
               JOIN stream_ext.stream s ON s.relid::oid = c.objid
                 OR s.relid::oid IN (SELECT g.stream::oid FROM stream_ext.segment g
                                      WHERE g.partition::oid = c.objid)
              WHERE c.classid = 'pg_class'::regclass LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = r.relid AND a.attname = r.event_time
                          AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'cannot rename column "%" of stream %', r.event_time, r.relid
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'It is the event time of the stream.';
        END IF;
        IF EXISTS (SELECT 1 FROM stream_ext.segment g
                    WHERE g.stream = r.relid
                      AND NOT EXISTS (SELECT 1 FROM pg_inherits i
                                       WHERE i.inhrelid = g.partition AND i.inhparent = r.relid)) THEN
            RAISE EXCEPTION 'cannot detach a segment of stream %', r.relid
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Segments hold the events of the stream.',
                      HINT = 'Use stream_ext.drop_stream() to drop the stream with its segments.';
        END IF;
    END LOOP;
END;
$$;

CREATE EVENT TRIGGER stream_ext_alter_table ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION stream_ext._on_alter_table();

