"""The training workloads of notebooks 07_kl_budget and 08_not_em (goal: 07 under 90 s, 08 under
60 s, each whole notebook on 2 shared cores), and what the choices in 07 cost.

Each line runs in a fresh interpreter with one thread, as the notebooks do:
- one epoch over the 8,004 shipped MNIST training images for 784-H-20 at H = 100 (notebook 07's
  sweep) and H = 400 (notebook 06's model), in float64 (what the notebooks use, so that every
  CPU prints the same digits) and float32, batch 128;
- notebook 07's eight trainings as the notebook makes them (four betas, a Gaussian decoder with
  sigma = 1, a learned sigma, KL warm-up, free bits; 10 epochs each);
- notebook 08's trainings: the linear VAE on the toy data (600 steps), the two linear MNIST
  VAEs (Gaussian with a learned sigma, Bernoulli), and the per-image q of 100 images.
Times on a shared machine vary by a factor of two or more: read them as an order of magnitude.
Run: .venv/bin/python tests/benchmarks/bench_kl_budget.py
"""

import subprocess
import sys

EPOCH = r"""
import time, torch
torch.set_num_threads(1)
torch.set_default_dtype(torch.{dtype})
from vaecourse import VAE, fit, load_dataset
x = load_dataset("mnist10k", "train").images.to(torch.{dtype})
torch.manual_seed(1)
model = VAE((28, 28), 20, ({hidden},))
fit(model, x[:512], epochs=1, batch_size=128, binarize="dynamic", device="cpu", progress=False)  # warm up
t = time.perf_counter()
fit(model, x, epochs=2, batch_size=128, binarize="dynamic", device="cpu", progress=False)
print((time.perf_counter() - t) / 2)
"""

WORKLOAD_07 = r"""
import time, torch
torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
from vaecourse import VAE, fit, load_dataset
x = load_dataset("mnist10k", "train").images.double()
settings = dict(epochs=10, batch_size=128, lr=3e-3, seed=0, device="cpu", progress=False)
def vae(**decoder):
    torch.manual_seed(1)
    return VAE((28, 28), 20, (100,), **decoder)
t0 = time.perf_counter()
for beta in [0.5, 1.0, 2.0, 5.0]:
    fit(vae(), x, beta=beta, binarize="dynamic", **settings)
t1 = time.perf_counter()
fit(vae(likelihood="gaussian", sigma=1.0), x, **settings)
fit(vae(likelihood="gaussian", sigma=1.0, learn_sigma=True), x, **settings)
t2 = time.perf_counter()
fit(vae(likelihood="gaussian", sigma=1.0), x, warmup_epochs=5, **settings)
fit(vae(likelihood="gaussian", sigma=1.0), x, free_bits=0.5, **settings)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""

WORKLOAD_08 = r"""
import time, torch
torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
from vaecourse import VAE, LinearGaussianModel, fit, load_dataset
from vaecourse.ppca import fit_with_lr_decay
g = torch.Generator().manual_seed(1)
directions, _ = torch.linalg.qr(torch.randn(10, 2, generator=g))
truth = LinearGaussianModel(directions * torch.tensor([3.0, 1.5]), torch.randn(10, generator=g), 0.5)
x_toy, _ = truth.sample(1000, g)
t0 = time.perf_counter()
torch.manual_seed(0)
fit_with_lr_decay(VAE((10,), 2, (), likelihood="gaussian", sigma=1.0, learn_sigma=True), x_toy, epochs=100,
                  decay_epochs=50, batch_size=250, lr=0.05, final_lr=1e-4, seed=0, device="cpu")
t1 = time.perf_counter()
x = load_dataset("mnist10k", "train").images.double()
x_test = load_dataset("mnist10k", "test", binarize="fixed", seed=1).images.double()[:100]
settings = dict(epochs=10, batch_size=128, lr=3e-3, seed=0, device="cpu", progress=False)
torch.manual_seed(0)
fit(VAE((28, 28), 10, (), likelihood="gaussian", sigma=1.0, learn_sigma=True), x, **settings)
torch.manual_seed(0)
bernoulli = VAE((28, 28), 10, (), likelihood="bernoulli")
fit(bernoulli, x, binarize="dynamic", **settings)
t2 = time.perf_counter()
for p in bernoulli.parameters():
    p.requires_grad_(False)
mu = torch.zeros(100, 10, requires_grad=True)
logvar = torch.zeros(100, 10, requires_grad=True)
optimizer = torch.optim.Adam([mu, logvar], lr=0.05)
noise = torch.Generator().manual_seed(2)
for _ in range(200):
    loss = -bernoulli.elbo(x_test, num_samples=3, generator=noise, q=(mu, logvar)).elbo.sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def run(code: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [float(v) for v in out.stdout.split()]


def main() -> None:
    for hidden in (100, 400):
        for dtype in ("float64", "float32"):
            (seconds,) = run(EPOCH.format(hidden=hidden, dtype=dtype))
            print(f"one epoch of 784-{hidden}-20 on 8,004 images, {dtype}: {seconds:.2f} s")
    sweep, gaussian, remedies = run(WORKLOAD_07)
    print(
        f"notebook 07 training: beta sweep {sweep:.1f} s, Gaussian decoders {gaussian:.1f} s, remedies {remedies:.1f} s; "
        f"total {sweep + gaussian + remedies:.1f} s (the whole notebook: goal < 90 s)"
    )
    toy, mnist, per_point = run(WORKLOAD_08)
    print(
        f"notebook 08 training: linear VAE on the toy data {toy:.1f} s, two linear MNIST VAEs {mnist:.1f} s, "
        f"per-image q {per_point:.1f} s; total {toy + mnist + per_point:.1f} s (the whole notebook: goal < 60 s)"
    )


if __name__ == "__main__":
    main()
