-- Seeded events, one csv file per COPY statement (see bench.sh): event i
-- has sensor ((i / run) * 7919) mod keys -- runs of `run` consecutive
-- events share a sensor, sensors in a fixed scattered order -- a
-- temperature, and a time spanning one hour in order with up to four
-- seconds of jitter.
SELECT format('COPY (SELECT ((i / %s) * 7919) %% %s,
                            round((20 + ((i * 37) %% 1000) / 100.0 + ((i * 13) %% 7) / 10.0)::numeric, 2),
                            timestamptz ''2026-01-01 00:00:00+00''
                              + (i::float8 * 3600 / %s + (i * 31) %% 5) * interval ''1 second''
                       FROM generate_series(%s::int8, %s::int8) i)
              TO %L (FORMAT csv)',
              :run, :keys, :events, c * :chunk + 1, least((c + 1) * :chunk, :events),
              :'dir' || '/events_' || c || '.csv')
  FROM generate_series(0, (:events - 1) / :chunk) c \gexec
