/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory: the segment slot each stream currently fills.
 *
 * Writers read a stream's current slot once per transaction (ingest.c
 * caches it), so the table is read far more often than it is written;
 * one LWLock in shared mode is enough.  An entry is loaded from the
 * catalog (stream_ext.stream.current_slot) the first time a stream is
 * written after server start; the catalog is the durable copy.  A stream
 * restored from another cluster is not loaded until it is rebased
 * (restore.c), so nothing writes into it before.
 *
 * This file must not decide anything about events: it only stores.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"

#include "stream_ext.h"

typedef struct StreamSlotKey
{
	Oid			dbid;
	Oid			relid;
} StreamSlotKey;

typedef struct StreamSlotEntry
{
	StreamSlotKey key;
	int			slot;			/* slot that new transactions write into */
	pg_atomic_uint64 events;	/* events committed since the server started */
	pg_atomic_uint64 commits;	/* by this many transactions */
} StreamSlotEntry;

typedef struct StreamSharedState
{
	LWLock	   *lock;			/* protects the slot table */
} StreamSharedState;

static StreamSharedState *stream_shared = NULL;
static HTAB *stream_slots = NULL;

static int	LoadSlotFromCatalog(Oid relid);

/*
 * StreamShmemSize is the shared memory this file needs.
 */
Size
StreamShmemSize(void)
{
	return add_size(MAXALIGN(sizeof(StreamSharedState)),
					hash_estimate_size(stream_ext_max_streams,
									   sizeof(StreamSlotEntry)));
}

/*
 * StreamShmemRequest reserves the memory and the lock; called from the
 * shmem_request_hook.
 */
void
StreamShmemRequest(void)
{
	RequestAddinShmemSpace(StreamShmemSize());
	/* 0: the slot table; 1: the launcher's registry (launcher.c) */
	RequestNamedLWLockTranche("stream_ext", 2);
}

/*
 * StreamShmemInit creates the shared state, or attaches to it.
 */
void
StreamShmemInit(void)
{
	bool		found;
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	stream_shared = ShmemInitStruct("stream_ext state",
									sizeof(StreamSharedState), &found);
	if (!found)
		stream_shared->lock = &(GetNamedLWLockTranche("stream_ext"))->lock;

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(StreamSlotKey);
	info.entrysize = sizeof(StreamSlotEntry);
	stream_slots = ShmemInitHash("stream_ext slots",
								 stream_ext_max_streams,
								 stream_ext_max_streams,
								 &info,
								 HASH_ELEM | HASH_BLOBS);

	LWLockRelease(AddinShmemInitLock);
}

/*
 * StreamCurrentSlot returns the slot that a transaction starting to write
 * the stream now must use.
 */
int
StreamCurrentSlot(Oid relid)
{
	StreamSlotKey key;
	StreamSlotEntry *entry;
	bool		found;
	int			slot;

	if (stream_slots == NULL)
		elog(ERROR, "stream_ext shared memory is not initialized");

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;

	LWLockAcquire(stream_shared->lock, LW_SHARED);
	entry = hash_search(stream_slots, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		slot = entry->slot;
		LWLockRelease(stream_shared->lock);
		return slot;
	}
	LWLockRelease(stream_shared->lock);

	/* First write since server start: load it, then publish it. */
	slot = LoadSlotFromCatalog(relid);

	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	entry = hash_search(stream_slots, &key, HASH_ENTER_NULL, &found);
	if (entry == NULL)
	{
		LWLockRelease(stream_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("too many streams in use"),
				 errdetail("Shared memory holds at most %d streams.",
						   stream_ext_max_streams),
				 errhint("Increase stream_ext.max_streams and restart the server.")));
	}
	if (!found)
	{
		entry->slot = slot;
		pg_atomic_init_u64(&entry->events, 0);
		pg_atomic_init_u64(&entry->commits, 0);
	}
	slot = entry->slot;
	LWLockRelease(stream_shared->lock);

	return slot;
}

/*
 * StreamForgetSlot drops the entry of a stream, so that the next write
 * reloads it from the catalog.  Forgetting is always safe.
 */
