#!/usr/bin/env python3
"""`sazesh serve` holding many idle keep-alive connections: the server's RSS and thread count
before and after N connections that sent nothing, and whether it still answers meanwhile.

    benchmarks/serve_idle.py [--connections 10000] [--sazesh build/cli/sazesh]
"""
import argparse, os, resource, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=10_000)
    ap.add_argument("--sazesh", default=os.path.join(ROOT, "build/cli/sazesh"))
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="sazesh-idle-") as d:
        proc = subprocess.Popen([a.sazesh, "--data-dir", os.path.join(d, "data"), "serve", "--listen", "127.0.0.1:0",
                                 "--tick-every", "0", "--request-timeout", "600000"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = proc.stdout.readline().split()[-1]
            host, port = url[len("http://"):].split(":")
            time.sleep(0.5)
            rss0, threads0 = status(proc.pid)
            socks = []
            started = time.time()
            for _ in range(a.connections):
                s = socket.create_connection((host, int(port)))
                socks.append(s)
            opened = time.time() - started
            time.sleep(1.0)
            rss1, threads1 = status(proc.pid)
            t = time.time()
            with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
                ok = r.status == 200
            answer_ms = (time.time() - t) * 1000
            per = (rss1 - rss0) * 1024 / max(1, len(socks))
            print(f"| idle connections | {len(socks):,} (opened in {opened:.1f} s) |")
            print(f"|---|---|")
            print(f"| server RSS before / after | {rss0 / 1024:.1f} / {rss1 / 1024:.1f} MiB |")
            print(f"| memory per idle connection | {per:,.0f} bytes |")
            print(f"| server threads before / after | {threads0} / {threads1} |")
            print(f"| /healthz answered meanwhile | {'yes' if ok else 'no'}, in {answer_ms:.1f} ms |")
            for s in socks:
                s.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
