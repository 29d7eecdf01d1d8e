/*-------------------------------------------------------------------------
 *
 * batch_statement.h
 *	  A continuous view as the batch statement sees it: its analyzed query
 *	  (view.c), the table that holds its states and results
 *	  (result_table.c), and the emitters that write each part of its batch
 *	  statement (batch_*.c).
 *
 * One batch statement applies a batch of a stream to every view of a
 * group (apply.c).  It is a WITH of common table expressions, one set per
 * view, named after the view's part number n:
 *
 *	t_n		the watermark before and after the batch (batch_windows.c)
 *	p_n		the user's query over the batch, each aggregate's partial
 *			state in place of its value (batch_partial.c); for hopping
 *			windows after h_n, the same per pane
 *	w_n		the states folded into the view's table: one upsert
 *			(batch_merge.c); for session windows after m_n, the sessions
 *			merged
 *	v_n, e_n  windows that closed (batch_windows.c)
 *	a_n, x_n, n_n  closed windows appended, states written to an output
 *			stream, notifications (batch_outputs.c)
 *	o_n		what the batch did, one row (batch_outputs.c)
 *
 * behind one definition of the batch, stream_ext_batch (batch_statement.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BATCH_STATEMENT_H
#define BATCH_STATEMENT_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"

#include "stream_ext.h"

/* A continuous view's query, analyzed and checked (view.c). */
typedef struct ViewShape
{
	Query	   *query;			/* the analyzed user query */
	int			stream_rti;		/* range table index of the stream */
	Oid			stream;
	List	   *keys;			/* TargetEntry of each grouping key */
	List	   *aggs;			/* distinct Aggrefs */
	List	   *state_types;	/* Oid of each aggregate's stored state */
	List	   *columns;		/* names of the stream columns it reads */
	List	   *lookups;		/* OIDs of the tables joined as lookups */
	StreamWindow *window;		/* its event-time window, or NULL */
	int			session_end;	/* with session windows: max(event time) in aggs */
} ViewShape;

/* What a view does besides keeping its result table (create_continuous_view). */
typedef struct ContinuousViewOptions
{
	char	   *notify;			/* channel, or NULL */
	bool		emit_final;		/* notify closed windows, not changes */
	char		late;			/* 'u'pdate, 'd'rop or 'a'djust late events */
	char	   *append_to;		/* table of closed windows, or NULL */
	bool		output;			/* write each batch's delta into a stream */
	char	   *sliding;		/* SQL of the sliding window's length, or NULL */
	char	   *step;			/* SQL of its steps' length */
	char	   *ttl;			/* SQL of the retention of closed windows, or NULL */
	char	   *session_gap;	/* SQL of the gap that ends a session, or NULL */
	char	   *max_future;		/* SQL of how far ahead of the clock event time counts */
} ContinuousViewOptions;

/* Where one aggregate's state is kept, and how it is folded (result_table.c). */
typedef struct ViewAggregate
{
	Aggref	   *aggref;
	Oid			state_type;
	char	   *home;			/* column of the view's table that holds the state */
	AttrNumber	home_attno;
	bool		hidden;			/* home is a column of its own, not an output */
	bool		plain_combine;	/* its combine function is an ordinary call */
	bool		plain_final;	/* and its final function (or none) */
	Oid			combinefn;
	bool		combine_strict;
	Oid			finalfn;		/* InvalidOid: the state is the value */
} ViewAggregate;


/* The table a view's batches write, and how (result_table.c). */
typedef struct ViewLayout
{
	List	   *aggregates;		/* ViewAggregate, one per shape->aggs */
	List	   *keys;			/* names of its key columns, in the order of k1..kn */
	List	   *key_attnos;		/* their attribute numbers */
	List	   *outputs;		/* TargetEntry of each output column */
	List	   *finals;			/* per output: the expression over the table's
								 * columns it is generated from, or NULL for
								 * a key or a state */
	bool		generated;		/* PostgreSQL computes every final value itself */
	bool		steps;			/* a sliding window's steps: k1..kn, s1..sm only */
	bool		revision;		/* column stream_ext_rev: closed windows emitted */
	Oid			table;			/* the table, once created */
} ViewLayout;

