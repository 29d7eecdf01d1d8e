"""Prints the benchmark table from bench.sh's results.tsv.

Columns per workload: end-to-end events/s (median, min-max over the
repetitions) and its ratio to B0's median; writer-side events/s; WAL bytes
per event; worker CPU seconds; raw-event storage left; verification.
"""
import statistics
import sys

path, events, ticks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {}
for line in open(path):
    w, rep, e2e, writer, wal, cpu, storage, verified = line.rstrip("\n").split("\t")
    r = rows.setdefault(w, {"e2e": [], "writer": [], "wal": [], "cpu": [], "storage": [], "verified": "-"})
    r["e2e"].append(events / float(e2e))
    r["writer"].append(events / float(writer))
    r["wal"].append(float(wal) / events)
    r["cpu"].append(int(cpu) / ticks)
    r["storage"].append(int(storage or 0))
    if verified != "-":
        r["verified"] = verified

names = {"b0": "B0 COPY, plain table", "w1": "W1 stream + 1 view",
         "b1": "B1 statement trigger", "b3": "B3 COPY then GROUP BY"}
base = statistics.median(rows["b0"]["e2e"]) if "b0" in rows else None


def span(values, fmt="{:,.0f}"):
    return "%s (%s–%s)" % (fmt.format(statistics.median(values)),
                           fmt.format(min(values)), fmt.format(max(values)))


print()
print("%d events per run, %d repetition(s), medians (min–max)" % (events, len(rows["b0"]["e2e"])))
print()
print("| workload | end-to-end events/s | × B0 | writer-side events/s | WAL bytes/event | worker CPU s | raw storage after | result |")
print("|---|---|---|---|---|---|---|---|")
for w in ["b0", "w1", "b1", "b3"]:
    if w not in rows:
        continue
    r = rows[w]
    ratio = "%.2f" % (statistics.median(r["e2e"]) / base) if base else "-"
    print("| %s | %s | %s | %s | %.0f | %.1f | %.1f MB | %s |" % (
        names[w], span(r["e2e"]), ratio, span(r["writer"]),
        statistics.median(r["wal"]), statistics.median(r["cpu"]),
        statistics.median(r["storage"]) / 1e6, r["verified"]))
bad = [w for w, r in rows.items() if r["verified"].startswith("WRONG")]
if bad:
    print("\nWRONG RESULTS: %s" % ", ".join(bad))
    sys.exit(1)
