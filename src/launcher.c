/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher background worker, and the registry of per-database
 *	  workers in shared memory.
 *
 * One launcher per cluster, registered in _PG_init, starts after recovery
 * (never on a standby, nor in binary upgrade).  It lists the databases
 * that accept connections and starts one dynamic worker (worker.c) per
 * database; a worker whose database lacks the extension exits and says
 * so, and the launcher leaves that database alone until some CREATE
 * EXTENSION stream_ext commits.  Workers that die are started again.
 *
 * A database can have several workers (stream_ext.max_workers_per_database).
 * They share its streams: each stream is applied by one worker at a time,
 * the one that claimed it in the registry for its batches (a worker skips
 * a stream claimed by another).  A worker tells how many workers its last
 * round could have kept busy (its streams with a backlog, and those other
 * workers held); while that is more than run, the launcher starts extra
 * workers for the database, after every database has its first one.  An
 * extra worker exits when it has had nothing to do for a while, and is
 * asked to when a database without a worker needs its slot.
 *
 * Claims only keep workers from doing the same work twice: exactness does
 * not rest on them.  A batch locks its views' catalog rows in a REPEATABLE
 * READ transaction, so of two batches of the same views only one commits
 * (apply.c).
 *
 * A worker must never stand in the way of DROP DATABASE, ALTER DATABASE
 * ... RENAME or CREATE DATABASE ... TEMPLATE: the utility hook asks the
 * worker of the database to exit, waits for it, and keeps the launcher
 * from restarting it for a few seconds.
 *
 * The launcher holds no database connection and touches no user data.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "stream_ext.h"

/* How long a stopped worker stays stopped for a database command. */
#define DATABASE_COMMAND_PAUSE_MS	5000
/* How long a database command waits for the worker to exit. */
#define DATABASE_COMMAND_WAIT_MS	10000
/* How long the launcher waits before restarting a worker that failed. */
#define WORKER_RESTART_DELAY_MS		1000

/* Databases whose worker must not run for a while. */
#define PAUSES 8

/* Databases listed as waiting for a worker (stream_ext.worker_state()). */
#define WAITING 64

/* Why a database waits for its worker. */
typedef enum StreamWaitReason
{
	WAIT_MAX_WORKERS = 1,		/* every stream_ext.max_workers slot taken */
	WAIT_MAX_WORKER_PROCESSES	/* no background worker slot left */
} StreamWaitReason;

typedef struct StreamLauncherShared
{
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	uint64		generation;		/* counts committed CREATE EXTENSIONs */
	int			unstarted[3];	/* databases waiting, per StreamWaitReason */
	int			nwaiting;		/* the first WAITING of them: */
	Oid			waiting_dboid[WAITING];
	StreamWaitReason waiting_reason[WAITING];
	ConditionVariable flush_cv;	/* broadcast after each round of batches */
	Oid			paused_dboid[PAUSES];
	TimestampTz paused_until[PAUSES];
	StreamWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} StreamLauncherShared;

static StreamLauncherShared *launcher_shared = NULL;
static LWLock *launcher_lock = NULL;

/* Launcher-local: the handle of each slot's worker. */
static BackgroundWorkerHandle **handles = NULL;

/* Backend-local: wake the launcher, or a database's worker, at commit. */
static bool wake_launcher_at_commit = false;
static bool wake_worker_at_commit = false;
static bool xact_callback_registered = false;

static void LauncherScan(List **absent, uint64 *absent_generation,
						 TimestampTz *retry_at);
static List *ListDatabases(void);
static bool StartWorker(int slotno, Oid dboid, bool extra);
static void StartExtraWorkers(List *databases, List *absent, TimestampTz now);
static bool StopExtraWorker(void);
static TimestampTz PausedUntil(Oid dboid);
static void RecordWaiting(Oid *dboids, StreamWaitReason *reasons, int n, int *counts);
static void WakeAtCommit(XactEvent event, void *arg);
static void WakeWorkersOf(Oid dboid, bool flush);
static void WakeAtCommitRequest(bool *flag);