/* One view's part of a batch statement, as it is written. */
typedef struct BatchFragment
{
	ViewShape  *shape;
	ContinuousViewOptions *options;
	ViewLayout *layout;
	uint32		n;				/* the view's part number */
	bool		emitting;		/* closed windows are emitted */
	bool		pure;			/* the batch's events are aggregated once each */
	bool		panes;			/* a hopping window aggregated per pane first */
	char	   *once;			/* the CTE that aggregates each event once: h_n
								 * (panes), else the same as raw */
	char	   *raw;			/* the CTE of all the batch's groups: p_n or q_n */
	char	   *written;		/* the CTE with one row per row written */
	StringInfoData sql;
	List	   *parts;			/* SQL, and where table names go (NamePart) */
} BatchFragment;

/* Hidden columns of p_n and of the view's table. */
#define HIDDEN_EVENTS		"stream_ext_n"		/* count(*) of the batch's events */
#define HIDDEN_MAX_TIME		"stream_ext_mx"		/* their largest event time */
#define REVISION_COLUMN		"stream_ext_rev"

/* The placeholder of an upsert's ON CONFLICT clause among a view's parts. */
#define CONFLICT_PART		"conflict:"
#define STATE_COLUMN_PREFIX "stream_ext_state_"

/* view.c */
extern void StreamRefuse(const char *construct, const char *hint);
extern ViewShape *StreamAnalyzeViewQuery(const char *query_string);
extern void StreamCheckViewQuery(ViewShape *shape);
extern void StreamCheckTransformQuery(ViewShape *shape);
extern void StreamCheckReservedNames(ViewShape *shape);
extern uint32 StreamNextPartNumber(void);
extern int	StreamIntervalSign(Interval *interval);
extern Oid	StreamLookupOutputTable(const char *name, char **qualified);
extern Oid	StreamAppendTable(const char *name, Oid relid, const char *qualified,
							  ViewLayout *layout);
extern Oid	StreamOutputStream(const char *name, Oid relid, const char *qualified,
							   ViewShape *shape);
extern void StreamAddSessionColumns(ViewShape *shape);
extern void StreamAddStepKey(ViewShape *shape, Interval *step);
extern void StreamCheckNoCycle(Oid output, Oid stream, const char *name);
extern Oid	StreamTableOid(const char *qualified_name);
extern bool StreamIsViewTable(Oid relid);
extern void StreamCheckOnError(const char *on_error);
extern char *StreamIntervalSQL(Interval *interval);
extern ViewShape *StreamRedefineView(const char *query_string, ContinuousViewOptions *options,
									 Interval *step, bool session, bool *emitting);
extern char *StreamSlidingSelect(ViewShape *shape, ViewLayout *layout,
								 ContinuousViewOptions *options, Oid steps);
extern List *StreamTransformFragment(const char *query_string, uint32 part, List **columns);

/*
 * A view's (or transform's) definition as the catalog keeps it
 * (view_definition.c): its resolved query, the options its batch part is
 * generated from, and the settings it was analyzed under.  Read from a
 * row with STORED_VIEW_COLUMNS.
 */
typedef struct StoredView
{
	Oid			result;
	bool		transform;
	char	   *definition;		/* the resolved query */
	char	   *search_path;
	char	   *timezone;
	char	   *datestyle;
	Oid			owner;
	Oid			state_table;
	char	   *notify;
	bool		emit_final;
	char		late;
	bool		append;
	bool		output;
	Interval   *sliding;
	Interval   *step;
	Interval   *ttl;
	Interval   *session_gap;
	Interval   *max_future;
	uint32		part;
} StoredView;

#define STORED_VIEW_COLUMNS \
	"result::pg_catalog.oid, kind = 'transform', definition, search_path, timezone, datestyle," \
	" owner::pg_catalog.oid, state_table::pg_catalog.oid, notify, emit = 'final', late," \
	" append_to IS NOT NULL, output_stream IS NOT NULL, sliding, step, ttl, session_gap," \
	" max_future, part"

