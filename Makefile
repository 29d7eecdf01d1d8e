# stream_ext: PGXS build.
#
#   make            build
#   make install    install into the PostgreSQL found by $(PG_CONFIG)
#   make test       set up everything, build with -Werror, run all suites
#   make demo       set up everything and run the quickstart on a throwaway cluster
#   make bench      the benchmark suite (test/bench); make soak: the soak (test/soak)
#   make installcheck  the suites alone (regress, isolation, TAP), against
#                   temporary instances; run as a user that can run initdb

EXTENSION = stream_ext
MODULE_big = stream_ext
OBJS = \
	src/stream_ext.o \
	src/source.o \
	src/ingest.o \
	src/segment.o \
	src/stream_api.o \
	src/batch.o \
	src/view.o \
	src/view_api.o \
	src/view_create.o \
	src/view_definition.o \
	src/view_replace.o \
	src/transform.o \
	src/result_table.o \
	src/batch_statement.o \
	src/batch_partial.o \
	src/batch_merge.o \
	src/batch_windows.o \
	src/batch_outputs.o \
	src/window.o \
	src/apply.o \
	src/guard.o \
	src/prune.o \
	src/restore.o \
	src/flush.o \
	src/partial.o \
	src/shmem.o \
	src/launcher.o \
	src/worker.o \
	src/utility.o \
	src/ddl.o \
	src/upgrade.o \
	src/privilege.o \
	src/citus.o

# The install script of this version is built from its fragments, one
# per concern, in the order of their names; the scripts of earlier
# versions and the updates are kept as released.
DATA_built = sql/stream_ext--0.2.0.sql
DATA = sql/stream_ext--0.1.0.sql sql/stream_ext--0.1.0--0.2.0.sql

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
# PostgreSQL 15's own headers trip -Wextra's unused-parameter, sign-compare and
# missing-field-initializers checks; everything else of -Wextra stays on.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers $(STREAM_EXT_CFLAGS)

TEST_CONF = $(srcdir)/test/stream_ext.conf

REGRESS = $(sort $(basename $(notdir $(wildcard $(srcdir)/test/sql/*.sql))))
REGRESS_OPTS = --inputdir=$(srcdir)/test --temp-instance=./tmp_check \
	--encoding=UTF8 --no-locale \
	--temp-config=$(TEST_CONF)

ISOLATION = $(sort $(basename $(notdir $(wildcard $(srcdir)/test/specs/*.spec))))
ISOLATION_OPTS = --inputdir=$(srcdir)/test --temp-instance=./tmp_check_iso \
	--encoding=UTF8 --no-locale \
	--load-extension=stream_ext \
	--temp-config=$(TEST_CONF)

# pg_isolation_regress (15) looks for expected output under its output
# directory or input directory; point it at the top-level expected/.
REGRESS_PREP = output_iso/expected

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = tmp_check tmp_check_iso output_iso results regression.diffs regression.out log

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

output_iso/expected:
	mkdir -p output_iso
	ln -sfn $(abspath $(srcdir))/expected output_iso/expected

sql/stream_ext--0.2.0.sql: $(sort $(wildcard $(srcdir)/sql/install/*.sql))
	cat $^ > $@

.PHONY: test demo bench soak

# One command each; both install what is missing (as root), build, and
# run as the postgres OS user in a copy of the tree it can write.
test:
	bash $(srcdir)/test/tools/run.sh test

demo:
	bash $(srcdir)/test/tools/run.sh demo

# Not part of test: it measures.  BENCH_SCALE=smoke runs a small one quickly.
bench:
	bash $(srcdir)/test/tools/run.sh bench

# Not part of test: ten minutes of ingest with crashes (SOAK_SECONDS).
soak:
	bash $(srcdir)/test/tools/run.sh soak