void
StreamForgetSlot(Oid relid)
{
	StreamSlotKey key;

	if (stream_slots == NULL)
		return;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;

	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	hash_search(stream_slots, &key, HASH_REMOVE, NULL);
	LWLockRelease(stream_shared->lock);
}

/*
 * LoadSlotFromCatalog reads stream_ext.stream.current_slot of a stream.
 */
static int
LoadSlotFromCatalog(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int			slot;
	bool		isnull;

	values[0] = ObjectIdGetDatum(relid);

	SPI_connect();
	if (SPI_execute_with_args("SELECT current_slot, system_identifier FROM stream_ext.stream"
							  " WHERE relid = $1::pg_catalog.oid",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the catalog of stream %u", relid);

	if (SPI_processed == 0)
	{
		char	   *relname = get_rel_name(relid);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s\" is not a stream",
						relname ? relname : "?"),
				 errhint("Register the table with stream_ext.create_stream().")));
	}

	slot = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	/* Not a stream to write into before it is rebased (restore.c). */
	StreamCheckRestored(relid, DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 2, &isnull)));
	SPI_finish();

	return slot;
}

/*
 * StreamPeekSlot returns the slot shared memory holds for a stream, or -1
 * when no writer has loaded it since the server started.
 */
int
StreamPeekSlot(Oid relid)
{
	StreamSlotKey key;
	StreamSlotEntry *entry;
	int			slot = -1;

	if (stream_slots == NULL)
		return -1;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;

	LWLockAcquire(stream_shared->lock, LW_SHARED);
	entry = hash_search(stream_slots, &key, HASH_FIND, NULL);
	if (entry != NULL)
		slot = entry->slot;
	LWLockRelease(stream_shared->lock);
	return slot;
}

/*
 * StreamSetSlot publishes a stream's new current slot, once the catalog
 * holds it (prune.c): transactions that read the slot from now on write
 * into it.  The entry is created if missing, so that a writer that loaded
 * the old slot from an older snapshot finds the new one.
 */
void
StreamSetSlot(Oid relid, int slot)
{
	StreamSlotKey key;
	StreamSlotEntry *entry;
	bool		found;

	if (stream_slots == NULL)
		return;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;

	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	entry = hash_search(stream_slots, &key, HASH_ENTER_NULL, &found);
	if (entry != NULL)
	{
		entry->slot = slot;
		if (!found)
		{
			pg_atomic_init_u64(&entry->events, 0);
			pg_atomic_init_u64(&entry->commits, 0);
		}
	}
	LWLockRelease(stream_shared->lock);

	/* Without an entry, writers load the slot from the catalog. */
}

/*
 * StreamAddEvents counts the events of a stream that a transaction
 * committed (ingest.c, at commit).
 */
void
StreamAddEvents(Oid relid, uint64 events)
{
	StreamSlotKey key;
	StreamSlotEntry *entry;

	if (stream_slots == NULL)
		return;
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;
	LWLockAcquire(stream_shared->lock, LW_SHARED);
	entry = hash_search(stream_slots, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		pg_atomic_fetch_add_u64(&entry->events, events);
		pg_atomic_fetch_add_u64(&entry->commits, 1);
	}
	LWLockRelease(stream_shared->lock);
}

/*
 * StreamEventsCommitted returns how many events of a stream transactions
 * have committed since the server started (an estimate for apply.c: rows
 * of rolled-back savepoints count too), or 0 when none was written, and
 * in *commits by how many transactions.
 */
uint64
StreamEventsCommitted(Oid relid, uint64 *commits)
{
	StreamSlotKey key;
	StreamSlotEntry *entry;
	uint64		events = 0;

	*commits = 0;
	if (stream_slots == NULL)
		return 0;
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;
	LWLockAcquire(stream_shared->lock, LW_SHARED);
	entry = hash_search(stream_slots, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		events = pg_atomic_read_u64(&entry->events);
		*commits = pg_atomic_read_u64(&entry->commits);
	}
	LWLockRelease(stream_shared->lock);
	return events;
}
