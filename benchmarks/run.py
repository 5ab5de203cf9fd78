#!/usr/bin/env python3
"""Runs every benchmark program and prints one table: each figure of the engine beside the raw
limit measured in the same run, and their ratio. Writes the same table, with the machine, the
library versions and the date, to a Markdown file.

    benchmarks/run.py --bench build/benchmarks/sazesh-bench --sazesh build/cli/sazesh \
        [--kafka HOST:PORT] [--sizes 100k,1m,10m] [--work /tmp/sazesh-bench] [--out FILE]

benchmarks/run.sh builds everything, starts a Kafka broker and calls this; see
benchmarks/README.md for what each figure means.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd):
    """Runs a program that prints one JSON line last; returns it parsed."""
    log("+ " + " ".join(cmd))
    started = time.time()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.strip().startswith("{")]
    if not lines:
        raise RuntimeError(f"{cmd[0]} printed no JSON: {out!r}")
    result = json.loads(lines[-1])
    log(f"  {time.time() - started:.1f} s: {lines[-1]}")
    return result


def whole_process(make_cmd, runs):
    """Runs make_cmd(i) for i in 0..runs-1 as whole processes: wall time (ms) and each one's peak RSS (MiB)."""
    times, rss = [], []
    for i in range(runs):
        cmd = make_cmd(i)
        with tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(p.pid, 0)
            elapsed = time.perf_counter() - started
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                err.seek(0)
                raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err.read().decode(errors='replace')}")
        times.append(elapsed * 1000)
        rss.append(usage.ru_maxrss / 1024)
    times.sort()
    return {"runs": runs, "min_ms": times[0], "median_ms": times[len(times) // 2], "max_ms": times[-1],
            "peak_rss_mib": max(rss)}


def command_figures(sazesh, d, sample, runs=10):
    """Whole-process commands on the folder of a generated log, as a user runs them."""
    now = sample["now"]
    base = [sazesh, "--data-dir", d]
    subprocess.run(base + ["project"], check=True, stdout=subprocess.DEVNULL)  # not timed: queries find them current
    filed = []

    def file_cmd(i):
        return base + ["--now", now, "--as", f"consumer:{sample['consumer']}", "--json", "file", "--business",
                       sample["business"], "--order-ref", f"BENCH-{os.getpid()}-{i}", "--purchase-date", "1405/01/01",
                       "--amount", "1000", "--category", "other", "--description", "benchmark"]
    out = {"file": whole_process(file_cmd, runs)}
    # The cases just filed, forwarded to their shop, are what `respond` answers.
    listed = subprocess.run(base + ["--as", "analyst:bench", "--json", "cases", "--business", sample["business"], "--status", "awaiting_triage",
                                    "--limit", "100000"], stdout=subprocess.PIPE, check=True, text=True).stdout
    ids = [row["case"] for row in json.loads(listed)][-runs:]
    for c in ids:
        subprocess.run(base + ["--now", now, "--as", "operator:bench", "accept", "--case", c], check=True,
                       stdout=subprocess.DEVNULL)
    out["respond"] = whole_process(lambda i: base + ["--now", now, "--as", f"business:{sample['business']}", "respond",
                                                     "--case", ids[i % len(ids)], "--text", "پاسخ"], min(runs, len(ids)))
    out["show"] = whole_process(lambda i: base + ["--as", "auditor:bench", "show", "--case", sample["case"]], runs)
    out["cases"] = whole_process(lambda i: base + ["--as", "analyst:bench", "cases", "--status", "with_business", "--limit", "20"], runs)
    out["tick"] = whole_process(lambda i: base + ["--now", now, "tick"], runs)
    out["scorecard"] = whole_process(lambda i: base + ["scorecard", "--business", sample["business"]], runs)
    return out


def parse_size(text):
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * mult)


def size_name(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def fmt_num(x, unit=""):
    if x is None:
        return "–"
    if isinstance(x, float) and x < 100:
        return f"{x:,.1f}{unit}"
    return f"{x:,.0f}{unit}"


class Report:
    def __init__(self):
        self.rows = []  # (section, figure, ours, limit_name, limit, ratio, target)
        self.notes = []
        self.details = {}

    def row(self, section, figure, ours, limit_name="", limit=None, target="", ratio=None, unit=""):
        if ratio is None and ours is not None and limit:
            ratio = ours / limit
        self.rows.append((section, figure, fmt_num(ours, unit), limit_name, fmt_num(limit, unit),
                          f"{ratio:.2f}" if ratio is not None else "–", target))

    def table(self):
        head = "| area | figure | ours | raw limit / peer | limit | ratio | target |\n|---|---|---:|---|---:|---:|---|\n"
        return head + "\n".join("| " + " | ".join(r) + " |" for r in self.rows) + "\n"


def command_output(cmd, timeout=60):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout).stdout.strip()
    except Exception as e:  # a missing tool is reported, not fatal
        return f"({e})"


