-- ---------------------------------------------------------------------
-- Internal functions are not executable by PUBLIC.  The extension's own
-- SQL functions that need them are written in C and call them through
-- the function manager (privilege.c); trigger functions fire whatever
-- their EXECUTE privilege; aggregates' support functions are checked
-- against the aggregate's owner.  Executable by all remain only the pure
-- functions that a view's batches (run as the view's owner), the
-- monitoring views and hop() evaluate as their caller: _system_identifier,
-- _snapshot_before, _detoast, _keep, _checked_slide, _pane,
-- _events_stored and _view_backlog (test/sql/internal_privileges.sql
-- lists them).
-- ---------------------------------------------------------------------

REVOKE ALL ON FUNCTION
    stream_ext._keep_first(anyelement, anyelement),
    stream_ext._guard_result(),
    stream_ext._combine_outside(anyelement, anyelement),
    stream_ext._view_sql(text, text),
    stream_ext._pruning(),
    stream_ext._rebasing(regclass),
    stream_ext._refuse_modification(),
    stream_ext._rebuild_stream(regclass, name, name),
    stream_ext._check_drop_stream(regclass, boolean),
    stream_ext._on_sql_drop(),
    stream_ext._release_user_objects(),
    stream_ext._on_alter_table(),
    stream_ext._rebase_xid(int8, int8[]),
    stream_ext._rebase_tag(int8, int8[]),
    stream_ext._rebase_snapshot(pg_snapshot, int8[]),
    stream_ext._check_source(regclass, regclass, text[], name),
    stream_ext._source_trigger(),
    stream_ext._wake_launcher()
  FROM PUBLIC;

SELECT stream_ext._wake_launcher();
