"""The report of one bench/ run: what it ran on, ratio tables, targets.

    pytest bench --benchmark-only --benchmark-json=out.json
    python bench/report.py out.json [more.json ...] [--stat min|median] [--check]

Every figure comes from a worker process running one implementation alone
(bench/conftest.py); times are the min over rounds (--stat median for the
median).  Compare ratios within one run, not absolute times across runs:
the machine is shared.  --check exits 1 when a target is missed.

Targets (the issue's "done means"):
  dense      forward <= 1.15x the bare GEMM of the same provider, every shape
  kernels    2 threads never slower than 1 (dense, batchnorm, adam)
  batchnorm  >= 3x faster than NumPy, faster than torch.nn.BatchNorm1d
  epoch      fastnn <= 0.6x torch and >= 5x faster than the course's NumPy,
             at each thread count; with PyTorch or scikit-learn loaded first,
             <= 1.15x the plain process
  wide       fastnn no slower than torch at widths 1024/4096, batches 128/1024
  inference  fastnn's predict_proba at most ONNX Runtime's time on the
             exported file at 1 row (latency) and at 10,000 rows (throughput)
"""
import argparse
import json
import sys

FWD_GEMM_MAX = 1.15
TORCH_EPOCH_MAX = 0.6
NUMPY_EPOCH_MIN = 5.0
PEER_MAX = 1.15
BN_NUMPY_MIN = 3.0
# 2 threads "never slower" than 1, within the noise of two measurements
THREADS_SLACK = 1.03
WEIGHTED_MAX, PARTIAL_FIT_MAX, MEMMAP_MAX, MEMMAP_ANON_MB = 1.03, 1.1, 1.3, 200


def collect(data, stat="min"):
    """{(workload, params, impl, threads, peer, env): seconds} from a JSON dict."""
    out = {}
    for b in data.get("benchmarks", []):
        info = b.get("extra_info") or {}
        if "workload" not in info:
            continue
        params = tuple(sorted((k, v) for k, v in info.items()
                              if k in ("m", "n_in", "n_out", "n", "width", "batch", "rows",
                                       "net")))
        env = tuple(sorted((info.get("env") or {}).items()))
        key = (info["workload"], params, info["impl"], info["threads"], info.get("peer", "none"),
               env)
        t = b["stats"][stat]
        out[key] = min(t, out.get(key, t))
    return out


class Targets:
    def __init__(self):
        self.rows = []

    def add(self, what, value, ok, bound):
        if value is None:
            return
        self.rows.append((what, value, bound, "PASS" if ok else "FAIL"))

    @property
    def failed(self):
        return any(r[3] == "FAIL" for r in self.rows)


def _t(seconds):
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def _r(a, b):
    return None if a is None or b is None else a / b