PG_FUNCTION_INFO_V1(stream_ext_wake_launcher);
PG_FUNCTION_INFO_V1(stream_ext_worker_state);

/*
 * StreamLauncherShmemSize is the shared memory of the registry.
 */
Size
StreamLauncherShmemSize(void)
{
	return add_size(offsetof(StreamLauncherShared, slots),
					mul_size(stream_ext_max_workers, sizeof(StreamWorkerSlot)));
}

/*
 * StreamLauncherShmemInit creates or attaches to the registry.
 */
void
StreamLauncherShmemInit(void)
{
	bool		found;

	launcher_shared = ShmemInitStruct("stream_ext launcher",
									  StreamLauncherShmemSize(), &found);
	if (!found)
	{
		memset(launcher_shared, 0, StreamLauncherShmemSize());
		ConditionVariableInit(&launcher_shared->flush_cv);
		for (int i = 0; i < stream_ext_max_workers; i++)
		{
			pg_atomic_init_u64(&launcher_shared->slots[i].requests, 0);
			pg_atomic_init_u64(&launcher_shared->slots[i].flushes, 0);
		}
	}
	launcher_lock = &(GetNamedLWLockTranche("stream_ext"))[1].lock;
}

/*
 * StreamRegisterLauncher registers the launcher; called from _PG_init.
 */
void
StreamRegisterLauncher(void)
{
	BackgroundWorker worker;

	if (IsBinaryUpgrade)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "stream_ext");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "StreamLauncherMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "stream_ext launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "stream_ext launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * StreamWorkerSlotGet returns slot slotno of the registry.
 */
StreamWorkerSlot *
StreamWorkerSlotGet(int slotno)
{
	return &launcher_shared->slots[slotno];
}

/*
 * StreamLauncherMain is the launcher's main loop.
 */
