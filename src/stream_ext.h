/*-------------------------------------------------------------------------
 *
 * stream_ext.h
 *	  Declarations shared by the files of stream_ext.
 *
 * The data flow, and the file that owns each stage:
 *
 *	ingest.c	events arrive: the transaction tag every event carries, and
 *				COPY into a stream without a column list
 *	segment.c	where events are stored: the segment partitions of a stream
 *	stream_api.c	create_stream() and drop_stream()
 *	source.c	trigger-fed streams: attach_source() and the trigger of sources
 *	batch.c		which events a batch holds: event transactions against snapshots
 *	view.c		a continuous view's query: checks, output streams, append tables
 *	view_create.c	create_continuous_view(): definition, tables, catalog row
 *	view_definition.c  a view's definition in the catalog, the batch part
 *				generated from it (kept by the worker), renames followed
 *	view_replace.c	replace_continuous_view()
 *	transform.c	create_transform(): continuous transforms
 *	view_api.c	pause, resume and drop of a view or transform by name
 *	result_table.c	the table of a view's groups: where each state lives
 *	batch_statement.c  a view's part of a batch statement, and the statement
 *				of a batch: batch_partial.c (states of the batch),
 *				batch_merge.c (the upsert that folds them), batch_windows.c
 *				(watermark, closed windows, retention), batch_outputs.c
 *				(appends, output streams, notifications, what a batch did)
 *	window.c	event-time windows: the window key, when it ends, late events
 *	apply.c		the worker applying each view's batches, as the view's owner
 *	guard.c		result and state tables written by batches only
 *	prune.c		bounded storage: segments retired and truncated, retention
 *	restore.c	a dump restored into another cluster: its ids renumbered
 *	flush.c		flush(): waiting until the views have caught up
 *	partial.c	partial aggregation: aggregates split into transition,
 *				combine and final steps, run by the executor
 *	shmem.c		shared memory: the segment each stream currently fills
 *	launcher.c	the launcher, and the registry of per-database workers
 *	worker.c	the per-database worker's loop
 *	utility.c	the utility hook: COPY, database commands, RENAME and SET
 *				SCHEMA, DROP EXTENSION
 *	ddl.c		native DDL: CREATE TABLE ... WITH (stream_ext.event_time),
 *				CREATE/ALTER/DROP MATERIALIZED VIEW ... (stream_ext.continuous)
 *	upgrade.c	ALTER EXTENSION UPDATE from 0.1.0: the views' tables and
 *				definitions, the sources' triggers
 *	privilege.c	running internal steps as the extension's owner, and
 *				calling internal functions for the SQL functions
 *	citus.c		beside Citus: tables Citus manages refused as stream_ext's,
 *				and stream_ext's refused to Citus's table functions
 *	stream_ext.c	module load, GUCs and hooks
 *
 *-------------------------------------------------------------------------
 */
#ifndef STREAM_EXT_H
#define STREAM_EXT_H

#include "access/transam.h"
#include "fmgr.h"
#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "nodes/pg_list.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"

/*
 * Every event carries a tag in the column STREAM_TAG_COLUMN: the segment
 * slot it was routed to in the high bits, and the low 48 bits of the
 * full (epoch-extended) id of the top-level transaction that inserted it.
 * The stream is range-partitioned on the tag, one partition per slot, so
 * the slot bits route the event, and the transaction bits tell a worker
 * whether the event was already visible to the snapshot of an earlier
 * batch.  48 bits of full transaction id last for 2^16 epochs.
 */
/*
 * The version of the extension's SQL objects this library runs with
 * (default_version in stream_ext.control); a worker leaves a database
 * with another version alone until ALTER EXTENSION stream_ext UPDATE.
 */
#define STREAM_EXT_VERSION		"0.2.0"

#define STREAM_TAG_COLUMN		"stream_ext_tx"
#define STREAM_TAG_SLOT_SHIFT	48
#define STREAM_TAG_XID_MASK		((UINT64CONST(1) << STREAM_TAG_SLOT_SHIFT) - 1)
#define STREAM_MAX_SLOTS		32767

#define StreamTagMake(slot, fxid) \
	((int64) (((uint64) (slot) << STREAM_TAG_SLOT_SHIFT) | \
			  (U64FromFullTransactionId(fxid) & STREAM_TAG_XID_MASK)))
#define StreamTagSlot(tag)		((int) ((uint64) (tag) >> STREAM_TAG_SLOT_SHIFT))

/* Why a worker exited (StreamWorkerSlot.exit_reason). */
typedef enum StreamWorkerExit
{
	STREAM_WORKER_RUNNING = 0,
	STREAM_WORKER_NO_EXTENSION,	/* its database lacks the extension */
	STREAM_WORKER_STOPPED,		/* asked to stop */
	STREAM_WORKER_IDLE			/* an extra worker with nothing left to do */
} StreamWorkerExit;

