-- ---------------------------------------------------------------------
-- Windows: [start, end) bins of event time, aligned like date_bin()
-- ---------------------------------------------------------------------

-- The number of hopping windows of the given size, starting every slide,
-- that hold an event: ceil(size / slide), once size and slide are checked.
-- hop() calls it where it is always evaluated (the bound of its series).
CREATE FUNCTION stream_ext.hop_windows(size interval, slide interval)
RETURNS int4
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF size <= interval '0' OR slide <= interval '0' THEN
        RAISE EXCEPTION 'window size and slide must be positive, not % and %', size, slide
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF extract(month FROM size) <> 0 OR extract(year FROM size) <> 0
       OR extract(month FROM slide) <> 0 OR extract(year FROM slide) <> 0 THEN
        RAISE EXCEPTION 'windows of months or years are not supported'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Use days, e.g. ''30 days'', or group by date_trunc(''month'', ts).';
    END IF;
    -- Every event is in size / slide windows: bounded, or one event could
    -- make a batch write without end.
    IF extract(epoch FROM size) / extract(epoch FROM slide) > 10000 THEN
        RAISE EXCEPTION 'a hopping window of % every % puts each event in % windows', size, slide,
                        ceil(extract(epoch FROM size) / extract(epoch FROM slide))
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'At most 10000 windows per event are supported.',
                  HINT = 'Use a longer slide or a shorter size.';
    END IF;
    RETURN ceil(date_part('epoch', size) / date_part('epoch', slide))::int4;
END;
$$;
COMMENT ON FUNCTION stream_ext.hop_windows(interval, interval) IS
    'the number of hopping windows of the given size, starting every slide, that hold each event';

CREATE FUNCTION stream_ext.tumble(ts timestamptz, size interval,
                                  origin timestamptz DEFAULT '2000-01-01 00:00:00+00')
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.date_bin(size, ts, origin);
COMMENT ON FUNCTION stream_ext.tumble(timestamptz, interval, timestamptz) IS
    'start of the tumbling window of the given size that contains ts, windows aligned on origin';

CREATE FUNCTION stream_ext.tumble(ts timestamp, size interval,
                                  origin timestamp DEFAULT '2000-01-01 00:00:00')
RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.date_bin(size, ts, origin);
COMMENT ON FUNCTION stream_ext.tumble(timestamp, interval, timestamp) IS
    'start of the tumbling window of the given size that contains ts, windows aligned on origin';

CREATE FUNCTION stream_ext.hop(ts timestamptz, size interval, slide interval,
                               origin timestamptz DEFAULT '2000-01-01 00:00:00+00',
                               OUT window_start timestamptz, OUT window_end timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE ROWS 4
AS $$
    -- The window starting in the slide that holds ts and the ceil(size /
    -- slide) - 1 before it, those that still hold ts; an infinite ts is in
    -- the one window [ts, ts), as tumble() puts it, a NULL one in none.
    -- One SELECT over an integer series with constant bounds (once inlined
    -- into a view's query): the planner knows how many windows an event is
    -- in, and joins the series without a subquery per event.
    SELECT CASE WHEN pg_catalog.isfinite(ts)
                THEN pg_catalog.date_bin(slide, ts, origin) OPERATOR(pg_catalog.-) (slide OPERATOR(pg_catalog.*) i)
                ELSE ts END,
           CASE WHEN pg_catalog.isfinite(ts)
                THEN pg_catalog.date_bin(slide, ts, origin) OPERATOR(pg_catalog.-) (slide OPERATOR(pg_catalog.*) i)
                     OPERATOR(pg_catalog.+) size
                ELSE ts END
      FROM pg_catalog.generate_series(0, stream_ext.hop_windows(size, slide) OPERATOR(pg_catalog.-) 1) i
     WHERE CASE WHEN pg_catalog.isfinite(ts)
                THEN pg_catalog.date_bin(slide, ts, origin) OPERATOR(pg_catalog.-) (slide OPERATOR(pg_catalog.*) i)
                     OPERATOR(pg_catalog.+) size OPERATOR(pg_catalog.>) ts
                ELSE ts IS NOT NULL AND i OPERATOR(pg_catalog.=) 0 END
$$;
COMMENT ON FUNCTION stream_ext.hop(timestamptz, interval, interval, timestamptz) IS
    'the hopping windows [window_start, window_end) of the given size, starting every slide, that contain ts';

