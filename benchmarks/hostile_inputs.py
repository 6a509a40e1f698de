"""Hostile inputs against a real `fakelens serve` on loopback: status, seconds, server RSS and temp-disk peaks.

Starts ``fakelens serve`` (``python -m fakelens.cli serve``) on 127.0.0.1 (or ``--host``, another loopback address) in a
subprocess, sends each hostile input of issue 12 once, and prints one row per
input: the status code, the seconds until the answer, the server's peak RSS
increase over its RSS just before the request (psutil, sampled every 10 ms)
and the peak size of the temporary files it held open. Bounded: every request
has a timeout and every body generator a size. Hostile metadata (issue 28: a huge
XMP, random or looping C2PA manifests, thousands of PNG text chunks, a zTXt bomb)
comes last; each should answer 200 with a warning (or 413 above the upload limit).

    python benchmarks/hostile_inputs.py                      # this tree, bundled detector
    python benchmarks/hostile_inputs.py --src ../main/src    # another checkout (the numbers before a change)
    python benchmarks/hostile_inputs.py --host ::1 --only host header   # the Host guard on another loopback address
    python benchmarks/hostile_inputs.py --local-only         # only the hostile files for the commands (issue 31)

First, without the server, hostile files for the commands themselves: tar
shards with sparse members (the peak RSS of the process streaming them, its
allocations capped at 4 GiB), and manifests and file names that would write
outside an output folder (the files written outside are counted).
"""
from __future__ import annotations

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "data"))
sys.path.insert(0, str(ROOT / "tests" / "provenance"))
import provkit  # noqa: E402
from _common import print_table  # noqa: E402

from service.hostile import (  # noqa: E402
    BOMBS,
    astronaut_head,
    face_grid,
    grey16_png,
    jpeg_bytes,
    long_video,
    mjpeg_size_switch,
    palette_png_with_transparency,
)

GIB = 2**30
BOUNDARY = "hostile-boundary"


