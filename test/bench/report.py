"""Prints the benchmark tables and the targets from bench.sh's results.tsv.

COPY workloads, per data set: end-to-end events/s (median, min-max over
the repetitions) and its ratio to B0's median on the same data; writer-side
events/s and ratio; WAL bytes per event; worker CPU seconds; worker peak
memory; raw-event storage left; verification.  W4: pgbench transactions
per second against the plain table's, freshness p50/p99.
"""
import statistics
import sys

path, events, ticks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
copy, w4 = {}, {}
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if f[1] == "pgbench":
        w, _, rep, tps, p50, p99, cpu, mem, secs, verified = f
        r = w4.setdefault(w, {"tps": [], "p50": [], "p99": [], "cpu": [], "mem": [], "verified": []})
        r["tps"].append(float(tps))
        if p50 not in ("-", ""):
            r["p50"].append(float(p50))
            r["p99"].append(float(p99))
        r["cpu"].append(int(cpu or 0) / ticks)
        r["mem"].append(int(mem or 0) / 1024)
        r["verified"].append(verified)
        continue
    w, dset, rep, e2e, writer, wal, cpu, mem, storage, verified = f
    r = copy.setdefault((dset, w), {"e2e": [], "writer": [], "wal": [], "cpu": [], "mem": [],
                                    "storage": [], "verified": []})
    r["e2e"].append(float(e2e))
    r["writer"].append(float(writer))
    r["wal"].append(float(wal))
    # A sample can be missing (the worker was between lives): 0.
    r["cpu"].append(int(cpu or 0) / ticks)
    r["mem"].append(int(mem or 0) / 1024)
    r["storage"].append(int(storage or 0))
    r["verified"].append(verified)

names = {"b0": "B0 COPY, plain table", "w1": "W1 stream + 1 view", "w2": "W2 stream + 5 views",
         "w3": "W3 stream + 1 view", "b1": "B1 statement trigger", "b2": "B2 row trigger",
         "b3": "B3 COPY then GROUP BY", "p4": "plain table", "w4": "W4 stream + 1 view"}
med = statistics.median


def span(values, fmt="{:,.0f}"):
    return "%s (%s–%s)" % (fmt.format(med(values)), fmt.format(min(values)), fmt.format(max(values)))


def verdict(values):
    checked = [v for v in values if v != "-"]
    wrong = [v for v in checked if not v.startswith("verified")]
    return wrong[0] if wrong else (checked[0] if checked else "-")


def ratio(dset, a, b, key="e2e"):
    if (dset, a) in copy and (dset, b) in copy:
        return med(copy[(dset, a)][key]) / med(copy[(dset, b)][key])
    return None


titles = {"1k": "1,000 keys (about 60,000 sensor-minutes)",
          "1m": "1,000,000 keys, five consecutive events each (about 1,000,000 sensor-minutes)"}
for dset in ["1k", "1m"]:
    ws = [w for w in ["b0", "w1", "w2", "w3", "b1", "b2", "b3"] if (dset, w) in copy]
    if not ws:
        continue
    print()
    print("%s events, %s; %d repetition(s), medians (min–max)" % (
        "{:,}".format(events), titles[dset], len(copy[(dset, ws[0])]["e2e"])))
    print()
    print("| workload | end-to-end events/s | × B0 | writer-side events/s | × B0 | WAL bytes/event "
          "| worker CPU s | worker peak MB | raw storage after | result |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in ws:
        r = copy[(dset, w)]
        stream = w.startswith("w")
        print("| %s | %s | %s | %s | %s | %.0f | %s | %s | %.1f MB | %s |" % (
            names[w], span(r["e2e"]), "%.2f" % ratio(dset, w, "b0"),
            span(r["writer"]), "%.2f" % ratio(dset, w, "b0", "writer"), med(r["wal"]),
            "%.1f" % med(r["cpu"]) if stream else "-", "%.0f" % max(r["mem"]) if stream else "-",
            med(r["storage"]) / 1e6, verdict(r["verified"])))

if w4:
    print()
    print("W4: pgbench, 8 clients, 1–10 events per transaction; %d repetition(s), medians (min–max)"
          % len(w4["w4"]["tps"]))
    print()
    print("| target | transactions/s | × plain | freshness p50 ms | freshness p99 ms | worker CPU s "
          "| worker peak MB | result |")
    print("|---|---|---|---|---|---|---|---|")
    for w in ["p4", "w4"]:
        r = w4[w]
        stream = w == "w4"
        print("| %s | %s | %.2f | %s | %s | %s | %s | %s |" % (
            names[w], span(r["tps"]), med(r["tps"]) / med(w4["p4"]["tps"]),
            span(r["p50"], "{:.1f}") if stream else "-", span(r["p99"], "{:.1f}") if stream else "-",
            "%.1f" % med(r["cpu"]) if stream else "-", "%.0f" % max(r["mem"]) if stream else "-",
            verdict(r["verified"])))

targets = [
    ("W1 end-to-end ≥ 0.8 × B0", ratio("1k", "w1", "b0"), 0.8),
    ("W1 writer-side ≥ 0.9 × B0", ratio("1k", "w1", "b0", "writer"), 0.9),
    ("W2 end-to-end ≥ 0.6 × B0", ratio("1k", "w2", "b0"), 0.6),
    ("W1 ≥ 1.25 × B1", ratio("1k", "w1", "b1"), 1.25),
    ("W1 ≥ 15 × B2", ratio("1k", "w1", "b2"), 15),
    ("W3 ≥ 2 × B1", ratio("1m", "w3", "b1"), 2),
    ("W3 ≥ 1.5 × B3", ratio("1m", "w3", "b3"), 1.5),
]
if w4:
    targets.append(("W4 transactions/s ≥ 0.9 × plain", med(w4["w4"]["tps"]) / med(w4["p4"]["tps"]), 0.9))
    if w4["w4"]["p99"]:
        targets.append(("W4 freshness p99 ≤ 100 ms", -med(w4["w4"]["p99"]), -100))
if ("1k", "w1") in copy and ("1k", "b0") in copy:
    targets.append(("W1 raw storage after flush ≤ 1 % of B0's table",
                    -med(copy[("1k", "w1")]["storage"]) / med(copy[("1k", "b0")]["storage"]) * 100, -1))
print()
print("Targets (this run):")
for name, value, bound in targets:
    if value is None:
        continue
    shown = "%.2f" % abs(value) + (" ms" if "ms" in name else " %" if "%" in name else "×")
    print("- %s: %s — %s" % (name, shown, "met" if value >= bound else "MISSED"))

bad = [k for k, r in list(copy.items()) + list(w4.items()) if verdict(r["verified"]).startswith("WRONG")]
if bad:
    print("\nWRONG RESULTS: %s" % ", ".join(str(k) for k in bad))
    sys.exit(1)