/* view_definition.c */
extern char *StreamResolveQuery(const char *query_string);
extern char *StreamStoredViewResolve(StoredView *v);
extern StoredView *StreamReadStoredView(HeapTuple row, TupleDesc desc, int first);
extern void StreamStoredViewOptions(StoredView *v, ContinuousViewOptions *options);
extern ViewShape *StreamStoredViewShape(StoredView *v, ContinuousViewOptions *options,
										bool *emitting);
extern List *StreamStoredViewPart(StoredView *v, List **columns);
extern List *StreamCachedViewPart(StoredView *v, List **columns);

/* result_table.c */
extern ViewLayout *StreamPlanLayout(ViewShape *shape, ContinuousViewOptions *options,
									bool revision);
extern Oid	StreamCreateViewTable(ViewShape *shape, ViewLayout *layout,
								  const char *qualified_name);
extern Node *StreamFinalMutator(Node *node, ViewShape *shape, ViewLayout *layout);
extern char *StreamColumnType(Node *expr);
extern bool StreamKeyIsNotNull(Node *expr, ViewShape *shape);
extern void StreamLayoutWithoutGenerated(ViewLayout *layout);
extern char *StreamStateColumnDef(ViewAggregate *agg);
extern void StreamCommentStateColumns(ViewLayout *layout, const char *qualified_name);

/* batch_statement.c */
extern List *StreamViewFragment(ViewShape *shape, ContinuousViewOptions *options,
								ViewLayout *layout, uint32 n);
extern void NamePart(BatchFragment *f, const char *which);
extern char *KeyList(ViewShape *shape, const char *alias);
extern char *StateList(ViewShape *shape, const char *alias);
extern char *TableKeyList(ViewLayout *layout, const char *alias);
extern void KeysMatch(StringInfo sql, ViewShape *shape, List *a, List *b);
extern List *PartKeys(ViewShape *shape, const char *alias);
extern List *TableKeys(ViewLayout *layout, const char *alias);
extern char *OutputList(ViewLayout *layout, const char *alias);
extern char *HiddenStateList(ViewLayout *layout, const char *alias);
extern Oid	StreamExtFunction(const char *name, int nargs, Oid *argtypes);

/* batch_partial.c */
extern char *StreamPartialQuery(ViewShape *shape, ContinuousViewOptions *options,
								bool pure, bool panes, uint32 n);
extern bool StreamViewPanes(ViewShape *shape);
extern bool StreamViewIsPure(ViewShape *shape, ContinuousViewOptions *options, bool panes);
extern char *StreamBatchQuery(ViewShape *shape, Query *pq);
extern void EmitPartial(BatchFragment *f);

/* batch_merge.c */
extern void EmitMerge(BatchFragment *f);
extern bool StreamPlainCall(Oid funcid, Oid aggfnoid);
extern char *StreamCombineStates(ViewShape *shape, ViewLayout *layout, List *dpcontext);
extern char *StreamStatesAsColumns(ViewShape *shape, ViewLayout *layout, const char *alias);
extern List *TableContext(BatchFragment *f);
extern void EmitSessions(BatchFragment *f);
extern char *StreamFillFromStates(ViewShape *new_shape, ViewLayout *new_layout,
								  const char *new_table, ViewShape *old_shape,
								  ViewLayout *old_layout, Oid old_table,
								  int *key_map, int *agg_map);

/* batch_windows.c */
extern void EmitWatermark(BatchFragment *f);
extern void EmitClosedWindows(BatchFragment *f);
extern void EmitRetention(BatchFragment *f);
extern char *WatermarkBefore(BatchFragment *f);
extern char *WatermarkAfter(BatchFragment *f);

/* batch_outputs.c */
extern void EmitAppend(BatchFragment *f);
extern void EmitOutputStream(BatchFragment *f);
extern void EmitNotify(BatchFragment *f);
extern void EmitOutcome(BatchFragment *f);
extern int	StreamOutputColumn(ViewShape *shape, TargetEntry *tle);

#endif							/* BATCH_STATEMENT_H */