class ServerProbe:
    """Samples the server's RSS and the temporary files it holds open while a request runs."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.tmp = tempfile.gettempdir()

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in [self.process, *self.process.children(recursive=True)])

    def temp_bytes(self) -> int:
        total = 0
        fd_dir = f"/proc/{self.process.pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            return 0
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
                if target.startswith(self.tmp):
                    total += os.stat(f"{fd_dir}/{fd}").st_size
            except OSError:
                continue
        return total

    def measure(self, send) -> dict:
        """Run ``send()`` (returns (status, note)) while sampling; the peaks over the baseline."""
        time.sleep(0.5)
        base = self.rss()
        peak_rss, peak_tmp, running = base, 0, True

        def sample():
            nonlocal peak_rss, peak_tmp
            while running:
                peak_rss = max(peak_rss, self.rss())
                peak_tmp = max(peak_tmp, self.temp_bytes())
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        try:
            status, note = send()
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
            status, note = type(exc).__name__, str(exc)[:60]
        seconds = time.perf_counter() - started
        running = False
        sampler.join()
        return {"status": status, "seconds": f"{seconds:.2f}", "RSS +MB": f"{(peak_rss - base) / 2**20:.0f}",
                "temp MB": f"{peak_tmp / 2**20:.0f}", "note": note}


# ------------------------------------------------------------------ senders
def post_file(url: str, name: str, data: bytes, form: dict | None = None, timeout: float = 180, headers: dict | None = None):
    def send():
        with httpx.Client(timeout=timeout) as client:
            r = client.post(url + "/v1/detect", files={"file": (name, data)}, data=form or {}, headers=headers or {})
        try:
            body = r.json()
        except ValueError:
            body = {"detail": r.text}
        note = body.get("detail") or body.get("error") or _summary(body)
        return r.status_code, str(note)[:70]

    return send


def _summary(body: dict) -> str:
    if "n_faces" in body:
        explained = sum(1 for f in body.get("faces", []) if f.get("explanation"))
        return f"{body['status']}, {body['n_faces']} faces, {explained} explained, warnings: {len(body.get('warnings', []))}"
    if "n_frames_sampled" in body:
        return f"{body['status']}, {body['n_frames_sampled']} frames; " + "; ".join(body.get("warnings", []))[:40]
    return str(body)[:60]


def raw_stream(url: str, head: bytes, chunks, timeout: float = 120):
    """Send a head and body chunks until the server answers (or the chunks run out); the status line."""

    def send():
        with socket.create_connection(_address(url), timeout=timeout) as sock:
            sock.sendall(head)
            deadline = time.perf_counter() + timeout
            for chunk in chunks:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable or time.perf_counter() > deadline:
                    break
                try:
                    sock.sendall(chunk)
                except OSError:
                    break
            sock.settimeout(max(1.0, deadline - time.perf_counter()))
            answer = b""
            try:
                while b"\r\n\r\n" not in answer and (piece := sock.recv(65536)):
                    answer += piece
                while (piece := sock.recv(65536)) and len(answer) < 4096:
                    answer += piece
            except (TimeoutError, ConnectionResetError):
                pass
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
        detail = answer.split(b"\r\n\r\n", 1)[1][:70].decode(errors="replace") if b"\r\n\r\n" in answer else ""
        return status, detail

    return send


_PART_HEAD = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n'.encode()
_TRAILER = f"\r\n--{BOUNDARY}--\r\n".encode()


def _multipart_stream(head: bytes, total: int, chunk: int = 1 << 20):
    """A multipart body whose file is ``head`` + zeros, ``total`` bytes in all, made lazily."""
    yield _PART_HEAD + head
    sent = len(head)
    zeros = bytes(chunk)
    while sent < total:
        n = min(chunk, total - sent)
        yield zeros[:n]
        sent += n
    yield _TRAILER


def _chunked(parts):
    for part in parts:
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


def big_upload(url: str, chunked: bool):
    jpeg_head = jpeg_bytes(astronaut_head())[:64]
    body = _multipart_stream(jpeg_head, GIB)
    ctype = f"multipart/form-data; boundary={BOUNDARY}"
    if chunked:
        head = f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        return raw_stream(url, head, _chunked(body))
    length = len(_PART_HEAD) + GIB + len(_TRAILER)
    head = f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\n\r\n".encode()
    return raw_stream(url, head, body)


def second_file_part(url: str):
    small = jpeg_bytes(astronaut_head())
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'.encode() + small + b"\r\n",
             f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="b.jpg"\r\n\r\n'.encode() + small + b"\r\n",
             f"--{BOUNDARY}--\r\n".encode()]
    body = b"".join(parts)
    head = (f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return raw_stream(url, head, [body])


def slow_headers(url: str, lines: int = 300, gap: float = 0.1):
    """A header line every ``gap`` s (30 s in all): how long does the server keep the connection?"""
    chunks = [b"POST /v1/detect HTTP/1.1\r\n"] + [b"X-Slow: %d\r\n" % i for i in range(lines)]

    def send():
        started = time.perf_counter()
        with socket.create_connection(_address(url), timeout=5) as sock:
            for chunk in chunks:
                try:
                    sock.sendall(chunk)
                except OSError:
                    return "closed", f"cut off after {time.perf_counter() - started:.1f} s"
                readable, _, _ = select.select([sock], [], [], gap)
                if readable and not sock.recv(1024):
                    return "closed", f"cut off after {time.perf_counter() - started:.1f} s"
        return "open", f"still open after {time.perf_counter() - started:.1f} s"

    return send


def plain_during_explain(url: str, grid: bytes, crop: bytes):
    def send():
        box = {}

        def explain():
            try:
                with httpx.Client(timeout=300) as c:
                    box["explain"] = c.post(url + "/v1/detect", files={"file": ("grid.jpg", grid)}, data={"explain": "all"}).status_code
            except httpx.HTTPError as exc:
                box["explain"] = type(exc).__name__

        t = threading.Thread(target=explain, daemon=True)
        t.start()
        time.sleep(3)  # the explanation is under way
        started = time.perf_counter()
        with httpx.Client(timeout=120) as c:
            r = c.post(url + "/v1/detect", files={"file": ("crop.jpg", crop)}, data={"crop": "true"})
        plain = time.perf_counter() - started
        t.join(300)
        return r.status_code, f"plain crop answered in {plain:.2f} s; the 16-face explain=all: {box.get('explain')}"

    return send


def get(url: str, path: str, headers: dict | None = None, check=None):
    def send():
        r = httpx.get(url + path, headers=headers or {}, timeout=10)
        return r.status_code, check(r) if check else r.text[:70]

    return send


# ------------------------------------------------------------------ hostile files for the commands (no server)
#: A child running a local case may allocate at most this much (RLIMIT_DATA): the code before a fix must not
#: take the machine down while it is measured.
LOCAL_DATA_LIMIT = 4 * GIB


def _python(src: Path, code: str, timeout: float = 600) -> tuple[dict | None, str]:
    """``code`` in a fresh Python with ``src`` first on the path and its data capped: (its last stdout line as JSON, stderr)."""
    prelude = f"import resource\nresource.setrlimit(resource.RLIMIT_DATA, ({LOCAL_DATA_LIMIT}, {LOCAL_DATA_LIMIT}))\n"
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=timeout, env=env, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]), done.stderr
    except (IndexError, ValueError):
        return None, done.stderr


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def _written_outside(before: dict, after: dict, inside: list[Path]) -> list[str]:
    """Files new or changed since ``before`` that are not under one of the ``inside`` folders."""
    allowed = [str(f.resolve()) + os.sep for f in inside]
    changed = [p for p, stat in after.items() if before.get(p) != stat]
    return sorted(p for p in changed if not any(str(Path(p).resolve()).startswith(a) for a in allowed))


def sparse_shards(src: Path, work: Path):
    """Issue 31's reproducer: ``train --data`` streaming three 10 KB shards, each with a member claiming 2 GiB."""
    def run():
        from hostile_shards import sparse_shard

        folder = work / "sparse-shards"
        folder.mkdir()
        image = jpeg_bytes(astronaut_head()[::4, ::4])
        names = [sparse_shard(folder / f"train-{i:06d}.tar", image=image).name for i in range(3)]
        (folder / "shards.json").write_text(json.dumps({"train_samples": 9, "shards": [{"name": n, "samples": 3} for n in names]}))
        code = (f"import json, time\nfrom fakelens.data.shards import ShardDataset\n"
                f"base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\nt = time.perf_counter()\n"
                f"try:\n    got = [int(key) for _, label, key in ShardDataset({str(folder)!r}, lambda a, rng: a) if label is not None]\n"
                f"    status = f'{{len(got)}} samples, ' + ('sparse ones among them' if 1 in got else 'no sparse one')\n"
                f"except MemoryError:\n    status = 'MemoryError'\n"
                f"print(json.dumps({{'status': status, 'seconds': time.perf_counter() - t,"
                f" 'mb': (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}}))\n")
        result, err = _python(src, code)
        if result is None:
            return {"status": "crashed", "note": err.strip().splitlines()[-1][:70] if err.strip() else ""}
        warned = [line for line in err.splitlines() if "sparse" in line]
        size_kb = sum(f.stat().st_size for f in folder.glob("*.tar")) // 1024
        note = f"{len(warned)} sparse member(s) skipped with a warning; {size_kb} KB of tars"
        return {"status": result["status"], "seconds": f"{result['seconds']:.2f}", "RSS +MB": f"{result['mb']:.0f}", "note": note}

    return run


