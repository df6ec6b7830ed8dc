"""How long a person waits for an answer: time per image for the pretrained model.

    python benchmarks/app_latency.py [--images 50]

Prints milliseconds per image for `predict` (decode a 480x360 JPEG, prepare, one forward
pass), `explain` (the same plus GradCAM: a backward pass), and the Gradio app's
`/classify` endpoint called with gradio_client over loopback (adds the upload, Gradio's
queue and the PNG of the answer), each after a warm-up call. Also a batch of 500 through
`probabilities`, to compare with one image at a time. Needs the `app` extra for the last.
"""

from __future__ import annotations

import argparse
import io
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cifarlab.data import make_synthetic
from cifarlab.inference import explain, predict, probabilities
from cifarlab.pretrained import load_pretrained


def per_image(run, inputs) -> float:
    run(inputs[0])  # warm-up: first-call allocations and lazy imports
    start = time.perf_counter()
    for item in inputs[1:]:
        run(item)
    return (time.perf_counter() - start) / (len(inputs) - 1) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    args = parser.parse_args()
    loaded = load_pretrained()
    # photo-sized JPEGs (480x360) made from test-like images; the content does not change the cost
    small = make_synthetic(args.images + 1, seed=0, split="test").images
    photos = []
    for image in small:
        buffer = io.BytesIO()
        Image.fromarray(image).resize((480, 360), Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=90)
        photos.append(buffer.getvalue())
    print(
        f"device: cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()}), "
        f"torch {torch.__version__}"
    )
    rows = {
        "predict (JPEG 480x360 -> top 3)": per_image(lambda b: predict(b, loaded, 3), photos),
        "explain (predict + GradCAM layer3)": per_image(lambda b: explain(b, loaded), photos),
    }
    batch = np.repeat(small, 500 // len(small) + 1, axis=0)[:500]
    probabilities(loaded, batch[:10])
    start = time.perf_counter()
    probabilities(loaded, batch)
    rows["batch of 500 32x32 images, per image"] = (time.perf_counter() - start) / len(batch) * 1000
    try:
        from gradio_client import Client, handle_file

        from cifarlab.app import build_app, launch
    except ImportError:
        print("(gradio not installed: pip install -e '.[app]' to time the web app)")
    else:
        folder = Path(tempfile.mkdtemp())
        paths = []
        for i, data in enumerate(photos):
            (folder / f"{i}.jpg").write_bytes(data)
            paths.append(str(folder / f"{i}.jpg"))
        app = build_app(loaded)
        client = Client(launch(app, block=False), verbose=False)
        try:
            rows["Gradio /classify with GradCAM (loopback)"] = per_image(
                lambda p: client.predict(handle_file(p), 3, True, "layer3", 0.5, api_name="/classify"), paths
            )
        finally:
            app.close()
    width = max(map(len, rows))
    for name, ms in rows.items():
        print(f"{name:<{width}}  {ms:8.1f} ms")


if __name__ == "__main__":
    main()