void
StreamLauncherMain(Datum main_arg)
{
	List	   *absent = NIL;	/* databases known to lack the extension */
	uint64		absent_generation = 0;	/* ... as of this generation */
	TimestampTz retry_at = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* Shared catalogs only: enough to list the databases. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("stream_ext launcher");

	handles = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(BackgroundWorkerHandle *) * stream_ext_max_workers);

	/*
	 * Workers of an earlier launcher (it died) cannot be reaped through
	 * handles: ask them to exit and start afresh.
	 */
	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	launcher_shared->launcher_pid = MyProcPid;
	launcher_shared->launcher_latch = MyLatch;
	for (int i = 0; i < stream_ext_max_workers; i++)
	{
		StreamWorkerSlot *slot = &launcher_shared->slots[i];

		if (slot->pid != 0)
			(void) kill(slot->pid, SIGTERM);
	}
	LWLockRelease(launcher_lock);
	for (int i = 0; i < stream_ext_max_workers; i++)
	{
		StreamWorkerSlot *slot = &launcher_shared->slots[i];

		while (slot->pid != 0 && kill(slot->pid, 0) == 0)
		{
			CHECK_FOR_INTERRUPTS();
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		memset(slot, 0, sizeof(StreamWorkerSlot));
		pg_atomic_init_u64(&slot->requests, 0);
		pg_atomic_init_u64(&slot->flushes, 0);
	}

	ereport(LOG, (errmsg("stream_ext launcher started")));

	for (;;)
	{
		long		timeout = stream_ext_idle_interval;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LauncherScan(&absent, &absent_generation, &retry_at);

		if (retry_at != 0)
		{
			long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), retry_at);

			timeout = Min(timeout, Max(ms, 10));
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * LauncherScan reaps workers that exited and starts the missing ones.
 */
static void
LauncherScan(List **absent, uint64 *absent_generation, TimestampTz *retry_at)
{
	TimestampTz now = GetCurrentTimestamp();
	List	   *databases;
	ListCell   *lc;
	int			unstarted[3] = {0, 0, 0};
	Oid			waiting_dboid[WAITING];
	StreamWaitReason waiting_reason[WAITING];
	int			nwaiting = 0;

	*retry_at = 0;

	/* Reap. */
	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	/* A CREATE EXTENSION committed somewhere: look at every database again. */
	if (launcher_shared->generation != *absent_generation)
	{
		*absent_generation = launcher_shared->generation;
		list_free(*absent);
		*absent = NIL;
	}
	for (int i = 0; i < stream_ext_max_workers; i++)
	{
		StreamWorkerSlot *slot = &launcher_shared->slots[i];
		pid_t		pid;

		if (slot->dboid == InvalidOid || handles[i] == NULL)
			continue;
		if (GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
			continue;

		if (slot->exit_reason == STREAM_WORKER_NO_EXTENSION)
		{
			/*
			 * Only if no CREATE EXTENSION committed since the worker started:
			 * it may have looked just before one did.
			 */
			if (slot->generation == *absent_generation)
				*absent = lappend_oid(*absent, slot->dboid);
		}
		else if (slot->exit_reason != STREAM_WORKER_IDLE)
		{
			/* Failed, or stopped: not again right away. */
			slot->restart_dboid = slot->dboid;
			slot->restart_at = TimestampTzPlusMilliseconds(now, WORKER_RESTART_DELAY_MS);
		}
		pfree(handles[i]);
		handles[i] = NULL;
		slot->pid = 0;
		slot->latch = NULL;
		slot->dboid = InvalidOid;
		slot->stop_requested = false;
		slot->exit_reason = STREAM_WORKER_RUNNING;
		slot->extra = false;
		slot->claimed = InvalidOid;
		slot->wanted = 0;
	}
	LWLockRelease(launcher_lock);

	if (!stream_ext_enabled)
	{
		/* Disabled: ask every worker to exit; none is started. */
		LWLockAcquire(launcher_lock, LW_SHARED);
		for (int i = 0; i < stream_ext_max_workers; i++)
		{
			if (handles[i] != NULL)
				TerminateBackgroundWorker(handles[i]);
		}
		LWLockRelease(launcher_lock);
		RecordWaiting(waiting_dboid, waiting_reason, 0, unstarted);
		return;
	}

	databases = ListDatabases();
	foreach(lc, databases)
	{
		Oid			dboid = lfirst_oid(lc);
		int			free_slot = -1;
		bool		running = false;
		TimestampTz not_before = 0;

		if (list_member_oid(*absent, dboid))
			continue;

		LWLockAcquire(launcher_lock, LW_SHARED);
		for (int i = 0; i < stream_ext_max_workers; i++)
		{
			StreamWorkerSlot *slot = &launcher_shared->slots[i];

			if (slot->dboid == dboid)
				running = true;
			else if (slot->dboid == InvalidOid && free_slot < 0)
				free_slot = i;
			if (slot->restart_dboid == dboid)
				not_before = Max(not_before, slot->restart_at);
		}
		not_before = Max(not_before, PausedUntil(dboid));
		LWLockRelease(launcher_lock);

		if (running)
			continue;
		if (not_before > now)
		{
			if (*retry_at == 0 || not_before < *retry_at)
				*retry_at = not_before;
			continue;
		}
		if (free_slot < 0 || !StartWorker(free_slot, dboid, false))
		{
			StreamWaitReason reason = free_slot < 0 ? WAIT_MAX_WORKERS : WAIT_MAX_WORKER_PROCESSES;

			/* A database's first worker before another's extra one. */
			if (free_slot < 0 && StopExtraWorker())
				*retry_at = TimestampTzPlusMilliseconds(now, 10);

			unstarted[reason]++;
			if (nwaiting < WAITING)
			{
				waiting_dboid[nwaiting] = dboid;
				waiting_reason[nwaiting++] = reason;
			}
			if (*retry_at == 0)
				*retry_at = TimestampTzPlusMilliseconds(now, WORKER_RESTART_DELAY_MS);
		}
	}
	RecordWaiting(waiting_dboid, waiting_reason, nwaiting, unstarted);
	if (nwaiting == 0)
		StartExtraWorkers(databases, *absent, now);
}

/*
 * StartExtraWorkers starts, in free slots, the extra workers that the
 * databases' workers asked for (see the top of the file).
 */
static void
StartExtraWorkers(List *databases, List *absent, TimestampTz now)
{
	ListCell   *lc;

	foreach(lc, databases)
	{
		Oid			dboid = lfirst_oid(lc);
		int			running = 0;
		int			wanted = 1;
		int			free_slot = -1;
		bool		stopping = false;

		if (list_member_oid(absent, dboid))
			continue;
		LWLockAcquire(launcher_lock, LW_SHARED);
		for (int i = 0; i < stream_ext_max_workers; i++)
		{
			StreamWorkerSlot *slot = &launcher_shared->slots[i];

			if (slot->dboid == dboid)
			{
				running++;
				wanted = Max(wanted, slot->wanted);
				stopping |= slot->stop_requested;
			}
			else if (slot->dboid == InvalidOid && free_slot < 0)
				free_slot = i;
		}
		/* Not while a database command keeps the database's workers out. */
		stopping |= PausedUntil(dboid) > now;
		LWLockRelease(launcher_lock);
		if (stopping)
			continue;

		/* Only next to a running first worker, and never to wait for a slot. */
		if (running == 0 || free_slot < 0 ||
			running >= Min(wanted, stream_ext_max_workers_per_database))
			continue;
		(void) StartWorker(free_slot, dboid, true);
	}
}

/*
 * PausedUntil returns until when a database command keeps the database's
 * workers out (0: it does not); the caller holds launcher_lock.
 */
static TimestampTz
PausedUntil(Oid dboid)
{
	TimestampTz until = 0;

	for (int i = 0; i < PAUSES; i++)
	{
		if (launcher_shared->paused_dboid[i] == dboid)
			until = Max(until, launcher_shared->paused_until[i]);
	}
	return until;
}

/*
 * StopExtraWorker asks one extra worker to exit, so that its slot goes to
 * a database without a worker, and tells whether there was one.
 */
static bool
StopExtraWorker(void)
{
	bool		found = false;

	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	for (int i = 0; i < stream_ext_max_workers && !found; i++)
	{
		StreamWorkerSlot *slot = &launcher_shared->slots[i];

		if (slot->extra && slot->dboid != InvalidOid)
		{
			found = true;
			if (!slot->stop_requested)
			{
				slot->stop_requested = true;
				if (slot->latch != NULL)
					SetLatch(slot->latch);
			}
		}
	}
	LWLockRelease(launcher_lock);
	return found;
}

/*
 * StreamClaimStream claims a stream for the batches of the worker in slot
 * me (releasing the one it held), unless another worker of its database
 * holds it; it tells whether the stream is the worker's now.
 */
bool
StreamClaimStream(StreamWorkerSlot *me, Oid stream)
{
	bool		free = true;

	if (me == NULL)
		return true;
	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	for (int i = 0; i < stream_ext_max_workers && free; i++)
	{
		StreamWorkerSlot *slot = &launcher_shared->slots[i];

		if (slot != me && slot->dboid == me->dboid && slot->claimed == stream)
			free = false;
	}
	me->claimed = free ? stream : InvalidOid;
	LWLockRelease(launcher_lock);
	return free;
}

/*
 * StreamReleaseStream gives up the stream the worker in slot me holds.
 */
void
StreamReleaseStream(StreamWorkerSlot *me)
{
	if (me == NULL)
		return;
	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	me->claimed = InvalidOid;
	LWLockRelease(launcher_lock);
}

/*
 * StreamWantWorkers records how many workers the last round of the worker
 * in slot me could have kept busy, and wakes the launcher when that is
 * more than its database runs.
 */
void
StreamWantWorkers(StreamWorkerSlot *me, int wanted)
{
	int			running = 0;

	if (me == NULL)
		return;
	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	me->wanted = wanted;
	for (int i = 0; i < stream_ext_max_workers; i++)
		running += launcher_shared->slots[i].dboid == me->dboid;
	if (running < Min(wanted, stream_ext_max_workers_per_database) &&
		launcher_shared->launcher_latch != NULL)
		SetLatch(launcher_shared->launcher_latch);
	LWLockRelease(launcher_lock);
}

/*
 * StreamDefaultWorkersPerDatabase is the default of
 * stream_ext.max_workers_per_database: half the server's cores, at least
 * 1 and at most 8, leaving the other half to the sessions that write.
 */
int
StreamDefaultWorkersPerDatabase(void)
{
	long		cores = sysconf(_SC_NPROCESSORS_ONLN);

	return (int) Max(1, Min(8, cores / 2));
}

/*
 * RecordWaiting publishes which databases wait for a worker, and why, for
 * stream_ext.worker_state().  It logs when more databases wait than it
 * last said (per reason), and once when none waits any more.
 */
static void
RecordWaiting(Oid *dboids, StreamWaitReason *reasons, int n, int *counts)
{
	static int	logged[3] = {0, 0, 0};
	bool		more = false;

	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	memcpy(launcher_shared->unstarted, counts, sizeof(launcher_shared->unstarted));
	memcpy(launcher_shared->waiting_dboid, dboids, sizeof(Oid) * n);
	memcpy(launcher_shared->waiting_reason, reasons, sizeof(StreamWaitReason) * n);
	launcher_shared->nwaiting = n;
	LWLockRelease(launcher_lock);

	for (int r = WAIT_MAX_WORKERS; r <= WAIT_MAX_WORKER_PROCESSES; r++)
		more |= counts[r] > logged[r];
	if (counts[WAIT_MAX_WORKERS] == 0 && counts[WAIT_MAX_WORKER_PROCESSES] == 0)
	{
		if (logged[WAIT_MAX_WORKERS] > 0 || logged[WAIT_MAX_WORKER_PROCESSES] > 0)
			ereport(LOG,
					(errmsg("stream_ext launcher: every database with the extension has its worker again")));
		memset(logged, 0, sizeof(logged));
		return;
	}
	if (!more)
		return;
	for (int r = WAIT_MAX_WORKERS; r <= WAIT_MAX_WORKER_PROCESSES; r++)
		logged[r] = Max(logged[r], counts[r]);
	if (counts[WAIT_MAX_WORKERS] > 0)
		ereport(LOG,
				(errmsg("stream_ext launcher cannot start the workers of %d database(s): all %d stream_ext.max_workers slots are taken",
						counts[WAIT_MAX_WORKERS], stream_ext_max_workers),
				 errdetail("Their continuous views are not updated until a worker slot is free; stream_ext.worker_state() in such a database tells."),
				 errhint("Raise stream_ext.max_workers (and max_worker_processes) and restart the server.")));
	if (counts[WAIT_MAX_WORKER_PROCESSES] > 0)
		ereport(LOG,
				(errmsg("stream_ext launcher cannot start the workers of %d database(s): no background worker slot is free",
						counts[WAIT_MAX_WORKER_PROCESSES]),
				 errdetail("max_worker_processes is %d; their continuous views are not updated until a slot is free; stream_ext.worker_state() in such a database tells.",
						   max_worker_processes),
				 errhint("Raise max_worker_processes and restart the server, or stop other background workers.")));
}

/*
 * stream_ext_worker_state tells what the worker of the current database
 * is doing: "running" (or "running: N workers"), "starting", "waiting: ..." (for a free slot, with
 * the setting to raise, or for ALTER EXTENSION UPDATE), "restarting" (after a failure), "paused" (for a
 * database command) or "disabled" (stream_ext.enabled is off).
 */
Datum
stream_ext_worker_state(PG_FUNCTION_ARGS)
{
	const char *state = "starting";
	TimestampTz now = GetCurrentTimestamp();
	int			running = 0;

	if (launcher_shared == NULL)
		PG_RETURN_TEXT_P(cstring_to_text("not loaded"));
	if (!stream_ext_enabled)
		PG_RETURN_TEXT_P(cstring_to_text("disabled: stream_ext.enabled is off"));
	{
		char	   *version = StreamInstalledVersion();

		if (version != NULL && strcmp(version, STREAM_EXT_VERSION) != 0)
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("waiting: ALTER EXTENSION stream_ext UPDATE (the database has version %s, the library is %s)",
													  version, STREAM_EXT_VERSION)));
	}

	LWLockAcquire(launcher_lock, LW_SHARED);
	for (int i = 0; i < launcher_shared->nwaiting; i++)
	{
		if (launcher_shared->waiting_dboid[i] == MyDatabaseId)
			state = launcher_shared->waiting_reason[i] == WAIT_MAX_WORKERS ?
				"waiting: every stream_ext.max_workers slot is taken" :
				"waiting: no background worker slot is free (max_worker_processes)";
	}
	if (PausedUntil(MyDatabaseId) > now)
		state = "paused for a database command";
	for (int i = 0; i < stream_ext_max_workers; i++)
	{
		StreamWorkerSlot *slot = &launcher_shared->slots[i];

		if (slot->dboid == MyDatabaseId)
		{
			running += slot->pid != 0;
			state = running > 0 ? "running" : "starting";
		}
		else if (slot->restart_dboid == MyDatabaseId && slot->restart_at > now &&
				 strcmp(state, "starting") == 0)
			state = "restarting";
	}
	LWLockRelease(launcher_lock);
	if (running > 1)
		state = psprintf("running: %d workers", running);
	PG_RETURN_TEXT_P(cstring_to_text(state));
}