def command_writes(src: Path, work: Path, name: str, prepare, argv, inside):
    """Run ``fakelens argv`` on inputs ``prepare(case)`` makes; count the files written outside ``inside(case)``."""
    def run():
        case = work / name
        case.mkdir()
        prepare(case)
        before = _files(work)
        env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "fakelens.cli", *argv(case)], capture_output=True, text=True, timeout=600, env=env, check=False)
        outside = _written_outside(before, _files(work), inside(case))
        shown = ", ".join(os.path.relpath(p, case) for p in outside[:2])
        return {"status": f"exit {done.returncode}", "seconds": f"{time.perf_counter() - started:.2f}",
                "note": f"{len(outside)} file(s) written outside the output folder" + (f": {shown}" if shown else "")}

    return run


def _crop_faces_inputs(case: Path) -> None:
    head = jpeg_bytes(astronaut_head())
    for rel in ("ds/m/real/a.jpg", "ds/x/face.jpg"):
        (case / rel).parent.mkdir(parents=True, exist_ok=True)
        (case / rel).write_bytes(head)
    (case / "ds/m/manifest.csv").write_text("path,label\nreal/a.jpg,real\nreal/../../x/face.jpg,real\n")
    (case / "work").mkdir()


def _annotate_inputs(case: Path) -> None:
    head = jpeg_bytes(astronaut_head())
    (case / "in").mkdir()
    (case / "in" / "..jpg").write_bytes(head)
    long_video(case / "in" / "..mp4", 8, side=64)
    (case / "ann.jpg").write_bytes(b"a file beside the annotate folder")