/* A per-database worker in the launcher's registry (launcher.c). */
typedef struct StreamWorkerSlot
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		pid;			/* set by the worker once running */
	Latch	   *latch;			/* the worker's latch, to wake it */
	bool		stop_requested;
	StreamWorkerExit exit_reason;
	uint64		generation;		/* launcher's generation when started */
	Oid			restart_dboid;	/* database whose worker failed here ... */
	TimestampTz restart_at;		/* ... and when to start it again */
	pg_atomic_uint64 requests;	/* wake-ups asked for (commits, flushes) */
	pg_atomic_uint64 flushes;	/* of which flush() calls (not delayed) */
	bool		extra;			/* not its database's first worker */
	Oid			claimed;		/* the stream it applies batches of, or 0 */
	int			wanted;			/* workers its last round could have kept busy */
} StreamWorkerSlot;

/* GUCs (stream_ext.c) */
extern bool stream_ext_enabled;
extern int	stream_ext_max_workers;
extern int	stream_ext_max_workers_per_database;
extern int	stream_ext_idle_interval;
extern int	stream_ext_batch_interval;
extern int	stream_ext_max_streams;
extern int	stream_ext_batch_size;
extern int	stream_ext_max_batch_attempts;
extern int	stream_ext_segment_size;
extern int	stream_ext_work_mem;
extern bool stream_ext_restoring;
extern char *stream_ext_injection_point;

/* launcher.c */
extern Datum stream_ext_worker_state(PG_FUNCTION_ARGS);
extern Size StreamLauncherShmemSize(void);
extern void StreamLauncherShmemInit(void);
extern void StreamRegisterLauncher(void);
extern StreamWorkerSlot *StreamWorkerSlotGet(int slotno);
extern bool StreamClaimStream(StreamWorkerSlot *me, Oid stream);
extern void StreamReleaseStream(StreamWorkerSlot *me);
extern void StreamWantWorkers(StreamWorkerSlot *me, int wanted);
extern int	StreamDefaultWorkersPerDatabase(void);
extern PGDLLEXPORT void StreamLauncherMain(Datum main_arg);
extern void StreamStopDatabaseWorker(Oid dboid);
extern void StreamWakeWorkerAtCommit(void);
extern void StreamWakeDatabaseWorker(Oid dboid, bool flush);
extern ConditionVariable *StreamFlushCV(void);

/* batch_statement.c */
#define STREAM_BATCH_CTE		"stream_ext_batch"
/*
 * Per view, a batch statement returns VIEW_BATCH_COLUMNS columns: the
 * VIEW_OUTCOME_COLUMNS counters and times the view's catalog row takes
 * (rows written, notifications sent and skipped, late events, windows
 * closed, corrections, max event time, watermark), then the number of
 * events of the batch, if the view counted them.
 */
#define VIEW_OUTCOME_COLUMNS	8
#define VIEW_BATCH_COLUMNS		9
struct List;
extern char *StreamBatchStatement(Oid stream, struct List *columns,
								  struct List *parts, struct List *fragments, bool ranged,
								  bool bounded, bool skipping);
extern char *StreamBatchEventsStatement(Oid stream, bool ranged, bool bounded);
extern char *StreamAssembleFragment(struct List *parts, Oid result, Oid state, Oid append,
									Oid output, bool plain_into_empty);

/* window.c */
extern char *StreamEventTimeColumn(Oid stream);
typedef struct StreamWindow
{
	int			key;			/* which grouping key (k1..kn) is the window */
	bool		hop;			/* hop()'s window_start or window_end, else tumble() */
	bool		is_end;			/* the key is the window's end */
	char	   *ts_column;		/* the stream's event_time column */
	Oid			ts_type;
	char	   *size;			/* SQL of the constants */
	char	   *slide;
	char	   *origin;
	int			hop_rti;		/* hop(): its range table entry */
	int64		pane_us;		/* hop(): the pane, gcd of size and slide, in us */
	int			windows;		/* hop(): windows an event is in, ceil(size / slide) */
} StreamWindow;
struct Query;
extern StreamWindow *StreamFindWindow(struct Query *query, int stream_rti, Oid stream,
									  struct List *keys);
extern char *StreamWindowEnd(StreamWindow *window, const char *key_sql);
extern char *StreamWindowKeyAfter(StreamWindow *window, const char *key_sql,
								  const char *bound_sql);
extern char *StreamWindowLateEvents(StreamWindow *window, const char *wm_sql);
extern char *StreamWindowEventClosed(StreamWindow *window, const char *ts_sql,
									 const char *wm_sql);
