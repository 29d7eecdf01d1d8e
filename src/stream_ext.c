/*-------------------------------------------------------------------------
 *
 * stream_ext.c
 *	  Module load: refuses to load outside shared_preload_libraries,
 *	  defines the GUCs and installs the hooks of the other files.
 *
 * Nothing here touches events; every hook it installs is chained to the
 * one that was installed before it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "stream_ext.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

bool		stream_ext_enabled = true;
int			stream_ext_max_workers = 8;
int			stream_ext_max_workers_per_database = 1;
int			stream_ext_idle_interval = 1000;
int			stream_ext_batch_interval = 20;
int			stream_ext_batch_size = 1000000;
int			stream_ext_max_batch_attempts = 3;
int			stream_ext_segment_size = 4096;
int			stream_ext_work_mem = 65536;
int			stream_ext_max_streams = 1024;
bool		stream_ext_restoring = false;
char	   *stream_ext_injection_point = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void stream_ext_shmem_request(void);
static void stream_ext_shmem_startup(void);

/*
 * _PG_init loads the module.  Background workers and shared memory need
 * the library in shared_preload_libraries, so loading it any other way
 * (CREATE EXTENSION without it, or LOAD) is an error with a hint.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stream_ext must be loaded via shared_preload_libraries"),
				 errdetail("stream_ext runs background workers and keeps state in shared memory, which can only be set up at server start."),
				 errhint("Add stream_ext to shared_preload_libraries in postgresql.conf and restart the server.")));

	DefineCustomBoolVariable("stream_ext.enabled",
							 "Runs stream_ext's background workers.",
							 "When off, the launcher stops every worker and starts none; events are still stored.",
							 &stream_ext_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.max_workers",
							"Maximum number of stream_ext workers in all databases (each database with the extension gets one before any gets an extra one).",
							"Each is a background worker: max_worker_processes must leave room for them and the launcher.",
							&stream_ext_max_workers,
							8, 1, 1000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.max_workers_per_database",
							"Most stream_ext workers that apply batches in one database at once.",
							"Each stream is applied by one worker at a time; a database's extra workers start while several of its streams have a backlog, and exit when idle.  The default is half the server's cores, at least 1 and at most 8.",
							&stream_ext_max_workers_per_database,
							StreamDefaultWorkersPerDatabase(), 1, 64,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.idle_interval",
							"How often an idle worker or the launcher wakes up without being signalled.",
							NULL,
							&stream_ext_idle_interval,
							1000, 10, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.batch_interval",
							"Shortest time between the starts of two rounds of batches while events keep coming.",
							"Events committed meanwhile go into the next, larger batch: less work per event, results later by up to this much.  flush() does not wait for it; 0 starts a round as soon as the last one ends.",
							&stream_ext_batch_interval,
							20, 0, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.batch_size",
							"Most events a worker applies to a continuous view in one batch.",
							"A transaction's events are never split: a batch ends after the transaction that reaches the limit.  A view's batch_size overrides it.",
							&stream_ext_batch_size,
							1000000, 1, INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.work_mem",
							"Memory a batch's sorts and hash tables may use before spilling to disk.",
							"The worker's work_mem while it applies batches (hash tables get hash_mem_multiplier times as much); a batch of a million events into a million groups needs about 500 MB not to spill.",
							&stream_ext_work_mem,
							65536, 64, MAX_KILOBYTES,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.max_batch_attempts",
							"Times a batch may be begun without finishing before its view is put in error.",
							"A batch that keeps crashing the worker would otherwise restart it forever.",
							&stream_ext_max_batch_attempts,
							3, 1, 1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.segment_size",
							"Size at which a stream's current segment is retired for a new one, unless set for the stream (set_segment_size).",
							"A retired segment is truncated once every continuous view of the stream has consumed it; a batch reads the segments not truncated yet.",
							&stream_ext_segment_size,
							4096, 8, INT_MAX / 2,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("stream_ext.max_streams",
							"Maximum number of streams in all databases of the cluster.",
							"Sizes the shared memory that holds each stream's current segment.",
							&stream_ext_max_streams,
							1024, 16, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("stream_ext.injection_point",
							   "For tests: the point of the batch cycle where workers stop and wait.",
							   "One of batch-bounds, batch-applied, batch-progress, batch-committed, prune-truncated; empty for none.  A worker waiting there shows it in pg_stat_activity until it is killed.",
							   &stream_ext_injection_point,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("stream_ext.restoring",
							 "Accepts events with their stored tags, as pg_restore loads them.",
							 "Set it for the pg_restore session only: PGOPTIONS='-c stream_ext.restoring=on'.",
							 &stream_ext_restoring,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("stream_ext");

	StreamRegisterLauncher();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stream_ext_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stream_ext_shmem_startup;

	StreamUtilityInstallHook();
	StreamPartialInstallHooks();
}

/*
 * stream_ext_shmem_request asks for the shared memory and locks of every
 * file; PostgreSQL 15 allows it only from this hook.
 */
static void
stream_ext_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	StreamShmemRequest();
	RequestAddinShmemSpace(StreamLauncherShmemSize());
}

/*
 * stream_ext_shmem_startup creates or attaches to the shared memory.
 */
static void
stream_ext_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	StreamShmemInit();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	StreamLauncherShmemInit();
	LWLockRelease(AddinShmemInitLock);
}