/*
 * ListDatabases returns the OIDs of the databases that accept connections
 * and are not templates.
 */
static List *
ListDatabases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	MemoryContext caller = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		old = MemoryContextSwitchTo(caller);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	return result;
}

/*
 * StartWorker starts a worker of a database in a free slot: its first, or
 * an extra one.
 */
static bool
StartWorker(int slotno, Oid dboid, bool extra)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	StreamWorkerSlot *slot = &launcher_shared->slots[slotno];

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "stream_ext");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "StreamWorkerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "stream_ext worker for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "stream_ext worker");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	memcpy(worker.bgw_extra, &slotno, sizeof(int));
	worker.bgw_notify_pid = MyProcPid;

	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	slot->dboid = dboid;
	slot->pid = 0;
	slot->latch = NULL;
	slot->stop_requested = false;
	slot->exit_reason = STREAM_WORKER_RUNNING;
	slot->generation = launcher_shared->generation;
	slot->extra = extra;
	slot->claimed = InvalidOid;
	slot->wanted = 0;
	LWLockRelease(launcher_lock);

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
		slot->dboid = InvalidOid;
		LWLockRelease(launcher_lock);
		return false;
	}
	handles[slotno] = handle;
	return true;
}

/*
 * StreamStopDatabaseWorker asks the workers of a database to exit before
 * a command that needs the database without other sessions, waits for
 * them, and keeps them from being restarted for a few seconds.
 */