def passwd_in_a_shard(src: Path, work: Path):
    """``fakelens shard`` on a manifest that names /etc/passwd among real images: does it end up in a tar?"""
    def run():
        case = work / "passwd"
        case.mkdir()
        (case / "a.jpg").write_bytes(jpeg_bytes(astronaut_head()))
        (case / "m.csv").write_text("path,label,group\na.jpg,real,a\n/etc/passwd,fake,b\n")
        env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-m", "fakelens.cli", "shard", str(case / "m.csv"), "--out", str(case / "out"),
                               "--val-fraction", "0", "--test-fraction", "0"], capture_output=True, text=True, timeout=600, env=env, check=False)
        passwd = Path("/etc/passwd").read_bytes()
        inside = any(passwd in tar.read_bytes() for tar in (case / "out").glob("*.tar"))
        return {"status": f"exit {done.returncode}", "note": f"/etc/passwd in a shard: {'yes' if inside else 'no'}"}

    return run


def local_inputs(src: Path, work: Path) -> list[tuple[str, object]]:
    return [
        ("3 shards of 14 KB, a 2 GiB sparse member each", sparse_shards(src, work)),
        ("shard manifest naming /etc/passwd", passwd_in_a_shard(src, work)),
        ("crop-faces row real/../../x/face.jpg", command_writes(
            src, work, "crop", _crop_faces_inputs, lambda c: ["crop-faces", str(c / "ds/m/manifest.csv"), "--out", str(c / "work/out")],
            lambda c: [c / "work" / "out"])),
        ("predict --annotate on ..jpg and ..mp4", command_writes(
            src, work, "annotate", _annotate_inputs,
            lambda c: ["predict", str(c / "in" / "..jpg"), str(c / "in" / "..mp4"), "--frames", "2", "-o", str(c / "in" / "rows.csv"),
                       "--annotate", str(c / "ann")],
            lambda c: [c / "ann", c / "in"])),
    ]


# ------------------------------------------------------------------ the run
def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def start_server(src: Path, host: str, port: int, run: str | None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_WAIT_POLICY": "PASSIVE"}
    cmd = [sys.executable, "-m", "fakelens.cli", "serve", "--host", host, "--port", str(port)] + (["--run", run] if run else [])
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"{_url(host, port)}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {server.stderr.read().decode()[-2000:]}")
    server.kill()
    raise SystemExit("the server did not start within 180 s")


