"""The app under load: N people classifying images at once, over loopback.

    python benchmarks/app_load.py [--clients 8] [--requests 200] [--seconds 120] [--no-data] [--same]

Starts the Gradio app with the pretrained model in a child process on 127.0.0.1 (with the
test images of $CIFARLAB_DATA for its examples when that is set, as `cifarlab app` does;
--no-data starts it without), then runs N client threads, each its own gradio_client, that
call `/classify` one after another until --requests answers have come back in all or
--seconds have passed. Every other request sends the same small PNG with the same options,
as a class does when everyone tries the example, so several clients upload the very same
file and get the very same answer at the same moment (Gradio's upload and answer caches
name files by their content); the rest cycle through photos (JPEG and PNG, 480x360 to
1024x768, one of them twice under two names), GradCAM on for two in three. An answer
counts as a failure when the call raises or its picture does not open as a 224x224 image.
--same sends only the example, GradCAM off: the most identical answers at once there can be.

Prints requests/s, the latency's p50 and p95 (seconds, upload to downloaded answer), the
failures (count and the first distinct messages) and the server process's peak resident
memory, with the load average of the machine before and after: other work on the machine
changes every figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image


def serve(port: int | None, with_data: bool) -> None:
    """The child process: the app on 127.0.0.1; prints its URL, then serves until killed."""
    from cifarlab.app import build_app, launch
    from cifarlab.pretrained import load_pretrained

    test = None
    if with_data and os.environ.get("CIFARLAB_DATA"):
        from cifarlab.data import load_splits, resolve_source
        from cifarlab.profile import get_profile

        test = load_splits(resolve_source(None), get_profile("smoke")).test
    app = build_app(load_pretrained(), test, gallery_size=4)
    print(f"URL {launch(app, port=port, block=False)}", flush=True)
    threading.Event().wait()  # Gradio serves from its own threads


def upload_files(folder: Path) -> list[Path]:
    """The example everyone sends (first), then a mix of photos, one of them twice."""
    from cifarlab.data import make_synthetic

    images = make_synthetic(4, seed=0, split="test").images
    files = []
    kinds = [((32, 32), "PNG"), ((480, 360), "JPEG"), ((640, 480), "PNG"), ((1024, 768), "JPEG")]
    for i, (size, fmt) in enumerate(kinds):
        path = folder / f"photo{i}.{fmt.lower().replace('jpeg', 'jpg')}"
        Image.fromarray(images[i]).resize(size, Image.Resampling.BICUBIC).save(path, fmt)
        files.append(path)
    twin = folder / "photo1-copy.jpg"  # the same bytes as photo1.jpg under another name
    twin.write_bytes(files[1].read_bytes())
    return [*files, twin]


def peak_rss(pid: int) -> int | None:
    """The process's peak resident memory in bytes (Linux's VmHWM), None where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class Load:
    """The shared state of the client threads: what to send next, and what came back."""

    def __init__(self, files: list[Path], requests: int, seconds: float, same: bool) -> None:
        self.files, self.requests, self.seconds, self.same = files, requests, seconds, same
        self.lock = threading.Lock()
        self.sent = 0
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.start = self.deadline = 0.0

    def next_request(self) -> int | None:
        with self.lock:
            if self.sent >= self.requests or time.perf_counter() >= self.deadline:
                return None
            self.sent += 1
            return self.sent - 1

    def client(self, url: str, ready: threading.Barrier) -> None:
        from gradio_client import Client, handle_file

        try:
            client = Client(url, verbose=False)
        except Exception as error:
            with self.lock:
                self.failures.append(f"no client: {type(error).__name__}: {error}"[:300])
            ready.abort()  # the run stops here: its figures would not be for N clients
            raise
        ready.wait()
        while (i := self.next_request()) is not None:
            mix = self.files[1:]
            path, cam = (self.files[0], True) if i % 2 == 0 else (mix[i // 2 % len(mix)], i // 2 % 3 != 2)
            cam = cam and not self.same
            path = self.files[0] if self.same else path
            begin = time.perf_counter()
            try:
                label, shown = client.predict(handle_file(str(path)), 3, cam, "layer3", 0.5, api_name="/classify")
                with Image.open(shown) as picture:
                    picture.load()
                    size = picture.size
                if size != (224, 224) or len(label.get("confidences", [])) != 3:
                    raise RuntimeError(f"a wrong answer: picture {size}, label {label}")
            except Exception as error:  # a failure is a result here, not a reason to stop
                with self.lock:
                    self.failures.append(f"{type(error).__name__}: {error}"[:300])
            finally:
                with self.lock:
                    self.latencies.append(time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--requests", type=int, default=200, help="requests in all (default 200)")
    parser.add_argument("--seconds", type=float, default=120, help="no new request after this (default 120)")
    parser.add_argument("--port", type=int, help="the server's port (default: Gradio's first free one)")
    parser.add_argument("--no-data", action="store_true", help="start the app without test images")
    parser.add_argument("--same", action="store_true", help="every request the same file, GradCAM off")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.serve:
        serve(args.port, not args.no_data)
        return
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    command = [sys.executable, __file__, "--serve", *(["--no-data"] if args.no_data else [])]
    command += ["--port", str(args.port)] if args.port else []
    load_before = os.getloadavg()
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        for line in server.stdout:  # Gradio may print other lines first
            if line.startswith("URL "):
                break
        else:
            raise SystemExit("the app did not start; see its messages above")
        url = line.split()[1]
        with tempfile.TemporaryDirectory() as folder:
            files = upload_files(Path(folder))
            run(url, files, server.pid, args, load_before)
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(url: str, files: list[Path], pid: int, args: argparse.Namespace, load_before: tuple) -> None:
    from gradio_client import Client, handle_file

    Client(url, verbose=False).predict(handle_file(str(files[0])), 3, True, "layer3", 0.5, api_name="/classify")
    rss_ready = psutil.Process(pid).memory_info().rss  # after start-up and one answer
    load = Load(files, args.requests, args.seconds, args.same)
    ready = threading.Barrier(args.clients + 1)
    threads = [threading.Thread(target=load.client, args=(url, ready), daemon=True) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    load.start = time.perf_counter()  # set before the clients are let go: they read the deadline
    load.deadline = load.start + args.seconds
    ready.wait()
    for thread in threads:
        thread.join(timeout=max(1.0, load.deadline + 120 - time.perf_counter()))
    elapsed = time.perf_counter() - load.start
    with load.lock:
        latencies, failures, sent = np.array(load.latencies), list(load.failures), load.sent
    cpu = (
        next(
            (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
            platform.processor() or platform.machine(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.machine()
    )
    import cifarlab

    print(f"device: {os.cpu_count()} CPU cores ({cpu}); load average before {load_before[0]:.2f}")
    print(f"app: {Path(cifarlab.__file__).parent} (in a child process)")
    what = "the same file, GradCAM off" if args.same else "a mix"
    print(f"{args.clients} clients ({what}), {len(latencies)} answers of {sent} requests in {elapsed:.1f} s")
    print(f"requests/s: {len(latencies) / elapsed:.2f}")
    if len(latencies):
        print(f"latency: p50 {np.percentile(latencies, 50):.2f} s, p95 {np.percentile(latencies, 95):.2f} s")
    if sent > len(latencies):
        print(f"unfinished: {sent - len(latencies)} requests still running at the cap")
    print(f"failures: {len(failures)} ({len(failures) / max(len(latencies), 1):.1%})")
    for message in list(dict.fromkeys(failures))[:5]:
        print(f"  {message}")
    peak = peak_rss(pid)
    print(
        f"server memory: {rss_ready / 2**30:.2f} GiB after start-up, peak "
        + (f"{peak / 2**30:.2f} GiB" if peak else "unknown (no /proc)")
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
