"""Prints the benchmark tables and the targets from bench.sh's results.tsv.

COPY workloads, per data set: end-to-end events/s (median, min-max over
the repetitions) and its ratio to B0's median on the same data; writer-side
events/s and ratio; WAL bytes per event; worker CPU seconds; worker peak
memory; raw-event storage left; verification.  W4: pgbench transactions
per second against the plain table's, freshness p50/p99.  One-transaction
loads (W5, W5m) against B3 loaded the same way; catch-up and parallel
catch-up events/s; the engine's overhead factor (worker CPU over a plain
GROUP BY's CPU over the same rows).  Then the targets.
"""
import statistics
import sys

path, events, ticks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
copy, w4, catchup = {}, {}, {}
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if f[1] in ("catchup", "parallel"):
        w, kind, rep, evps, n, _, cpu, mem, _, verified, _ = f
        r = catchup.setdefault(w, {"evps": [], "n": int(n), "cpu": [], "mem": [], "verified": []})
        r["evps"].append(float(evps))
        r["cpu"].append(int(cpu or 0) / ticks)
        r["mem"].append(int(mem or 0) / 1024)
        r["verified"].append(verified)
        continue
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
    w, dset, rep, e2e, writer, wal, cpu, mem, storage, verified, groupby = f
    r = copy.setdefault((dset, w), {"e2e": [], "writer": [], "wal": [], "cpu": [], "mem": [],
                                    "storage": [], "verified": [], "groupby": []})
    r["groupby"].append(int(groupby or 0) / ticks)
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
         "b3": "B3 COPY then GROUP BY", "p4": "plain table", "w4": "W4 stream + 1 view",
         "b35": "B3×5 COPY then W2's five GROUP BYs", "w5": "W5 one-transaction load + 1 view",
         "b3t": "B3t one-transaction COPY then GROUP BY", "w5m": "W5 one-transaction load + 1 view",
         "b3tm": "B3t one-transaction COPY then GROUP BY",
         "cu1": "catch-up, backlog of %s", "cu10": "catch-up, backlog of %s",
         "par1": "two streams' backlogs, 1 worker", "par2": "two streams' backlogs, 2 workers"}
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
    ws = [w for w in ["b0", "w1", "w2", "w3", "b1", "b2", "b3", "b35", "w5", "b3t", "w5m", "b3tm"]
          if (dset, w) in copy]
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
        stream = w.startswith("w") and (dset, "b0") in copy
        print("| %s | %s | %s | %s | %s | %.0f | %s | %s | %.1f MB | %s |" % (
            names[w], span(r["e2e"]), "%.2f" % (ratio(dset, w, "b0") or 0),
            span(r["writer"]), "%.2f" % (ratio(dset, w, "b0", "writer") or 0), med(r["wal"]),
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

if catchup:
    print()
    print("Catch-up: a paused view resumed over a backlog (events/s until flush() returned); "
          "parallel: two streams' backlogs of %s events each" % "{:,}".format(events))
    print()
    print("| workload | events/s | worker CPU s | worker peak MB | result |")
    print("|---|---|---|---|---|")
    for w in ["cu1", "cu10", "par1", "par2"]:
        if w in catchup:
            r = catchup[w]
            name = names[w] % "{:,}".format(r["n"]) if "%s" in names[w] else names[w]
            print("| %s | %s | %s | %s | %s |" % (
                name, span(r["evps"]), "%.1f" % med(r["cpu"]) if w.startswith("cu") else "-",
                "%.0f" % max(r["mem"]) if w.startswith("cu") else "-", verdict(r["verified"])))


def overhead(dset, w, base):
    """Worker CPU seconds of w over a plain GROUP BY's CPU seconds of the same rows."""
    if (dset, w) in copy and (dset, base) in copy and med(copy[(dset, base)]["groupby"]) > 0:
        return med(copy[(dset, w)]["cpu"]) / med(copy[(dset, base)]["groupby"])
    return None


for dset, w in [("1k", "w1"), ("1m", "w3"), ("1k", "w5"), ("1m", "w5m")]:
    o = overhead(dset, w, "b3t" if dset == "1k" else "b3tm")
    if o is not None:
        print("\nEngine overhead, %s: worker CPU %.1f s ÷ plain GROUP BY CPU %.1f s = %.2f" % (
            names[w], med(copy[(dset, w)]["cpu"]),
            med(copy[(dset, "b3t" if dset == "1k" else "b3tm")]["groupby"]), o), end="")
print()


def inverse(value):
    return None if value is None else -value


def cratio(a, b):
    if a in catchup and b in catchup:
        return med(catchup[a]["evps"]) / med(catchup[b]["evps"])
    return None


targets = [
    ("W5 one transaction, 1,000 keys ≥ 0.95 × B3t", ratio("1k", "w5", "b3t"), 0.95),
    ("W5 one transaction, 1 M keys ≥ 0.95 × B3t", ratio("1m", "w5m", "b3tm"), 0.95),
    ("W1 end-to-end ≥ 0.9 × B0", ratio("1k", "w1", "b0"), 0.9),
    ("W1 writer-side ≥ 0.95 × B0", ratio("1k", "w1", "b0", "writer"), 0.95),
    ("W2 end-to-end ≥ 0.6 × B0", ratio("1k", "w2", "b0"), 0.6),
    ("W2 ≥ 1.3 × B3×5", ratio("1k", "w2", "b35"), 1.3),
    ("catch-up of %s vs %s events/s ≥ 0.8 ×" % ("{:,}".format(catchup["cu10"]["n"]) if "cu10" in catchup else "-",
                                               "{:,}".format(catchup["cu1"]["n"]) if "cu1" in catchup else "-"),
     cratio("cu10", "cu1"), 0.8),
    ("parallel catch-up, 2 workers vs 1 ≥ 1.7 ×", cratio("par2", "par1"), 1.7),
    ("engine overhead W1 (worker CPU ÷ GROUP BY CPU) ≤ 1.5", inverse(overhead("1k", "w1", "b3t")), -1.5),
    ("engine overhead W3 (worker CPU ÷ GROUP BY CPU) ≤ 1.5", inverse(overhead("1m", "w3", "b3tm")), -1.5),
    ("W1 ≥ 1.25 × B1", ratio("1k", "w1", "b1"), 1.25),
    ("W1 ≥ 15 × B2", ratio("1k", "w1", "b2"), 15),
    ("W3 ≥ 2 × B1", ratio("1m", "w3", "b1"), 2),
    ("W3 ≥ 1.5 × B3", ratio("1m", "w3", "b3"), 1.5),
]
if w4:
    targets.append(("W4 transactions/s ≥ 0.8 × plain", med(w4["w4"]["tps"]) / med(w4["p4"]["tps"]), 0.8))
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

bad = [k for k, r in list(copy.items()) + list(w4.items()) + list(catchup.items())
       if verdict(r["verified"]).startswith("WRONG")]
if bad:
    print("\nWRONG RESULTS: %s" % ", ".join(str(k) for k in bad))
    sys.exit(1)
