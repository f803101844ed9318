"""Training speed and model quality of vaecourse.fit, measured in one run.

Speed, in the reference configuration (784-400-20 MLP, batch 128, Adam 1e-3):
  (a) one epoch of ``fit`` on 60,000 random 28x28 Bernoulli images (the arithmetic per step
      does not depend on the pixel values) against a loop over a torch.utils.data.DataLoader
      whose Dataset turns one uint8 image at a time into a float tensor through PIL, as
      torchvision's MNIST with ``transforms.ToTensor()`` does in pytorch/examples vae/main.py,
      with that example's optimizer, torch.optim.Adam (goal: fit >= 2x faster). fit uses its
      default optimizer, Adam with torch's fused kernel (``vaecourse.train.default_optimizer``);
  (b) ten epochs of ``fit`` over the course's MNIST training images (``load_dataset("mnist10k")``,
      8,004 images) against a bare loop over tensor slices doing the same arithmetic (the
      pytorch/examples loss, no clamp, no history), both with torch's default Adam and both with
      fused Adam (goal: fit within 1.05x). ``--profile`` also counts the ATen calls per step of
      each (torch.profiler) and prices fit's kernels: single steps of fit's step with the logvar
      clamp, the KL kernel, the Bernoulli kernel or all three swapped for the bare loop's ops
      (TorchOpsVAE), each paired with a bare step;
  (c) ten epochs of ``fit`` over the 60,000 images (goal: < 60 s on 2 cores).
The loops are timed ``--repeats`` times, interleaved (in alternating order) so that background
load hits them alike; the figures are medians, in wall-clock time and in this process's CPU time
(which other processes on a shared machine disturb less; with one thread it is the cleanest
comparison), with the best run beside them for (a).

Quality (the course's settings, COURSE_MODEL and COURSE_FIT below, which notebook 06 uses):
  - the digits (1,442 train / 355 test, dynamically binarized in training, test binarized
    once): test ELBO and the importance-weighted estimate of log p(x) with K = 1000;
  - the course's MNIST (``load_dataset("mnist10k")``, shipped with the package): train on its
    8,004 training images, test on its 1,996 test images binarized once; the course
    configuration against the reference 784-400-20 configuration of pytorch/examples (batch
    128, Adam 1e-3), both for the same number of epochs.

Run: .venv/bin/python tests/benchmarks/bench_training.py [--threads 2] [--repeats 3]
     [--skip-speed] [--skip-quality] [--only-fit-vs-bare] [--profile]
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import vaecourse as vc

REFERENCE_MODEL = {"latent_dim": 20, "hidden_dims": (400,)}
REFERENCE_FIT = {"batch_size": 128, "lr": 1e-3}
# The course's settings: the VAE and fit defaults, latent_dim 20, dynamic binarization.
COURSE_MODEL = {"latent_dim": 20}
COURSE_FIT = {"binarize": "dynamic"}
DIGITS_EPOCHS = 40
MNIST_EPOCHS = 10
IW_SAMPLES = 1000


# ---------------------------------------------------------------- the loops being compared
class BytesLikeTorchvisionMNIST(torch.utils.data.Dataset):
    """What torchvision.datasets.MNIST(transform=transforms.ToTensor()) does per item: index a
    uint8 tensor, .numpy() -> PIL image -> numpy copy -> (1, 28, 28) uint8 tensor -> float / 255,
    and the label through int()."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.data, self.targets = torch.from_numpy(images), torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        img, target = self.data[index], int(self.targets[index])
        picture = Image.fromarray(img.numpy())
        array = torch.from_numpy(np.array(picture, np.uint8, copy=True))
        image = array.view(picture.size[1], picture.size[0], 1).permute((2, 0, 1)).contiguous()
        return image.to(dtype=torch.get_default_dtype()).div(255), target