void
StreamStopDatabaseWorker(Oid dboid)
{
	TimestampTz deadline;
	pid_t		pids[64];
	int			npids = 0;
	int			slotno;

	if (launcher_shared == NULL || !OidIsValid(dboid))
		return;

	LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
	/* Remember the pause in the entry of this database, or the oldest. */
	slotno = 0;
	for (int i = 0; i < PAUSES; i++)
	{
		if (launcher_shared->paused_dboid[i] == dboid)
		{
			slotno = i;
			break;
		}
		if (launcher_shared->paused_until[i] < launcher_shared->paused_until[slotno])
			slotno = i;
	}
	launcher_shared->paused_dboid[slotno] = dboid;
	launcher_shared->paused_until[slotno] =
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DATABASE_COMMAND_PAUSE_MS);
	for (int i = 0; i < stream_ext_max_workers; i++)
	{
		StreamWorkerSlot *slot = &launcher_shared->slots[i];

		if (slot->dboid == dboid && slot->pid != 0)
		{
			slot->stop_requested = true;
			if (npids < lengthof(pids))
				pids[npids++] = slot->pid;
		}
	}
	LWLockRelease(launcher_lock);

	/*
	 * The workers exit at their next wake-up; a worker busy in a batch gets
	 * SIGTERM after a moment (its transaction is then rolled back).
	 */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DATABASE_COMMAND_WAIT_MS);
	for (int waited = 0; npids > 0 && GetCurrentTimestamp() < deadline; waited += 10)
	{
		for (int i = npids - 1; i >= 0; i--)
		{
			if (kill(pids[i], 0) != 0)
				pids[i] = pids[--npids];
			else if (waited == 2000)
				(void) kill(pids[i], SIGTERM);
		}
		if (npids == 0)
			break;
		if (waited == 0)
			WakeWorkersOf(dboid, false);
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * stream_ext_wake_launcher makes the launcher look for databases again
 * when the current transaction commits (CREATE EXTENSION calls it).
 */
Datum
stream_ext_wake_launcher(PG_FUNCTION_ARGS)
{
	WakeAtCommitRequest(&wake_launcher_at_commit);
	PG_RETURN_VOID();
}

/*
 * StreamWakeWorkerAtCommit sets the latch of this database's worker when
 * the current transaction commits (DROP EXTENSION, later new events).
 */
void
StreamWakeWorkerAtCommit(void)
{
	WakeAtCommitRequest(&wake_worker_at_commit);
}

/*
 * WakeAtCommitRequest raises one of the wake-up flags, registering the
 * transaction callback the first time.
 */
static void
WakeAtCommitRequest(bool *flag)
{
	*flag = true;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(WakeAtCommit, NULL);
		xact_callback_registered = true;
	}
}

