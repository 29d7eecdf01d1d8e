/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database worker: its loop, signals and exit.
 *
 * Started by the launcher with the database's OID as argument and its
 * registry slot in bgw_extra.  It connects as the bootstrap superuser,
 * but runs nothing of a user's except as that user (views will run as
 * their owners).  It sleeps on its latch, woken by commits that concern
 * it or by the idle interval, and exits when its database no longer has
 * the extension, when stream_ext.enabled is turned off, or when a
 * database command asks it to.  An extra worker of a database (launcher.c)
 * also exits after EXTRA_IDLE_MS without a batch to apply.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "stream_ext.h"

/* Pruning passes while batches keep coming: at most one per this. */
#define PRUNE_INTERVAL_MS 100

/* An extra worker that applied no batch for this long exits. */
#define EXTRA_IDLE_MS 10000

/* The worker's slot in the launcher's registry; NULL in other backends. */
StreamWorkerSlot *MyStreamWorkerSlot = NULL;

static bool ExtensionPresent(bool *outdated);
static const char *const injection_points[] = {
	"batch-bounds", "batch-applied", "batch-progress", "batch-skipped", "batch-committed",
	"prune-truncated"
};
static void OverrideSettings(void);
static void WorkerExit(StreamWorkerExit reason) pg_attribute_noreturn();

/*
 * StreamWorkerMain is the worker's entry point and loop.
 */
void
StreamWorkerMain(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	int			slotno;
	bool		more = true;	/* the first round takes what came before */
	bool		prune_pending = true;
	bool		timed_out = true;
	uint64		handled = 0;
	uint64		flushes_handled = 0;
	TimestampTz last_round = 0;
	TimestampTz last_prune = 0;
	TimestampTz last_work;
	bool		outdated = false;

	memcpy(&slotno, MyBgworkerEntry->bgw_extra, sizeof(int));
	MyStreamWorkerSlot = StreamWorkerSlotGet(slotno);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("stream_ext worker");
	OverrideSettings();

	MyStreamWorkerSlot->pid = MyProcPid;
	MyStreamWorkerSlot->latch = MyLatch;
	last_work = GetCurrentTimestamp();

	for (;;)
	{
		uint64		requests;
		uint64		flushes;
		bool		due;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (MyStreamWorkerSlot->stop_requested || !stream_ext_enabled)
			WorkerExit(STREAM_WORKER_STOPPED);

		/*
		 * A round of batches is due when a transaction that wrote a stream
		 * or changed a view committed, or a flush() asked, since the last
		 * round began; when the last round cut a batch at batch_size; and
		 * while a failed batch waits for its retry.
		 */
		requests = pg_atomic_read_u64(&MyStreamWorkerSlot->requests);
		flushes = pg_atomic_read_u64(&MyStreamWorkerSlot->flushes);
		due = more || requests != handled || StreamRetriesPending();

		/*
		 * Under a steady flow of commits, rounds start at most every
		 * batch_interval, so that each takes what came meanwhile at once;
		 * a flush() or a cut batch does not wait.
		 */
		if (due && !more && flushes == flushes_handled && stream_ext_batch_interval > 0)
		{
			long		wait = stream_ext_batch_interval -
				TimestampDifferenceMilliseconds(last_round, GetCurrentTimestamp());

			if (wait > 0)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 wait, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				continue;
			}
		}

		if (due || prune_pending || timed_out)
		{
			if (!ExtensionPresent(&outdated))
				WorkerExit(STREAM_WORKER_NO_EXTENSION);
			timed_out = false;
		}

		/*
		 * The database's extension is of another version than this
		 * library: its catalog and batch statements are not this library's
		 * to run.  Nothing is applied or pruned until ALTER EXTENSION
		 * stream_ext UPDATE; the events wait in the streams.
		 */
		if (outdated)
		{
			pgstat_report_activity(STATE_IDLE, NULL);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 stream_ext_idle_interval, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			timed_out = true;
			continue;
		}

		if (due)
		{
			last_round = GetCurrentTimestamp();
			handled = requests;
			flushes_handled = flushes;
			if (StreamApplyViews(&more))
				last_work = GetCurrentTimestamp();
			prune_pending = true;
		}
		if (MyStreamWorkerSlot->extra &&
			TimestampDifferenceExceeds(last_work, GetCurrentTimestamp(), EXTRA_IDLE_MS))
			WorkerExit(STREAM_WORKER_IDLE);

		/*
		 * After batches, retire full segments and truncate consumed ones,
		 * at most every PRUNE_INTERVAL_MS while batches keep coming; a
		 * segment whose lock was taken is tried again at the next pass.
		 */
		if (prune_pending &&
			(!due || TimestampDifferenceExceeds(last_prune, GetCurrentTimestamp(), PRUNE_INTERVAL_MS)))
		{
			last_prune = GetCurrentTimestamp();
			prune_pending = StreamPruneStreams();
		}
		if (more)
			continue;

		pgstat_report_activity(STATE_IDLE, NULL);
		timed_out = (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   prune_pending ? PRUNE_INTERVAL_MS : stream_ext_idle_interval,
							   PG_WAIT_EXTENSION) & WL_TIMEOUT) != 0;
		ResetLatch(MyLatch);
	}
}