def build_inputs(url: str, work: Path, quick: bool) -> list[tuple[str, object]]:
    head = astronaut_head()
    grid_16 = jpeg_bytes(face_grid(head, 4, 4, cell=120))
    grid_many = jpeg_bytes(face_grid(head, 21, 22, cell=96))
    crop = jpeg_bytes(head)
    switch_mkv = mjpeg_size_switch(work / "switch.mkv", "matroska", big=16000).read_bytes()
    switch_avi = mjpeg_size_switch(work / "switch.avi", "avi", big=16000).read_bytes()
    frames = 20_000 if quick else 300_000
    long_clip = long_video(work / "long.mp4", frames).read_bytes()
    avif_head = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(200)
    heic_head = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
    tmp = tempfile.gettempdir()
    return [
        ("1 GiB upload, Content-Length", big_upload(url, chunked=False)),
        ("1 GiB upload, chunked", big_upload(url, chunked=True)),
        ("second 'file' part", second_file_part(url)),
        ("16-bit grey PNG 8000x8000", post_file(url, "g.png", grey16_png(8000))),
        ("palette+alpha PNG 8000x8000", post_file(url, "p.png", palette_png_with_transparency(8000))),
        *[(f"{kind.upper()} bomb 60000x60000", post_file(url, f"bomb.{kind}", make(60000, 60000))) for kind, make in sorted(BOMBS.items())],
        (f"MJPEG 64->16000 px (mkv, {len(switch_mkv) // 1024} KB)", post_file(url, "s.mkv", switch_mkv, {"frames": "30"})),
        (f"MJPEG 64->16000 px (avi, {len(switch_avi) // 1024} KB)", post_file(url, "s.avi", switch_avi, {"frames": "30"})),
        (f"{frames:,} frames, one keyframe ({len(long_clip) // 1024} KB)", post_file(url, "long.mp4", long_clip, {"frames": "16"})),
        ("300-char extension", post_file(url, "clip." + "x" * 300, long_video(work / "short.mp4", 30).read_bytes(), {"frames": "4"})),
        ("NUL in the file name", post_file(url, "clip.mp4\x00.sh", long_video(work / "short.mp4", 30).read_bytes(), {"frames": "4"})),
        ("AVIF head (not an image body)", post_file(url, "x.avif", avif_head)),
        ("HEIC head", post_file(url, "x.heic", heic_head)),
        ("corrupt video: path in 422?", post_file(url, "c.mp4", long_clip[:300])),
        ("/v1/models: path shown?", get(url, "/v1/models", check=lambda r: f"server path shown: {tmp in r.text or '/' in r.json()['models'][0]['source']}")),
        ("cross-origin form POST", post_file(url, "a.jpg", crop, headers={"Origin": "https://evil.example"})),
        ("Host header evil.example", get(url, "/healthz", headers={"Host": "evil.example"})),
        ("Host header evil.example, POST", post_file(url, "a.jpg", crop, headers={"Host": "evil.example:80"})),
        ("page: framing and script policy", get(url, "/", check=lambda r: f"X-Frame-Options {r.headers.get('x-frame-options')}; "
                                                f"CSP {r.headers.get('content-security-policy', 'none')[:48]}")),
        ("/docs (Swagger UI from a CDN?)", get(url, "/docs")),
        ("headers trickled for 30 s", slow_headers(url)),
        ("plain crop during 16-face explain=all", plain_during_explain(url, grid_16, crop)),
        (f"face grid, {21 * 22} heads, explain=all", post_file(url, "grid.jpg", grid_many, {"explain": "all"}, timeout=300)),
        *[(f"metadata: {name}", post_file(url, "meta.png" if "PNG" in name else "meta.jpg", make()))
          for name, make in provkit.HOSTILE.items()],
        ("metadata: 12 MB extended XMP in a face photo", post_file(url, "xmp.jpg", provkit.huge_xmp_jpeg(12, base=crop))),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(ROOT / "src"), help="the fakelens source folder to serve (default: this tree)")
    ap.add_argument("--run", help="run folder (default: the bundled detector)")
    ap.add_argument("--host", default="127.0.0.1", help="a loopback address to serve on (127.0.0.2, ::1, localhost)")
    ap.add_argument("--port", type=int, default=8799)
    ap.add_argument("--quick", action="store_true", help="a shorter long video (20,000 frames)")
    ap.add_argument("--only", nargs="*", help="substrings of the input names to run")
    ap.add_argument("--local-only", action="store_true", help="only the hostile files for the commands (shards, manifests, names)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fakelens-hostile-local-") as work:
        for name, run in local_inputs(Path(args.src), Path(work)):
            if args.only and not any(o.lower() in name.lower() for o in args.only):
                continue
            rows.append({"input": name, "temp MB": "-", "RSS +MB": "-", **run()})
            print(f"  {name}: {rows[-1]['status']}; {rows[-1]['note']}", flush=True)
    if args.local_only:
        print()
        print_table(rows, ["input", "status", "seconds", "RSS +MB", "temp MB", "note"])
        return
    url = _url(args.host, args.port)
    server = start_server(Path(args.src), args.host, args.port, args.run)
    try:
        probe = ServerProbe(server.pid)
        print(f"server pid {server.pid}, RSS after start-up {probe.rss() / 2**20:.0f} MB ({args.src})", flush=True)
        with tempfile.TemporaryDirectory(prefix="fakelens-hostile-") as work:
            for name, send in build_inputs(url, Path(work), args.quick):
                if args.only and not any(o.lower() in name.lower() for o in args.only):
                    continue
                if server.poll() is not None:
                    rows.append({"input": name, "status": "server gone"})
                    continue
                row = {"input": name, **probe.measure(send)}
                rows.append(row)
                print(f"  {name}: {row['status']} in {row['seconds']} s, RSS +{row['RSS +MB']} MB", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    print()
    print_table(rows, ["input", "status", "seconds", "RSS +MB", "temp MB", "note"])


if __name__ == "__main__":
    main()