extern bool StreamHopToPanes(struct Query *query, StreamWindow *window, struct List *keys);
extern int	StreamHopColumn(struct Node *expr, StreamWindow *window);

/* apply.c */
extern bool StreamApplyViews(bool *more);
extern bool StreamRetriesPending(void);

/* worker.c */
extern PGDLLEXPORT void StreamWorkerMain(Datum main_arg);
extern StreamWorkerSlot *MyStreamWorkerSlot;

/* shmem.c */
extern Size StreamShmemSize(void);
extern void StreamShmemRequest(void);
extern void StreamShmemInit(void);
extern int	StreamCurrentSlot(Oid relid);
extern void StreamForgetSlot(Oid relid);
extern int	StreamPeekSlot(Oid relid);
extern void StreamSetSlot(Oid relid, int slot);
extern void StreamAddEvents(Oid relid, uint64 events);
extern uint64 StreamEventsCommitted(Oid relid, uint64 *commits);

/* guard.c */
extern bool StreamApplyingBatch;

/* prune.c */
extern bool StreamPruneStreams(void);

/* restore.c */
extern void StreamCheckRestored(Oid relid, int64 system_identifier);
extern void StreamCheckStreamRestored(Oid relid);

/* ingest.c */
struct PlannedStmt;
extern struct PlannedStmt *StreamCopyDefaultColumns(struct PlannedStmt *pstmt,
													bool readOnlyTree);
extern bool RelationIsStream(Oid relid);

/* source.c */
extern void StreamAttachOperation(Oid source, Oid stream, const char *operation, Oid owner,
								  const char *operation_column, const char *trigger,
								  TimestampTz attached_at);

/* segment.c */
struct ArrayType;
extern char *StreamQualifiedName(Oid relid);
extern void StreamRegisterStream(Oid relid, const char *event_time, const char *arrival,
								 int segments, struct ArrayType *reloptions);

/* view_api.c */
extern Oid	StreamRelationByName(text *name);
extern void StreamDropView(Oid view);

/* utility.c */
extern void StreamUtilityInstallHook(void);
extern bool StreamRunningOwnDDL;

/* ddl.c: native DDL (utility.c) */
struct CreateStmt;
struct CreateTableAsStmt;
struct DropStmt;
struct Node;
typedef struct StreamDeclaration StreamDeclaration;
extern StreamDeclaration *StreamDDLStreamTable(struct CreateStmt *stmt, struct CreateStmt **plain);
extern void StreamDDLRegisterStream(StreamDeclaration *declaration);
extern bool StreamDDLCreateView(struct CreateTableAsStmt *stmt);
extern struct DropStmt *StreamDDLDropViews(struct DropStmt *stmt);
extern struct Node *StreamDDLAlterView(struct Node *parsetree);
extern void StreamDDLOwnerChanged(Oid relid);

/* view_definition.c (around RENAME and SET SCHEMA) */
extern List *StreamDefinitionsBeforeDDL(struct Node *parsetree);
extern void StreamDefinitionsAfterDDL(List *analyzed, struct Node *parsetree);

/* result_table.c: one DDL statement of stream_ext's own */
extern void StreamRunDDL(const char *sql);

/* partial.c */
struct Aggref;
extern void StreamPartialInstallHooks(void);
extern Oid	StreamAggregateStateType(struct Aggref *aggref);

/* worker.c */
struct ErrorData;
struct ResourceOwnerData;
extern void StreamInjectionPoint(const char *name);
extern struct ErrorData *StreamRecoverFromError(MemoryContext cxt,
												struct ResourceOwnerData *owner);

/* citus.c */
struct Query;
extern bool StreamCitusTable(Oid relid);
extern void StreamCheckNotCitusTable(Oid relid, const char *as_what);
extern void StreamCheckCitusCalls(struct Query *query);

/* privilege.c */
extern Oid	StreamExtensionOwner(void);
extern char *StreamInstalledVersion(void);
extern void StreamCheckVersion(void);
extern void StreamCheckOwner(Oid relid);
extern void StreamSwitchToExtensionOwner(Oid *save_userid, int *save_sec_context,
										 int *save_nestlevel);
extern void StreamRestoreUser(Oid save_userid, int save_sec_context,
							  int save_nestlevel);
extern Datum StreamCallInternal(const char *name, int nargs, Oid *argtypes,
								Datum *values, bool *nulls, bool *isnull);
extern Datum StreamForwardInternal(FunctionCallInfo fcinfo, const char *name, int nargs,
								   Oid *argtypes, bool *isnull);

#endif							/* STREAM_EXT_H */