/*
 * StreamRecoverFromError, in a PG_CATCH of the worker, takes the error
 * (copied into cxt, the context the caller was in), aborts the
 * transaction and gives the resource owner back, so that the worker can
 * go on; the caller frees the copy.
 */
ErrorData *
StreamRecoverFromError(MemoryContext cxt, ResourceOwner owner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	CurrentResourceOwner = owner;
	return edata;
}

/*
 * ExtensionPresent tells whether the database still has the extension,
 * and (*outdated) whether it is of another version than this library,
 * which is logged once per version seen.
 */
static bool
ExtensionPresent(bool *outdated)
{
	static char logged[NAMEDATALEN] = "";
	char	   *version;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "checking for the stream_ext extension");
	version = StreamInstalledVersion();
	*outdated = version != NULL && strcmp(version, STREAM_EXT_VERSION) != 0;
	if (*outdated && strncmp(logged, version, NAMEDATALEN - 1) != 0)
	{
		ereport(LOG,
				(errmsg("stream_ext: database \"%s\" has version %s of the extension, the library is version %s; no batches run until it is updated",
						get_database_name(MyDatabaseId), version, STREAM_EXT_VERSION),
				 errhint("Run ALTER EXTENSION stream_ext UPDATE in that database.")));
		strlcpy(logged, version, NAMEDATALEN);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	return version != NULL;
}

/*
 * WorkerExit records why the worker leaves and exits; the launcher reads
 * the reason when it reaps the slot.
 */
static void
WorkerExit(StreamWorkerExit reason)
{
	MyStreamWorkerSlot->exit_reason = reason;
	MyStreamWorkerSlot->latch = NULL;
	proc_exit(0);
}

/*
 * OverrideSettings undoes database- and role-level settings that would
 * stop the worker: a read-only default, timeouts, replication role.
 *
 * Commits need not wait for the WAL flush: a batch's results and its
 * progress commit together, so a batch lost in an OS crash is applied
 * again, whole, after recovery.
 *
 * No JIT: a batch statement is planned once and run for every batch, and
 * JIT compiles it again at every run (it keeps no code between
 * executions), which for a batch costs more than it saves (a quarter of
 * the worker's time with the benchmark's five views).
 */
static void
OverrideSettings(void)
{
	static const char *const settings[][2] = {
		{"default_transaction_read_only", "off"},
		{"default_transaction_isolation", "read committed"},
		{"statement_timeout", "0"},
		{"lock_timeout", "0"},
		{"idle_in_transaction_session_timeout", "0"},
		{"session_replication_role", "origin"},
		{"synchronous_commit", "off"},
		{"jit", "off"},
	};

	for (int i = 0; i < lengthof(settings); i++)
		SetConfigOption(settings[i][0], settings[i][1], PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * StreamInjectionPoint stops the worker at a named point of its batch
 * cycle when stream_ext.injection_point names it, for the crash tests:
 * the worker shows the point in pg_stat_activity and waits, holding what
 * it holds there, until it is killed or the server stops.  A reload does
 * not release it.
 */
void
StreamInjectionPoint(const char *name)
{
	bool		known = false;

	for (int i = 0; i < lengthof(injection_points); i++)
		known |= strcmp(injection_points[i], name) == 0;
	Assert(known);
	if (stream_ext_injection_point == NULL || strcmp(stream_ext_injection_point, name) != 0 ||
		!IsBackgroundWorker)
		return;
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("stream_ext: waiting at injection point %s", name));
	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