def machine_description(work, nodes=1):
    cpu = command_output(["sh", "-c", "lscpu | grep -E 'Model name|^CPU\\(s\\)' | sed 's/  */ /g'"])
    mem = command_output(["sh", "-c", "grep MemTotal /proc/meminfo"])
    disk = command_output(["sh", "-c", f"df -h {work} | tail -1"])
    libs = command_output(["sh", "-c", "dpkg-query -W -f='${Package} ${Version}\\n' librocksdb-dev librdkafka-dev "
                                        "libflatbuffers-dev flatbuffers-compiler libsodium-dev libfmt-dev g++ openjdk-17-jre-headless 2>/dev/null"])

    m = re.search(r'KAFKA_VERSION="\$\{SAZESH_KAFKA_VERSION:-([0-9.]+)\}"', open(os.path.join(ROOT, "tools/kafka.sh")).read())
    kafka = "Apache Kafka " + (m.group(1) if m else "(see tools/kafka.sh)")
    return "\n".join([
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.node()}, {platform.system()} {platform.release()}",
        "- cpu: " + "; ".join(cpu.splitlines()),
        f"- memory: {mem}",
        f"- disk holding the data: {disk}",
        f"- Kafka broker: {kafka or 'see tools/kafka.sh'} ({'single node' if nodes == 1 else f'{nodes} nodes, every one on this machine'}, KRaft, on 127.0.0.1)",
        "- libraries (Debian packages):",
        *[f"  - {l}" for l in libs.splitlines()],
    ])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build/benchmarks/sazesh-bench"))
    ap.add_argument("--sazesh", default=os.path.join(ROOT, "build/cli/sazesh"))
    ap.add_argument("--kafka", default=os.environ.get("SAZESH_BENCH_KAFKA", ""))
    ap.add_argument("--sizes", default="100k,1m")
    ap.add_argument("--work", default="/tmp/sazesh-bench")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks/RESULTS.md"))
    ap.add_argument("--append-events", type=int, default=40_000, help="events per concurrent embedded append run")
    ap.add_argument("--kafka-append-events", type=int, default=20_000)
    ap.add_argument("--no-peer", action="store_true", help="skip the Kafka Streams peer")
    ap.add_argument("--kafka-replication", type=int, default=1, help="copies of each record (3 on a cluster)")
    ap.add_argument("--kafka-appends-only", action="store_true",
                    help="only the appends to Kafka and their peers (for a cluster); the workload log is 20k events")
    a = ap.parse_args()

    sizes = [20_000] if a.kafka_appends_only else [parse_size(s) for s in a.sizes.split(",")]
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    B = a.bench
    rep = Report()
    growth = []
    run_tag = str(os.getpid())

    # ---- the workload logs, and what is measured on each ----
    logs = {}
    for n in sizes:
        name = size_name(n)
        d = os.path.join(a.work, f"w{name}")
        g = run_json([B, "generate", "--dir", d, "--events", str(n)])
        logs[n] = d
        if a.kafka_appends_only:
            continue  # the source of the records' bytes and size, nothing measured on it
        rep.details[f"workload {name}"] = g
        eng = run_json([B, "engine-open", "--dir", d])
        rb = run_json([B, "rebuild", "--dir", d, "--out", os.path.join(a.work, f"p{name}")])
        raw = run_json([B, "raw-keys", "--dir", os.path.join(a.work, "rawkeys"), "--keys", str(rb["events"])])
        rp = run_json([B, "replay", "--dir", d])
        q = run_json([B, "queries", "--projections", os.path.join(a.work, f"p{name}")])
        entry = {"size": name, "generate": g, "engine": eng, "rebuild": rb, "raw_keys": raw, "replay": rp, "queries": q}
        entry["commands"] = command_figures(a.sazesh, d, g["sample"])
        if a.kafka:
          try:
            prefix = f"bench{run_tag}-{name.lower()}."
            def copy_seconds(folder, to_prefix):
                started = time.time()
                subprocess.run([a.sazesh, "--data-dir", folder, "--kafka", a.kafka, "--kafka-prefix", to_prefix,
                                "--kafka-replication", "1", "copy-log", "--to-kafka"], check=True, stdout=subprocess.DEVNULL)
                return time.time() - started
            entry["copy_seconds"] = copy_seconds(d, prefix)
            if n == min(sizes):
                # The first copy runs on a broker just started (its JVM not yet compiled what it
                # runs); the same copy again, from a copy of the folder into topics of their own,
                # shows the broker warm.
                again = d + "-again"
                shutil.rmtree(again, ignore_errors=True)
                shutil.copytree(d, again, ignore=shutil.ignore_patterns("kafka-*"))
                entry["copy_again_seconds"] = copy_seconds(again, f"bench{run_tag}-{name.lower()}-again.")
                shutil.rmtree(again, ignore_errors=True)
            entry["kafka_rebuild"] = run_json([B, "rebuild", "--kafka", a.kafka, "--prefix", prefix,
                                               "--out", os.path.join(a.work, f"pk{name}")])
            # The Kafka writer's open: first with no local store (it indexes the whole topic),
            # then again on the store the first left (it reads only what is new).
            local = os.path.join(a.work, f"ks{name}")
            entry["kafka_open_first"] = run_json([B, "engine-open", "--kafka", a.kafka, "--prefix", prefix,
                                                  "--local-dir", local])
            entry["kafka_open_again"] = run_json([B, "engine-open", "--kafka", a.kafka, "--prefix", prefix,
                                                  "--local-dir", local])
            shutil.rmtree(local, ignore_errors=True)
            if not a.no_peer:
                entry["peer"] = run_json([os.path.join(ROOT, "benchmarks/streams-peer/run.sh"), a.kafka, prefix])
          except subprocess.CalledProcessError as failed:
            # The embedded figures of this size stand; the report says what failed.
            rep.notes.append(f"{name}: the Kafka step `{' '.join(failed.cmd)}` failed (exit {failed.returncode}); "
                             "see the run's log")
        growth.append(entry)
        shutil.rmtree(os.path.join(a.work, f"pk{name}"), ignore_errors=True)

    # ---- appends: the engine beside synced RocksDB writes of the same bytes ----
    source = logs[min(sizes)]
    for clients, events in [] if a.kafka_appends_only else [(1, 3_000), (16, a.append_events), (64, a.append_events)]:
        ours = run_json([B, "append", "--dir", os.path.join(a.work, f"append{clients}"), "--clients", str(clients),
                         "--events", str(events)])
        raw = run_json([B, "raw-append", "--source", source, "--dir", os.path.join(a.work, "rawappend"),
                        "--clients", str(clients), "--events", str(events)])
        rep.row("append, embedded", f"{clients} client(s): events durable/s (commands/s {ours['commands_per_second']:,.0f}; "
                f"p99 {ours['latency']['p99_us'] / 1000:.1f} ms)", ours["events_per_second"],
                "synced RocksDB writes, same bytes, same clients", raw["events_per_second"],
                "≥ 100,000/s concurrent and ≥ 0.5 of raw" if clients > 1 else "")
        shutil.rmtree(os.path.join(a.work, f"append{clients}"), ignore_errors=True)

    if a.kafka:
        n = min(sizes)
        raw_topic = f"bench{run_tag}-raw"
        for topic in (raw_topic, raw_topic + "-perf"):  # the broker does not create topics by itself
            subprocess.run([os.path.join(ROOT, "tools/kafka.sh"), "topics", "--bootstrap-server", a.kafka, "--create",
                            "--topic", topic, "--partitions", "3", "--replication-factor", str(a.kafka_replication)],
                           check=True, stdout=subprocess.DEVNULL)
        raw = run_json([B, "raw-kafka", "--source", source, "--kafka", a.kafka, "--topic", raw_topic])
        avg = max(1, raw["bytes"] // max(1, raw["events"]))
        def perf_tool(records, extra=""):
            """Kafka's own producer perf tool on a topic like the engine's: records/s, or None."""
            out = command_output(["sh", "-c", f"{ROOT}/tools/kafka.sh perf --topic {raw_topic}-perf --num-records {records} "
                                              f"--record-size {avg} --throughput -1 --producer-props bootstrap.servers={a.kafka} "
                                              f"acks=all enable.idempotence=true {extra} 2>&1 | tail -1"], timeout=600)
            log("  perf tool: " + out)
            try:
                return float(out.split(" records/sec")[0].split("records sent, ")[1].replace(",", ""))
            except (IndexError, ValueError):
                rep.notes.append(f"Kafka's producer perf tool printed: {out}")
                return None
        perf_rate = perf_tool(raw["events"])
        rep.details["raw librdkafka"] = raw
        copy = next((e for e in growth if e["size"] == size_name(n)), {})
        if "copy_seconds" in copy:
            again = f"; {n / copy['copy_again_seconds']:,.0f} again on the warm broker" if "copy_again_seconds" in copy else ""
            rep.row("append, Kafka", f"copy-log into Kafka ({size_name(n)} events, units of 1024 commands; the first onto "
                    f"the broker just started{again}): events/s",
                    n / copy["copy_seconds"], "raw librdkafka producer, acks=all, same bytes", raw["events_per_second"],
                    "≥ 150,000/s; ≥ 0.7 of raw")
        if perf_rate:
            rep.row("append, Kafka", "  (Kafka's producer perf tool, same count and size)", None,
                    "kafka-producer-perf-test, acks=all", perf_rate)
        targets = {1: "p99 < 15 ms; ≥ 0.7 of peer", 16: "≥ 0.7 of peer", 64: "≥ 30,000/s, p99 < 50 ms; ≥ 0.7 of peer"}
        for clients in (1, 16, 64):
            events = 1_500 if clients == 1 else a.kafka_append_events
            ours = run_json([B, "append", "--kafka", a.kafka, "--prefix", f"bench{run_tag}-app{clients}.",
                             "--replication", str(a.kafka_replication), "--clients", str(clients), "--events", str(events)])
            # The honest peer: Kafka's producer in transactional mode, its transactions as long as
            # the engine's mean unit, the same number of records of the same size.
            unit_ms = max(1, round(ours["mean_unit_ms"]))
            peer = perf_tool(ours["events"], f"--transactional-id bench{run_tag}-perf{clients} "
                                             f"--transaction-duration-ms {unit_ms}")
            per_unit = ours["events"] / max(1, ours["units"])
            rep.row("append, Kafka", f"engine, {clients} client(s): events committed/s (p50 / p99 "
                    f"{ours['latency']['p50_us'] / 1000:.1f} / {ours['latency']['p99_us'] / 1000:.1f} ms; "
                    f"{ours['units']:,} transactions of {per_unit:.1f} events, {ours['mean_unit_ms']:.2f} ms each)",
                    ours["events_per_second"], f"Kafka's perf tool, transactional, {unit_ms} ms transactions", peer,
                    targets[clients])
        # What the workload and the engine make on these cores with nothing made durable: the
        # ceiling any log under them has on this machine.
        alone = run_json([B, "append", "--dir", os.path.join(a.work, "alone64"), "--clients", "64",
                          "--events", str(a.kafka_append_events), "--sync", "0"])
        shutil.rmtree(os.path.join(a.work, "alone64"), ignore_errors=True)
        rep.row("append, Kafka", "  (the workload and engine alone, 64 clients, embedded log unsynced: events/s)",
                alone["events_per_second"], "", None, "")

    # ---- per size: rebuild, replay, queries, memory ----
    for e in growth:
        s = e["size"]
        rep.row("rebuild", f"{s} events from the embedded log: events/s", e["rebuild"]["events_per_second"],
                "RocksDB batch writes, as many keys, WAL off", e["raw_keys"]["keys_per_second"], "≥ 200,000/s")
        if "kafka_rebuild" in e:
            peer = e.get("peer")
            rep.row("rebuild", f"{s} events from Kafka: events/s", e["kafka_rebuild"]["events_per_second"],
                    "Kafka Streams peer, same topic (exactly_once_v2)" if peer else "",
                    peer["events_per_second"] if peer else None, "≥ 3 × peer")
        latencies = [("replay", f"one case's history ({e['replay']['mean_events']:.0f} events) from a {s} log",
                      e["replay"]["latency"])]
        for qname, label in [("case", "one case"), ("scorecard", "one scorecard"), ("top20", "top 20 businesses"),
                             ("filtered_list", "filtered list (business + status, 50)"),
                             ("agency_status", "filtered list (agency + status, 50)"),
                             ("category_month", "filtered list (category + month, 50)"),
                             ("overdue", "filtered list (overdue, 50)")]:
            if qname not in e["queries"]:
                continue
            latencies.append(("queries", f"{label}, {s} log", e["queries"][qname]))
        for area, label, lat in latencies:
            rep.rows.append((area, f"{label}: p50 / p99 µs", f"{lat['p50_us']:,.0f} / {lat['p99_us']:,.0f}", "", "–", "–",
                             "p99 < 1,000 µs"))
        rep.rows.append(("memory", f"peak RSS, {s} log: projector (rebuild) / engine (open)",
                         f"{e['rebuild']['peak_rss_mib']:,.0f} / {e['engine']['peak_rss_mib']:,.0f} MiB", "", "–", "–",
                         "projector flat from 1M to 10M; engine ≤ 150 MiB"))
        rep.rows.append(("engine open", f"{s} log, embedded: log + engine, seconds",
                         f"{e['engine']['log_open_seconds'] + e['engine']['engine_open_seconds']:.3f}", "", "–",
                         "–", "< 0.2 s at 10M"))
        if "kafka_open_again" in e:
            rep.rows.append(("engine open", f"{s} log, Kafka writer: first (indexes the topic) / again (resumes): s, MiB",
                             f"{e['kafka_open_first']['log_open_seconds'] + e['kafka_open_first']['engine_open_seconds']:.2f} / "
                             f"{e['kafka_open_again']['log_open_seconds'] + e['kafka_open_again']['engine_open_seconds']:.2f} s, "
                             f"{e['kafka_open_first']['peak_rss_mib']:,.0f} / {e['kafka_open_again']['peak_rss_mib']:,.0f} MiB",
                             "", "–", "–", "< 0.2 s and ≤ 150 MiB at 10M"))
        for cname in ("file", "respond", "show", "cases", "tick", "scorecard"):
            c = e["commands"][cname]
            rep.rows.append(("commands", f"`{cname}`, whole process, {s} log: min / median / max ms ({c['runs']} runs)",
                             f"{c['min_ms']:,.0f} / {c['median_ms']:,.0f} / {c['max_ms']:,.0f}", "", "–", "–",
                             "median < 100 ms at 10M"))

    growth_md = "| events | generate events/s | engine open s | engine RSS MiB | rebuild events/s | projector RSS MiB | replay p99 µs | case query p99 µs | log MiB |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    for e in growth:
        growth_md += (f"| {e['size']} | {e['generate']['events_per_second']:,.0f} | {e['engine']['log_open_seconds'] + e['engine']['engine_open_seconds']:.3f} | "
                      f"{e['engine']['peak_rss_mib']:,.0f} | {e['rebuild']['events_per_second']:,.0f} | "
                      f"{e['rebuild']['peak_rss_mib']:,.0f} | {e['replay']['latency']['p99_us']:,.0f} | "
                      f"{e['queries']['case']['p99_us']:,.0f} | {e['generate']['log_bytes'] / 1048576:,.0f} |\n")

    workload = growth[0]["generate"] if growth else None
    text = "\n".join([
        "# Sazesh benchmarks",
        "",
        "Produced by `benchmarks/run.sh` (which calls `benchmarks/run.py`); every figure below was measured in this run,",
        "the engine's beside the raw limit measured the same way on the same machine. See `benchmarks/README.md`.",
        "",
        "## Machine",
        machine_description(a.work, len(a.kafka.split(",")) if a.kafka else 1),
        "",
        "## Results",
        rep.table(),
        *(["## Growth", growth_md, "## Workload",
           f"Generated through the engine by the shared workload generator: {workload['cases']:,} cases over "
           f"{workload['businesses']:,} businesses (Zipf, s = 1) in the {growth[0]['size']} log; final statuses "
           f"{json.dumps(workload['statuses'], ensure_ascii=False)}; close reasons {json.dumps(workload['close_reasons'])}; "
           f"{workload['long_cases']} cases of 45+ events.", ""] if workload else []),
        *(["## Notes", *[f"- {n}" for n in rep.notes], ""] if rep.notes else []),
        "## Raw figures (JSON, one per program run)",
        "```",
        *[json.dumps(e, ensure_ascii=False) for e in growth],
        *[json.dumps({k: v}, ensure_ascii=False) for k, v in rep.details.items()],
        "```",
        "",
    ])
    with open(a.out, "w") as f:
        f.write(text)
    print(rep.table())
    print(growth_md)
    log(f"written to {a.out}")


if __name__ == "__main__":
    main()
