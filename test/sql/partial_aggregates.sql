--
-- Partial aggregation through the executor (partial.c): for every
-- aggregate of pg_catalog that has a combine function, compute the
-- transition states of three parts of the rows, combine them into one
-- state, finalize it, and compare with the aggregate run once over all
-- rows (the oracle).  Exact types must match exactly; float results
-- within rounding (the summation order differs).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;

CREATE TABLE agg_input AS
SELECT i,
       i % 7 AS g,
       CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 37 % 1000)::int2 END AS i2,
       CASE WHEN i % 13 = 0 THEN NULL ELSE i * 7919 % 100003 END AS i4,
       (i::int8 * 104729) % 1000000007 AS i8,
       ((i * 31 % 997) / 7.0)::float4 AS f4,
       CASE WHEN i % 17 = 0 THEN NULL ELSE (i * 7919 % 1000) / 10.0::float8 END AS f8,
       (i * 613 % 1009) / 3.0::float8 AS f8b,
       CASE WHEN i % 19 = 0 THEN NULL ELSE (i * 7919 % 100003)::numeric / 7 END AS n,
       i % 5 = 0 AS b,
       (i % 256)::bit(8) AS bt,
       chr(65 + i % 26)::char(1) AS c,
       date '2026-01-01' + i % 400 AS d,
       ('10.0.' || i % 256 || '.' || i % 200)::inet AS ip,
       make_interval(secs => i * 37 % 86400) AS iv,
       (i % 1000)::money AS m,
       (i * 7 % 5000)::oid AS o,
       ('0/' || to_hex(i * 4099))::pg_lsn AS lsn,
       md5(i::text) AS t,
       ('(' || i % 300 || ',' || i % 50 || ')')::tid AS ti,
       (time '00:00' + make_interval(secs => i * 13 % 86400))::timetz AS tmtz,
       time '00:00' + make_interval(secs => i * 17 % 86400) AS tm,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => i * 101 % 1000000) AS tstz,
       timestamp '2026-01-01 00:00:00' + make_interval(secs => i * 103 % 1000000) AS ts,
       (i * 3)::text::xid8 AS x8
  FROM generate_series(1, 3000) i;

-- Columns to pass for each argument type: first, second argument.
CREATE TABLE agg_columns (typ regtype, col1 text, col2 text);
INSERT INTO agg_columns VALUES
    ('int2', 'i2', 'i2'), ('int4', 'i4', 'i4'), ('int8', 'i8', 'i8'),
    ('float4', 'f4', 'f4'), ('float8', 'f8', 'f8b'), ('numeric', 'n', 'n'),
    ('bool', 'b', 'b'), ('bit', 'bt', 'bt'), ('bpchar', 'c', 'c'), ('date', 'd', 'd'),
    ('inet', 'ip', 'ip'), ('interval', 'iv', 'iv'), ('money', 'm', 'm'), ('oid', 'o', 'o'),
    ('pg_lsn', 'lsn', 'lsn'), ('text', 't', 't'), ('tid', 'ti', 'ti'),
    ('timetz', 'tmtz', 'tmtz'), ('time', 'tm', 'tm'), ('timestamptz', 'tstz', 'tstz'),
    ('timestamp', 'ts', 'ts'), ('xid8', 'x8', 'x8'), ('"any"', 'i4', 'i4');

CREATE TABLE agg_results (aggregate text, args text, state_type text, ok boolean, detail text);

DO $$
DECLARE
    a record;
    call text;
    nulls text;
    state_type text;
    bad bigint;
BEGIN
    FOR a IN
        SELECT p.oid, p.proname, p.proargtypes::regtype[] AS argtypes, p.prorettype,
               ag.aggtranstype
          FROM pg_aggregate ag JOIN pg_proc p ON p.oid = ag.aggfnoid
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND ag.aggkind = 'n' AND ag.aggcombinefn <> 0
         ORDER BY p.proname, p.proargtypes::regtype[]::text
    LOOP
        -- Skip polymorphic signatures other than count("any"), and types
        -- without a test column.
        IF EXISTS (SELECT 1 FROM unnest(a.argtypes) t
                    WHERE NOT EXISTS (SELECT 1 FROM agg_columns c WHERE c.typ = t)) THEN
            CONTINUE;
        END IF;
        IF a.aggtranstype IN ('anyelement'::regtype, 'anyarray'::regtype,
                              'anycompatible'::regtype, 'anycompatiblearray'::regtype) THEN
            CONTINUE;
        END IF;

        SELECT coalesce(string_agg(CASE WHEN n = 1 THEN c.col1 ELSE c.col2 END, ', ' ORDER BY n), '*'),
               coalesce(string_agg(format('NULL::%s', CASE WHEN t = '"any"'::regtype THEN 'int4'::regtype ELSE t END), ', ' ORDER BY n), '*')
          INTO call, nulls
          FROM unnest(a.argtypes) WITH ORDINALITY u(t, n) JOIN agg_columns c ON c.typ = u.t;
        IF call = '*' AND a.proname <> 'count' THEN
            CONTINUE;
        END IF;
        state_type := CASE WHEN a.aggtranstype = 'internal'::regtype THEN 'bytea'
                           ELSE format_type(a.aggtranstype, NULL) END;

        EXECUTE format($q$
            CREATE TEMP TABLE parts AS
            SELECT g, stream_ext.partial(pg_catalog.%1$I(%2$s), NULL::%3$s) AS s
              FROM agg_input GROUP BY g, i %% 3$q$, a.proname, call, state_type);
        EXECUTE format($q$
            CREATE TEMP TABLE combined AS
            SELECT g, stream_ext.partial(pg_catalog.%1$I(%2$s) FILTER (WHERE stream_ext.carry(s)), NULL::%3$s) AS s
              FROM parts GROUP BY g$q$, a.proname, nulls, state_type);
        EXECUTE format($q$
            SELECT count(*) FROM (
                SELECT g, pg_catalog.%1$I(%3$s) FILTER (WHERE stream_ext.carry(s)) AS v
                  FROM combined GROUP BY g) f
              FULL JOIN (SELECT g, pg_catalog.%1$I(%2$s) AS v FROM agg_input GROUP BY g) o USING (g)
             WHERE %4$s$q$,
            a.proname, call, nulls,
            CASE WHEN a.prorettype = 'float4'::regtype
                 THEN 'f.v IS DISTINCT FROM o.v AND NOT (abs(f.v - o.v) <= 1e-5 * greatest(abs(o.v), 1))'
                 WHEN a.prorettype = 'float8'::regtype
                 THEN 'f.v IS DISTINCT FROM o.v AND NOT (abs(f.v - o.v) <= 1e-9 * greatest(abs(o.v), 1))'
                 ELSE 'f.v IS DISTINCT FROM o.v' END)
          INTO bad;
        INSERT INTO agg_results VALUES (a.proname, array_to_string(a.argtypes, ','), state_type, bad = 0,
                                        CASE WHEN bad > 0 THEN bad || ' groups differ' END);
        DROP TABLE parts, combined;
    END LOOP;
