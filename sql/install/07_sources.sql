-- ---------------------------------------------------------------------
-- Trigger-fed streams (source.c): an ordinary table's writes as events
-- ---------------------------------------------------------------------

CREATE TABLE stream_ext.source (
    source     regclass NOT NULL,             -- the ordinary table
    stream     regclass NOT NULL REFERENCES stream_ext.stream ON DELETE CASCADE,
    operation  text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    trigger    name NOT NULL,                 -- its trigger on the source (source.c)
    owner      regrole NOT NULL,              -- who attached it: the events are inserted as this role
    operation_column name,                    -- the stream's column that says which operation
    attached_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, stream, operation),
    UNIQUE (source, trigger)
);
COMMENT ON TABLE stream_ext.source IS 'stream_ext: tables whose writes feed a stream';
SELECT pg_catalog.pg_extension_config_dump('stream_ext.source', '');
GRANT SELECT ON stream_ext.source TO PUBLIC;

-- attach_source's checks, run as the caller by attach_source (source.c),
-- which records the operations it returns (upper case, once each) and
-- gives the source their triggers.
CREATE FUNCTION stream_ext._check_source(source regclass, stream regclass,
                                         operations text[], operation_column name)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op text;
    st record;
    ops text[] := '{}';
BEGIN
    IF source IS NULL OR stream IS NULL OR operations IS NULL THEN
        RAISE EXCEPTION 'attach_source needs a source, a stream and operations'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT s.* INTO st FROM stream_ext.stream s WHERE s.relid = stream;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not a stream', stream
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Register the table the events go to with stream_ext.create_stream().';
    END IF;
    IF EXISTS (SELECT 1 FROM stream_ext.stream s WHERE s.relid = source) THEN
        RAISE EXCEPTION 'table % is a stream', source
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'A source is an ordinary table; a continuous view reads a stream directly.';
    END IF;
    IF (SELECT relkind FROM pg_class WHERE oid = source) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', source
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'A source is an ordinary or partitioned table.';
    END IF;
    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = source), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', source
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The owner of a table attaches it as a source (it gets triggers).';
    END IF;
    IF cardinality(operations) = 0 OR EXISTS (
           SELECT 1 FROM unnest(operations) o WHERE o IS NULL OR upper(o) NOT IN ('INSERT', 'UPDATE', 'DELETE')) THEN
        RAISE EXCEPTION 'operations must be among INSERT, UPDATE and DELETE'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF operation_column IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pg_attribute a
            WHERE a.attrelid = stream AND a.attname = operation_column AND NOT a.attisdropped
              AND a.atttypid IN ('text'::regtype, 'varchar'::regtype)) THEN
        RAISE EXCEPTION 'stream % has no text column "%"', stream, operation_column
            USING ERRCODE = 'undefined_column',
                  HINT = 'Add a text column to the stream for the operation (INSERT, UPDATE or DELETE).';
    END IF;
    IF operation_column IS NULL AND EXISTS (SELECT 1 FROM unnest(operations) o WHERE upper(o) <> 'INSERT') THEN
        RAISE EXCEPTION 'updates and deletes need an operation column'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass operation_column => the stream''s text column that says INSERT, UPDATE or DELETE.';
    END IF;

    FOREACH op IN ARRAY ARRAY(SELECT DISTINCT upper(o) FROM unnest(operations) o) LOOP
        IF EXISTS (SELECT 1 FROM stream_ext.source x
                    WHERE x.source = _check_source.source AND x.stream = _check_source.stream
                      AND x.operation = op) THEN
            RAISE EXCEPTION '% already feeds % on %', source, stream, op
                USING ERRCODE = 'duplicate_object',
                      HINT = 'stream_ext.detach_source() removes it.';
        END IF;

        ops := ops || op;
    END LOOP;
    RETURN ops;
END;
$$;
COMMENT ON FUNCTION stream_ext._check_source(regclass, regclass, text[], name) IS
    'internal: attach_source''s checks; returns the operations to attach';

CREATE FUNCTION stream_ext._source_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'stream_ext_source_trigger';
COMMENT ON FUNCTION stream_ext._source_trigger() IS
    'internal: the trigger of a source table: inserts each statement''s rows into the streams it feeds';

CREATE FUNCTION stream_ext.attach_source(source regclass, stream regclass,
                                         operations text[] DEFAULT ARRAY['INSERT'],
                                         operation_column name DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'stream_ext_attach_source';
COMMENT ON FUNCTION stream_ext.attach_source(regclass, regclass, text[], name) IS
    'makes the inserts (and, if asked, updates and deletes) of an ordinary table events of a stream';

CREATE FUNCTION stream_ext.detach_source(source regclass, stream regclass DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM stream_ext.source x
                    WHERE x.source = detach_source.source
                      AND (detach_source.stream IS NULL OR x.stream = detach_source.stream)) THEN
        RAISE EXCEPTION 'table % feeds no stream%', source,
                        coalesce(' ' || detach_source.stream::text, '')
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT * FROM stream_ext.source lists the sources.';
    END IF;
    -- Dropping a trigger (which the owner of the source may) makes the
    -- event trigger delete its catalog row.
    FOR t IN SELECT x.trigger FROM stream_ext.source x
              WHERE x.source = detach_source.source
                AND (detach_source.stream IS NULL OR x.stream = detach_source.stream) LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, source);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION stream_ext.detach_source(regclass, regclass) IS
    'stops a table''s writes from feeding a stream (all its streams when stream is NULL)';