def _f(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def header(data):
    info = data.get("machine_info", {}).get("fastnn_bench", {})
    lines = []
    seen = set()
    for w in info.get("workers", []):
        rt = w.get("runtime")
        if not rt:
            continue
        key = (w["threads"], w.get("peer"), json.dumps(w.get("env"), sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        g, pool = rt["gemm"], rt["pool"]
        arch = [p.get("architecture") for p in w.get("threadpools", [])
                if p.get("internal_api") == g["provider"] and p.get("architecture")]
        omp = ", ".join(sorted({o["prefix"] for o in rt.get("openmp_runtimes_loaded", [])})) \
            or "none"
        env = ", ".join(f"{k}={v}" for k, v in (w.get("env") or {}).items()) or "default"
        lines.append(
            f"  {w['threads']} thread(s), peer {w.get('peer', 'none')}, {env}: fastnn "
            f"{w.get('fastnn', '?')} on {rt['threads']} thread(s); pool: {pool['kind']}, "
            f"{pool['wait_policy']}; GEMM: {g['provider']} {g['version']}"
            f"{' (' + arch[0] + ' kernels)' if arch else ''} via {g['route']}; "
            f"OpenMP runtimes of others in the process: {omp}")
    cpus = {w.get("runtime", {}).get("cpu") for w in info.get("workers", []) if w.get("runtime")}
    top = [f"CPU: {', '.join(sorted(c for c in cpus if c)) or '?'}; "
           f"os.cpu_count() {info.get('cpu_count')}; environment: "
           + (", ".join(f"{k}={v}" for k, v in (info.get("env") or {}).items() if v)
              or "no FASTNN_BLAS/OPENBLAS_*/OMP_* set")]
    blas = {}
    for w in info.get("workers", []):
        for p in w.get("threadpools", []):
            if p.get("user_api") == "blas":
                blas[p.get("filepath")] = (f"{p.get('internal_api')} {p.get('version')} "
                                           f"{p.get('architecture') or ''} "
                                           f"({p.get('threading_layer') or '?'} threading)")
    top += [f"BLAS seen: {v}" for v in sorted(set(blas.values()))]
    return top + lines


def dense_table(res, threads, targets):
    lines = [f"dense, float32 relu, {threads} thread(s): time per call, and ratios "
             f"(fastnn/gemm: what fastnn adds to the provider's bare GEMM)",
             f"  {'':26s} {'gemm':>10s} {'fastnn':>10s} {'numpy':>10s} {'torch':>10s}"
             f" {'fastnn/gemm':>12s} {'numpy/fastnn':>13s} {'torch/fastnn':>13s}"]
    shapes = sorted({dict(k[1])["m"] * 10 ** 8 + dict(k[1])["n_in"] * 10 ** 4 + dict(k[1])["n_out"]
                     for k in res if k[0] in ("dense_forward", "dense_backward")})
    rows = 0
    for direction in ("forward", "backward"):
        for code in shapes:
            m, n_in, n_out = code // 10 ** 8, code // 10 ** 4 % 10 ** 4, code % 10 ** 4
            params = tuple(sorted({"m": m, "n_in": n_in, "n_out": n_out}.items()))

            def get(impl, th=threads):
                return res.get((f"dense_{direction}", params, impl, th, "none", ()))
            g, f, n, t = get("gemm"), get("fastnn"), get("numpy"), get("torch")
            if f is None:
                continue
            rows += 1
            lines.append(f"  {direction:8s} m={m:<5d} {n_in}->{n_out:<5d} {_t(g):>10s} "
                         f"{_t(f):>10s} {_t(n):>10s} {_t(t):>10s} {_f(_r(f, g)):>12s} "
                         f"{_f(_r(n, f)):>13s} {_f(_r(t, f)):>13s}")
            if direction == "forward":
                ratio = _r(f, g)
                targets.add(f"dense forward m={m} {n_in}->{n_out}, {threads}t: fastnn/gemm",
                            ratio, ratio is not None and ratio <= FWD_GEMM_MAX,
                            f"<= {FWD_GEMM_MAX}")
            if threads != 1:
                one = get("fastnn", 1)
                ratio = _r(f, one)
                targets.add(f"dense {direction} m={m} {n_in}->{n_out}: {threads}t/1t", ratio,
                            ratio is not None and ratio <= THREADS_SLACK, "<= 1")
    return lines if rows else []


def simple_table(res, workload, title, impls, threads, targets, base="fastnn", checks=()):
    keys = sorted({k[1] for k in res if k[0] == workload})
    lines = [f"{title}, {threads} thread(s)",
             "  " + f"{'':14s}" + "".join(f"{i:>11s}" for i in impls)
             + "".join(f"{i + '/' + base:>15s}" for i in impls if i != base)]
    rows = 0
    for params in keys:
        row = {i: res.get((workload, params, i, threads, "none", ())) for i in impls}
        if row.get(base) is None:
            continue
        rows += 1
        label = "x".join(str(v) for _, v in params)
        lines.append("  " + f"{label:14s}" + "".join(f"{_t(row[i]):>11s}" for i in impls)
                     + "".join(f"{_f(_r(row[i], row[base])):>15s}" for i in impls if i != base))
        for impl, bound, op in checks:
            ratio = _r(row.get(impl), row[base])
            ok = ratio is not None and (ratio >= bound if op == ">=" else ratio <= bound)
            targets.add(f"{workload} {label}, {threads}t: {impl}/{base}", ratio, ok,
                        f"{op} {bound}")
        if threads != 1:
            one = res.get((workload, params, base, 1, "none", ()))
            ratio = _r(row[base], one)
            targets.add(f"{workload} {label}: {threads}t/1t", ratio,
                        ratio is not None and ratio <= THREADS_SLACK, "<= 1")
    return lines if rows else []


def epoch_table(res, threads, targets):
    def get(impl, peer="none", env=()):
        return res.get(("epoch", (), impl, threads, peer, env))
    f = get("fastnn")
    rows = [("fastnn", f), ("fastnn, PyTorch loaded first", get("fastnn", "torch")),
            ("fastnn, scikit-learn loaded first", get("fastnn", "sklearn")),
            ("fastnn, FASTNN_BLAS=openblas", get("fastnn", env=(("FASTNN_BLAS", "openblas"),))),
            ("fastnn, FASTNN_BLAS=numpy", get("fastnn", env=(("FASTNN_BLAS", "numpy"),))),
            ("fastnn, a fit(epochs=1) call", get("fastnn_fit1")),
            ("torch eager, fused Adam", get("torch")), ("course-style NumPy", get("numpy")),
            ("GEMMs alone, BLAS threads", get("gemm")),
            ("GEMMs alone, row blocks", get("gemm_split"))]
    if f is None:
        return []
    lines = [f"MNIST epoch (784-256-128-10, Adam, batch 128), {threads} thread(s)"]
    lines += [f"  {label:38s} {_t(t):>10s}   {_f(_r(t, f))}x fastnn" for label, t in rows
              if t is not None]
    floor = min([t for t in (get("gemm"), get("gemm_split")) if t is not None], default=None)
    t, n = get("torch"), get("numpy")
    lines.append(f"  fastnn/torch {_f(_r(f, t))}   numpy/fastnn {_f(_r(n, f))}   "
                 f"fastnn/GEMM floor {_f(_r(f, floor))}   numpy/GEMM floor (the most "
                 f"numpy/fastnn any implementation on this BLAS can reach) {_f(_r(n, floor))}")
    ratio = _r(f, t)
    targets.add(f"epoch {threads}t: fastnn/torch", ratio,
                ratio is not None and ratio <= TORCH_EPOCH_MAX, f"<= {TORCH_EPOCH_MAX}")
    ratio = _r(n, f)
    targets.add(f"epoch {threads}t: numpy/fastnn", ratio,
                ratio is not None and ratio >= NUMPY_EPOCH_MIN, f">= {NUMPY_EPOCH_MIN}")
    for peer in ("torch", "sklearn"):
        ratio = _r(get("fastnn", peer), f)
        targets.add(f"epoch {threads}t: fastnn after {peer} / fastnn alone", ratio,
                    ratio is not None and ratio <= PEER_MAX, f"<= {PEER_MAX}")
    return lines


def scale_table(res, memory, threads, targets):
    def get(impl, peer="none"):
        return res.get(("scale", (), impl, threads, peer, ()))
    fit, big = get("fit"), get("in_memory")
    rows = [("fit (MNIST, 60,000 rows)", get("fit"), fit),
            ("fit with sample_weight", get("weighted"), fit),
            ("10 partial_fit calls", get("partial_fit"), fit),
            ("500,000 rows in memory", big, big),
            ("500,000 rows memory-mapped (1.57 GB)", get("memmap"), big)]
    if not any(t is not None for _, t, _ in rows):
        return []
    lines = [f"data at scale: an epoch, {threads} thread(s)   (PyTorch imported first)"]
    impls = ("fit", "weighted", "partial_fit", "in_memory", "memmap")
    for (label, t, base), impl in zip(rows, impls):
        if t is not None:
            peer = get(impl, "torch")
            after = f"   ({_t(peer)}, {_f(_r(peer, t))}x)" if peer is not None else ""
            lines.append(f"  {label:38s} {_t(t):>10s}   {_f(_r(t, base))}x{after}")
    anon = memory.get(("memmap", threads))
    if anon is not None:
        lines.append(f"  memory-mapped: RssAnon grew by {anon:.0f} MB during the fit")
    for what, t, base, bound in (("weighted/fit", get("weighted"), fit, WEIGHTED_MAX),
                                 ("partial_fit/fit", get("partial_fit"), fit, PARTIAL_FIT_MAX),
                                 ("memmap/in memory", get("memmap"), big, MEMMAP_MAX)):
        ratio = _r(t, base)
        targets.add(f"scale {threads}t: {what}", ratio, ratio is not None and ratio <= bound,
                    f"<= {bound}")
    if anon is not None:
        targets.add(f"scale {threads}t: memmap RssAnon growth (MB)", anon,
                    anon < MEMMAP_ANON_MB, f"< {MEMMAP_ANON_MB}")
    return lines


def scale_memory(data):
    """{(impl, threads): RssAnon growth in MB} of the scale benchmarks."""
    out = {}
    for b in data.get("benchmarks", []):
        info = b.get("extra_info") or {}
        if info.get("workload") == "scale" and "rss_anon_growth_mb" in info:
            key = (info["impl"], info["threads"])
            out[key] = max(info["rss_anon_growth_mb"], out.get(key, 0.0))
    return out


def wide_table(res, threads, targets):
    keys = sorted({k[1] for k in res if k[0] == "wide" and k[3] == threads})
    if not keys:
        return []
    lines = [f"wide layers, 20,000 rows, 784 -> w -> w -> 10, {threads} thread(s)",
             f"  {'':22s} {'fastnn':>10s} {'torch':>10s} {'fastnn/torch':>13s}"]
    for params in keys:
        p = dict(params)
        f = res.get(("wide", params, "fastnn", threads, "none", ()))
        t = res.get(("wide", params, "torch", threads, "none", ()))
        lines.append(f"  width {p['width']:<5d} batch {p['batch']:<5d} {_t(f):>10s} "
                     f"{_t(t):>10s} {_f(_r(f, t)):>13s}")
        ratio = _r(f, t)
        targets.add(f"wide w={p['width']} b={p['batch']}, {threads}t: fastnn/torch", ratio,
                    ratio is not None and ratio <= 1.0, "<= 1")
    return lines


def inference_table(res, threads, targets):
    """Inference latency per rows, each implementation in its own process."""
    keys = sorted({k[1] for k in res if k[0] == "inference" and k[3] == threads},
                  key=lambda p: (dict(p)["net"], dict(p)["rows"]))
    if not keys:
        return []
    impls = [("fastnn", "none", "fastnn"), ("fastnn", "torch", "fastnn+torch"),
             ("ort", "none", "ort"), ("ort_node", "none", "ort_node"), ("torch", "none", "torch")]
    lines = [f"inference (predict_proba of MNIST rows), {threads} thread(s): time per call",
             f"  {'':18s}" + "".join(f"{label:>13s}" for _, _, label in impls)
             + f"{'fastnn/ort':>12s}{'fastnn/torch':>14s}"]
    for params in keys:
        p = dict(params)
        row = {label: res.get(("inference", params, impl, threads, peer, ()))
               for impl, peer, label in impls}
        f, o = row["fastnn"], row["ort"]
        lines.append(f"  {p['net']:7s} {p['rows']:>6d} rows" + "".join(
            f"{_t(row[label]):>13s}" for _, _, label in impls)
            + f"{_f(_r(f, o)):>12s}{_f(_r(f, row['torch'])):>14s}")
        if p["rows"] in (1, 10_000):
            what = "latency" if p["rows"] == 1 else "throughput"
            ratio = _r(f, o)
            targets.add(f"inference {p['net']} {p['rows']} rows ({what}), {threads}t: fastnn/ort",
                        ratio, ratio is not None and ratio <= 1.0, "<= 1")
    return lines


def providers_table(res, threads):
    rows = {k[2]: v for k, v in res.items() if k[0] == "gemm_epoch" and k[3] == threads}
    if not rows:
        return []
    best = min(rows.values())
    lines = [f"the epoch's GEMMs per BLAS, {threads} thread(s) (60.5 GFLOP)"]
    for impl, t in sorted(rows.items(), key=lambda kv: kv[1]):
        lines.append(f"  {impl:16s} {_t(t):>10s}  {60.5 / t:6.0f} GFLOP/s  {t / best:5.2f}x best")
    return lines


def format_report(data, stat="min"):
    return build(data, stat)[0]


def build(data, stat="min"):
    """(the report's text, its Targets)."""
    res = collect(data, stat)
    targets = Targets()
    threads = sorted({k[3] for k in res})
    out = header(data)
    for th in threads:
        for block in (dense_table(res, th, targets),
                      simple_table(res, "batchnorm", "batchnorm fwd+bwd (m x n)",
                                   ("fastnn", "numpy", "torch"), th, targets,
                                   checks=(("numpy", BN_NUMPY_MIN, ">="), ("torch", 1.0, ">="))),
                      simple_table(res, "adam", "Adam step (n parameters)",
                                   ("fastnn", "twin", "numpy", "torch", "floor"), th, targets),
                      epoch_table(res, th, targets), wide_table(res, th, targets),
                      inference_table(res, th, targets),
                      scale_table(res, scale_memory(data), th, targets),
                      providers_table(res, th)):
            if block:
                out += [""] + block
    if targets.rows:
        out += ["", "targets:"]
        out += [f"  {status}  {what}: {value:.2f} ({bound})"
                for what, value, bound, status in targets.rows]
    return "\n".join(out) + "\n", targets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+",
                        help="pytest-benchmark JSON files; several: the best of the runs "
                             "(each figure the min, or median, over all of them)")
    parser.add_argument("--stat", default="min", choices=("min", "median"))
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    data = {"benchmarks": []}
    for path in args.json:
        with open(path) as f:
            run = json.load(f)
        data["benchmarks"] += run.get("benchmarks", [])
        data.setdefault("machine_info", run.get("machine_info", {}))
    text, targets = build(data, args.stat)
    sys.stdout.write(text)
    return 1 if args.check and targets.failed else 0


if __name__ == "__main__":
    sys.exit(main())