def _torch_log_px(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The bare loop's Bernoulli log-likelihood: torch's binary_cross_entropy_with_logits."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def _torch_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The bare loop's KL per dimension: expm1(t) - t, which cancels near t = 0."""
    return 0.5 * (mu.pow(2) + torch.expm1(logvar) - logvar)


def _step(
    model: vc.VAE, optimizer: torch.optim.Optimizer, xb: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """One step of the same arithmetic as fit: encoder, z = mu + sigma * eps, decoder logits,
    Bernoulli log-likelihood + closed-form KL, summed per example, averaged over the batch."""
    mu, logvar = model.encoder(xb).chunk(2, dim=-1)
    eps = torch.randn(mu.shape, generator=generator)
    logits = model.decoder(mu + torch.exp(0.5 * logvar) * eps)
    recon = _torch_log_px(logits, xb)
    kl = _torch_kl_per_dim(mu, logvar).sum(-1)
    loss = (kl - recon).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def epoch_bare(model, optimizer, x_flat: torch.Tensor, batch_size: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x_flat), generator=generator)
    for start in range(0, len(x_flat), batch_size):
        _step(model, optimizer, x_flat[perm[start : start + batch_size]], generator)


def epoch_dataloader(model, optimizer, loader, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for images, _labels in loader:
        loss = _step(model, optimizer, images.view(-1, 784), generator)
        total += loss.item()  # as the example does, once per batch


def epoch_fit(model, optimizer, x: torch.Tensor, batch_size: int, seed: int, epochs: int = 1) -> None:
    vc.fit(model, x, epochs=epochs, batch_size=batch_size, seed=seed, device="cpu", progress=False, optimizer=optimizer)


class TorchOpsVAE(vc.VAE):
    """The VAE with the pieces named in ``swap`` replaced, through the training contract
    (encode_flat, log_px, kl_per_dim), by the bare loop's ops: "clamp" (no logvar clamp),
    "bernoulli" (_torch_log_px), "kl" (_torch_kl_per_dim). With all three, fit's step does the
    bare loop's arithmetic."""

    swap: frozenset[str] = frozenset()

    def encode_flat(self, x):
        if "clamp" in self.swap:
            return tuple(self.encoder(x).chunk(2, dim=-1))
        return super().encode_flat(x)

    def log_px(self, out, x):
        if "bernoulli" in self.swap:
            return _torch_log_px(out, x)
        return super().log_px(out, x)

    def kl_per_dim(self, mu, logvar):
        if "kl" in self.swap:
            return _torch_kl_per_dim(mu, logvar)
        return super().kl_per_dim(mu, logvar)


def _reference_model(optimizer: str, swap: tuple[str, ...] = ()) -> tuple[vc.VAE, torch.optim.Optimizer]:
    """The 784-400-20 model with fit's default optimizer ("fit"), torch's default Adam ("adam",
    pytorch/examples' optimizer) or Adam with the fused kernel ("fused"); ``swap``: see TorchOpsVAE."""
    torch.manual_seed(0)
    model = (TorchOpsVAE if swap else vc.VAE)((28, 28), **REFERENCE_MODEL)
    if swap:
        model.swap = frozenset(swap)
    if optimizer == "fit":
        return model, vc.train.default_optimizer(model, lr=REFERENCE_FIT["lr"])
    return model, torch.optim.Adam(model.parameters(), lr=REFERENCE_FIT["lr"], fused=optimizer == "fused")


def _best(times: list[float]) -> str:
    return f"best {min(times):6.2f} s, median {statistics.median(times):6.2f} s"


def _aten_calls_per_step(run, steps: int) -> float:
    """ATen operator calls per step, counted by torch.profiler (calls made inside another ATen
    call are counted too: this is the dispatcher's work)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    return sum(1 for e in prof.events() if e.name.startswith("aten::")) / steps


def price_per_step(x_flat: torch.Tensor, optimizer_name: str, steps: int = 600) -> None:
    """What fit's step pays over the bare loop's step, and which of its kernels pays it: fit's step
    (training_loss, backward, optimizer step, as fit runs it) with none, some or all of its pieces
    swapped for the bare loop's ops (TorchOpsVAE), each paired with a bare step on the same
    minibatch in one round (the order rotates, so each takes every place in the round alike);
    medians of the paired differences (single steps, so background load hits both alike).
    A second bare step, timed the same way, shows what the pairing itself adds (about 0)."""
    batch = REFERENCE_FIT["batch_size"]
    variants = {"fit's step": (), "  bare ops for clamp": ("clamp",), "  bare ops for KL": ("kl",)}
    variants |= {"  bare ops for Bernoulli": ("bernoulli",), "  bare ops for all three": ("clamp", "kl", "bernoulli")}
    bare_model, bare_optimizer = _reference_model(optimizer_name)
    bare_noise = torch.Generator().manual_seed(0)
    runs = {}
    for name, swap in variants.items():
        model, optimizer = _reference_model(optimizer_name, swap)
        noise, kept = torch.Generator().manual_seed(0), []

        def fit_step(xb, model=model, optimizer=optimizer, noise=noise, kept=kept):
            loss, terms = vc.training_loss(model, xb, generator=noise)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            kept.append((terms.recon, terms.kl))  # fit keeps them until the epoch ends
            del kept[: -(len(x_flat) // batch)]

        runs[name] = fit_step
    control_model, control_optimizer = _reference_model(optimizer_name)
    control_noise = torch.Generator().manual_seed(0)
    runs["bare loop's step again"] = lambda xb: _step(control_model, control_optimizer, xb, control_noise)
    bare, extra = [], {name: [] for name in runs}
    order = list(runs)
    for i in range(steps):
        xb = x_flat[torch.randint(len(x_flat), (batch,), generator=torch.Generator().manual_seed(i))]
        start = time.perf_counter()
        _step(bare_model, bare_optimizer, xb, bare_noise)
        bare.append(time.perf_counter() - start)
        for name in order[i % len(order) :] + order[: i % len(order)]:  # each in every place alike
            start = time.perf_counter()
            runs[name](xb)
            extra[name].append(time.perf_counter() - start - bare[-1])
    skip = steps // 10  # warm-up
    base = statistics.median(bare[skip:])
    print(f"   per step, {optimizer_name} Adam: bare loop's step {1e3 * base:.2f} ms (median of {steps - skip})")
    for name, diffs in extra.items():
        over = statistics.median(diffs[skip:])
        print(f"   {name:28s} {1e6 * over:+5.0f} us over it ({1 + over / base:.3f}x)")


def fit_vs_bare(repeats: int, profile: bool) -> None:
    """(b): ten epochs of fit against the bare loop on mnist10k, with default and fused Adam."""
    x = vc.load_dataset("mnist10k", "train").images
    x_flat = x.reshape(len(x), -1)
    batch, epochs = REFERENCE_FIT["batch_size"], MNIST_EPOCHS
    steps = epochs * -(-len(x) // batch)
    print(
        f"== (b) fit against a bare loop: 784-400-20, batch {batch}, Adam 1e-3, {epochs} epochs over the "
        f"{len(x):,} mnist10k training images ({steps} steps) =="
    )

    def run(loop: str, optimizer_name: str, seed: int, data=(x, x_flat), num_epochs=epochs):
        model, optimizer = _reference_model(optimizer_name)
        if loop == "fit":
            return lambda: epoch_fit(model, optimizer, data[0], batch, seed, num_epochs)
        return lambda: [epoch_bare(model, optimizer, data[1], batch, seed + e) for e in range(num_epochs)]

    configs = [(loop, opt) for opt in ("adam", "fused") for loop in ("fit", "bare")]
    for loop, opt in configs:  # warm up every path (imports, allocator)
        run(loop, opt, 0, (x[:1024], x_flat[:1024]), 1)()
    if profile:
        for loop, opt in configs:
            calls = _aten_calls_per_step(run(loop, opt, 0, (x[:1280], x_flat[:1280]), 1), 10)
            print(f"   ATen calls per step, {loop:4s} with {opt:5s} Adam: {calls:6.1f}")
        for opt in ("adam", "fused"):
            price_per_step(x_flat, opt)
    wall: dict[tuple[str, str], list[float]] = {c: [] for c in configs}
    cpu: dict[tuple[str, str], list[float]] = {c: [] for c in configs}
    for r in range(repeats):
        for loop, opt in configs if r % 2 == 0 else configs[::-1]:
            train = run(loop, opt, r)
            start, start_cpu = time.perf_counter(), time.process_time()
            train()
            wall[loop, opt].append(time.perf_counter() - start)
            cpu[loop, opt].append(time.process_time() - start_cpu)
            print(
                f"   run {r + 1}: {loop:4s} {opt:5s} Adam {wall[loop, opt][-1]:6.2f} s wall, "
                f"{cpu[loop, opt][-1]:6.2f} s CPU",
                flush=True,
            )
    for label, times in (("wall-clock", wall), ("CPU time of this process", cpu)):
        print(f"-- {label}, medians of {repeats} --")
        for opt in ("adam", "fused"):
            fit_t, bare_t = statistics.median(times["fit", opt]), statistics.median(times["bare", opt])
            ratios = [f / b for f, b in zip(times["fit", opt], times["bare", opt])]
            spread = (
                " (quartiles {:.3f}-{:.3f}x)".format(*statistics.quantiles(ratios, n=4)[::2]) if repeats >= 4 else ""
            )
            print(
                f"{opt:5s} Adam: fit {fit_t:6.2f} s, bare loop {bare_t:6.2f} s, fit / bare = {fit_t / bare_t:.3f}x "
                f"(median of paired ratios {statistics.median(ratios):.3f}x{spread}; goal <= 1.050x)"
            )


def speed(repeats: int) -> None:
    print("== (a), (c): 784-400-20, batch 128, Adam 1e-3, 60,000 random 28x28 Bernoulli images ==")
    rng = np.random.default_rng(0)
    images_u8 = (rng.random((60_000, 28, 28)) < 0.13).astype(np.uint8) * 255  # MNIST's share of ink
    labels = rng.integers(0, 10, 60_000)
    x = torch.from_numpy(images_u8).float().div(255)
    batch = REFERENCE_FIT["batch_size"]
    loader = torch.utils.data.DataLoader(BytesLikeTorchvisionMNIST(images_u8, labels), batch_size=batch, shuffle=True)

    # Warm up every path once (imports, allocator) on a few batches.
    model, optimizer = _reference_model("fit")
    epoch_fit(model, optimizer, x[:1024], batch, 0)
    for i, (images, _) in enumerate(loader):
        _step(model, optimizer, images.view(-1, 784), torch.Generator().manual_seed(0))
        if i == 8:
            break

    wall: dict[str, list[float]] = {"fit": [], "dataloader": []}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    for r in range(repeats):
        for name in wall:
            model, optimizer = _reference_model("adam" if name == "dataloader" else "fit")
            start, start_cpu = time.perf_counter(), time.process_time()
            if name == "fit":
                epoch_fit(model, optimizer, x, batch, r)
            else:
                epoch_dataloader(model, optimizer, loader, r)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            print(f"   run {r + 1}: {name:10s} {wall[name][-1]:6.2f} s wall, {cpu[name][-1]:6.2f} s CPU", flush=True)
    for label, times in (("wall-clock", wall), ("CPU time of this process", cpu)):
        fit_t, loader_t = min(times["fit"]), min(times["dataloader"])
        print(f"-- {label} --")
        print(f"one epoch, fit:                    {_best(times['fit'])}")
        print(f"one epoch, per-image DataLoader:   {_best(times['dataloader'])}")
        print(
            f"(a) DataLoader / fit = {loader_t / fit_t:.2f}x   (goal >= 2.00x; medians: "
            f"{statistics.median(times['dataloader']) / statistics.median(times['fit']):.2f}x)"
        )
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in loader:
        pass
    print(
        f"the DataLoader alone (no training): {time.perf_counter() - start:.2f} s wall, "
        f"{time.process_time() - start_cpu:.2f} s CPU per epoch",
        flush=True,
    )

    model, _ = _reference_model("fit")
    start, start_cpu = time.perf_counter(), time.process_time()
    history = vc.fit(model, x, epochs=10, batch_size=batch, lr=REFERENCE_FIT["lr"], device="cpu", progress=False)
    elapsed = time.perf_counter() - start
    print(
        f"(c) ten epochs of fit over 60,000 images: {elapsed:.1f} s wall (goal < 60 s), "
        f"{time.process_time() - start_cpu:.1f} s CPU; {history.num_steps} steps, "
        f"{1000 * elapsed / history.num_steps:.1f} ms per step",
        flush=True,
    )


# ---------------------------------------------------------------- quality
def _evaluate(model: vc.VAE, x_test: torch.Tensor) -> tuple[float, float, float]:
    """Test ELBO (one z per example), its 100-sample average, and the importance-weighted estimate (K = 1000)."""
    model.eval()
    with torch.no_grad():
        elbo = model.elbo(x_test, generator=torch.Generator().manual_seed(1)).elbo.mean().item()
        elbo100 = model.elbo(x_test, num_samples=100, generator=torch.Generator().manual_seed(2)).elbo.mean().item()
    iw = model.log_likelihood(x_test, num_samples=IW_SAMPLES, generator=torch.Generator().manual_seed(3)).mean().item()
    return elbo, elbo100, iw


def _train(shape, model_args, fit_args, x_train, epochs):
    torch.manual_seed(0)
    model = vc.VAE(shape, **model_args)
    start = time.perf_counter()
    vc.fit(model, x_train, epochs=epochs, device="cpu", progress=False, **fit_args)
    return model, time.perf_counter() - start


def _report(label: str, model: vc.VAE, seconds: float, x_test: torch.Tensor) -> float:
    start = time.perf_counter()
    elbo, elbo100, iw = _evaluate(model, x_test)
    print(
        f"{label:44s} test ELBO {elbo:8.2f} (100-sample {elbo100:8.2f}), log p(x) by K = {IW_SAMPLES} "
        f"{iw:8.2f}, gap {iw - elbo100:5.2f} nats  [fit {seconds:.1f} s, eval {time.perf_counter() - start:.1f} s]",
        flush=True,
    )
    return elbo100


def quality() -> None:
    fit_defaults = {k: p.default for k, p in inspect.signature(vc.fit).parameters.items() if k in ("batch_size", "lr")}
    model_defaults = {"hidden_dims": inspect.signature(vc.VAE).parameters["hidden_dims"].default}
    print(
        f"\n== Quality: course settings VAE(shape, {COURSE_MODEL['latent_dim']}) with {model_defaults}, "
        f"fit defaults {fit_defaults}, {COURSE_FIT} =="
    )
    train = vc.load_dataset("sklearn-digits", "train")
    test = vc.load_dataset("sklearn-digits", "test", binarize="fixed", seed=1)
    model, seconds = _train((8, 8), COURSE_MODEL, COURSE_FIT, train.images, DIGITS_EPOCHS)
    _report(f"digits, {DIGITS_EPOCHS} epochs, course settings", model, seconds, test.images)

    x_train = vc.load_dataset("mnist10k", "train").images
    x_test = vc.load_dataset("mnist10k", "test", binarize="fixed", seed=1).images
    print(
        f"The course's MNIST (mnist10k): train on its 8,004 training images (dynamic binarization), "
        f"test on its 1,996 test images (binarized once), {MNIST_EPOCHS} epochs each"
    )
    course, seconds = _train((28, 28), COURSE_MODEL, COURSE_FIT, x_train, MNIST_EPOCHS)
    course_elbo = _report("MNIST, course settings", course, seconds, x_test)
    reference, seconds = _train(
        (28, 28), REFERENCE_MODEL, {**REFERENCE_FIT, "binarize": "dynamic"}, x_train, MNIST_EPOCHS
    )
    reference_elbo = _report("MNIST, reference 784-400-20, batch 128, lr 1e-3", reference, seconds, x_test)
    verdict = "at least as good" if course_elbo >= reference_elbo else "WORSE"
    print(f"course - reference test ELBO: {course_elbo - reference_elbo:+.2f} nats ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, the target machine)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per loop")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--only-fit-vs-bare", action="store_true", help="run (b) alone")
    parser.add_argument(
        "--profile", action="store_true", help="in (b), count ATen calls and price fit's kernels per step"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (other processes share these CPUs)"
    )
    if not args.skip_speed:
        fit_vs_bare(args.repeats, args.profile)
    if not args.skip_speed and not args.only_fit_vs_bare:
        speed(args.repeats)
    if not args.skip_quality and not args.only_fit_vs_bare:
        quality()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
