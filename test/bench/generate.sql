-- Seeded events, one csv file per COPY statement (see bench.sh).
SELECT format('COPY (SELECT (i * 7919) %% 1000,
                            round((20 + ((i * 37) %% 1000) / 100.0 + ((i * 13) %% 7) / 10.0)::numeric, 2),
                            timestamptz ''2026-01-01 00:00:00+00''
                              + (i::float8 * 3600 / %s + (i * 31) %% 5) * interval ''1 second''
                       FROM generate_series(%s::int8, %s::int8) i)
              TO %L (FORMAT csv)',
              :events, c * :chunk + 1, least((c + 1) * :chunk, :events),
              :'dir' || '/events_' || c || '.csv')
  FROM generate_series(0, (:events - 1) / :chunk) c \gexec