END
$$;

-- Every tested aggregate matches the oracle.
SELECT aggregate, args, state_type, ok, detail FROM agg_results ORDER BY aggregate, args;
SELECT count(*) AS aggregates_tested, count(*) FILTER (WHERE NOT ok) AS mismatches FROM agg_results;

-- Expressions over several aggregates, FILTER, no GROUP BY.
CREATE TEMP TABLE parts AS
SELECT stream_ext.partial(sum(i4), NULL::int8) AS s1,
       stream_ext.partial(count(*) FILTER (WHERE b), NULL::int8) AS s2,
       stream_ext.partial(avg(f8) FILTER (WHERE g < 3), NULL::float8[]) AS s3
  FROM agg_input GROUP BY i % 4;
SELECT sum(NULL::int4) FILTER (WHERE stream_ext.carry(s1)) / count(*) FILTER (WHERE stream_ext.carry(s2)) AS ratio,
       round(avg(NULL::float8) FILTER (WHERE stream_ext.carry(s3))::numeric, 10) AS avg_f8
  FROM parts;
SELECT sum(i4) / count(*) FILTER (WHERE b) AS ratio,
       round((avg(f8) FILTER (WHERE g < 3))::numeric, 10) AS avg_f8
  FROM agg_input;

-- Aggregates of other extensions: hll (exact: the union of the same
-- registers) and tdigest (within the sketch's error).
CREATE EXTENSION hll;
CREATE EXTENSION tdigest;
CREATE TEMP TABLE sketches AS
SELECT g, stream_ext.partial(hll_add_agg(hll_hash_integer(i4)), NULL::bytea) AS h,
          stream_ext.partial(tdigest_percentile(f8b, 100, 0.95), NULL::bytea) AS p
  FROM agg_input GROUP BY g, i % 3;
SELECT f.g, f.distinct_i4 = o.distinct_i4 AS hll_exact,
       abs(f.p95 - o.p95) < 2 AS tdigest_close
  FROM (SELECT g, hll_cardinality(hll_add_agg(NULL::hll_hashval) FILTER (WHERE stream_ext.carry(h))) AS distinct_i4,
               tdigest_percentile(NULL::float8, NULL::int, NULL::float8) FILTER (WHERE stream_ext.carry(p)) AS p95
          FROM sketches GROUP BY g) f
  JOIN (SELECT g, hll_cardinality(hll_add_agg(hll_hash_integer(i4))) AS distinct_i4,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY f8b) AS p95
          FROM agg_input GROUP BY g) o USING (g)
 ORDER BY g;

-- The plan shows the executor's own partial aggregation.
EXPLAIN (COSTS OFF, VERBOSE)
SELECT g, stream_ext.partial(avg(f8), NULL::float8[]) FROM agg_input GROUP BY g;
EXPLAIN (COSTS OFF)
SELECT avg(NULL::float8) FILTER (WHERE stream_ext.carry(s3)) FROM parts;

-- Misuse is refused.
SELECT stream_ext.partial(avg(f8), NULL::float8) FROM agg_input;
SELECT stream_ext.partial(count(DISTINCT i4), NULL::int8) FROM agg_input;
SELECT stream_ext.partial(string_agg(t, ','), NULL::bytea) FROM agg_input;
SELECT stream_ext.partial(percentile_cont(0.5) WITHIN GROUP (ORDER BY f8), NULL::bytea) FROM agg_input;
SELECT stream_ext.partial(1, NULL::int4);
SELECT stream_ext.partial(sum(i4), NULL::int8), count(*) FROM agg_input;
SELECT g FROM agg_input WHERE stream_ext.carry(g) LIMIT 1;
SELECT avg(NULL::float8) FILTER (WHERE stream_ext.carry(s1)) FROM parts;

DROP TABLE parts, sketches, agg_input, agg_columns, agg_results;
DROP EXTENSION tdigest;
DROP EXTENSION hll;