/*
 * StreamFlushCV is the condition variable flush() sleeps on.
 */
ConditionVariable *
StreamFlushCV(void)
{
	return &launcher_shared->flush_cv;
}

/*
 * StreamWakeDatabaseWorker wakes the worker of a database now; a flush
 * also asks it not to wait for batch_interval.
 */
void
StreamWakeDatabaseWorker(Oid dboid, bool flush)
{
	WakeWorkersOf(dboid, flush);
}

/*
 * WakeWorkersOf sets the latch of the worker of a database.
 */
static void
WakeWorkersOf(Oid dboid, bool flush)
{
	LWLockAcquire(launcher_lock, LW_SHARED);
	for (int i = 0; i < stream_ext_max_workers; i++)
	{
		StreamWorkerSlot *slot = &launcher_shared->slots[i];

		if (slot->dboid == dboid)
		{
			if (flush)
				pg_atomic_fetch_add_u64(&slot->flushes, 1);
			pg_atomic_fetch_add_u64(&slot->requests, 1);
			if (slot->latch != NULL)
				SetLatch(slot->latch);
		}
	}
	LWLockRelease(launcher_lock);
}

/*
 * WakeAtCommit does the wake-ups asked for during the transaction.
 */
static void
WakeAtCommit(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		wake_launcher_at_commit = false;
		wake_worker_at_commit = false;
		return;
	}
	if (event != XACT_EVENT_COMMIT || launcher_shared == NULL)
		return;

	if (wake_launcher_at_commit)
	{
		LWLockAcquire(launcher_lock, LW_EXCLUSIVE);
		launcher_shared->generation++;
		if (launcher_shared->launcher_latch)
			SetLatch(launcher_shared->launcher_latch);
		LWLockRelease(launcher_lock);
	}
	if (wake_worker_at_commit)
		WakeWorkersOf(MyDatabaseId, false);
	wake_launcher_at_commit = false;
	wake_worker_at_commit = false;
}
