"""The training workload of notebook 07_kl_budget (goal: < 30 s on 2 shared cores, the whole
notebook < 60 s), and what one thread costs against two.

On an idle 2-core machine one and two threads are within about 10% of each other for these
tiny models; with the cores shared by other jobs, two threads were several times slower (22 ms
against 3 ms a step, measured while other work ran), which is why the notebook sets one.

Times, each in a fresh interpreter: one optimizer step of the sweep's 64-128-8 VAE (batch 256)
on 1 and on 2 threads (best and median of several runs), then the notebook's training calls as
the notebook makes them: six betas, two remedies, the linear VAE on toy data and on the digits.
Run: .venv/bin/python tests/benchmarks/bench_kl_budget.py
"""

import subprocess
import sys

STEP = r"""
import statistics, time, torch
torch.set_num_threads({threads})
from vaecourse import VAE
from vaecourse.train import training_loss
torch.manual_seed(0)
model = VAE((8, 8), 8, (128,))
optimizer = torch.optim.Adam(model.parameters(), 3e-3)
x = torch.bernoulli(torch.full((256, 64), 0.3))
times = []
for _ in range(7):
    t = time.perf_counter()
    for _ in range(50):
        loss, _ = training_loss(model, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    times.append((time.perf_counter() - t) / 50 * 1000)
print(min(times), statistics.median(times))
"""

WORKLOAD = r"""
import time, torch
torch.set_num_threads(1)
from vaecourse import VAE, LinearGaussianModel, fit
from vaecourse.budget import LearnedNoiseVAE, fit_with_lr_decay
from vaecourse.data import binarize, load_dataset
g = torch.Generator().manual_seed(0)
train = load_dataset("sklearn-digits", "train")
x = binarize(train.images, g)
settings = dict(epochs=100, batch_size=256, lr=3e-3, seed=0, device="cpu", progress=False)
def vae(beta, **options):
    torch.manual_seed(1)
    fit(VAE((8, 8), 8, (128,)), x, beta=beta, **settings, **options)
t0 = time.perf_counter()
for beta in [0.1, 0.5, 1.0, 2.0, 5.0, 10.0]:
    vae(beta)
t1 = time.perf_counter()
vae(5.0, warmup_epochs=50)
vae(5.0, free_bits=0.5)
t2 = time.perf_counter()
g = torch.Generator().manual_seed(1)
directions, _ = torch.linalg.qr(torch.randn(10, 2, generator=g, dtype=torch.float64))
truth = LinearGaussianModel(directions * torch.tensor([3.0, 1.5], dtype=torch.float64),
                            torch.randn(10, generator=g, dtype=torch.float64), 0.5)
x_toy, _ = truth.sample(1000, g)
torch.manual_seed(0)
fit_with_lr_decay(LearnedNoiseVAE((10,), 2, (), sigma=1.0), x_toy.float(), epochs=100, decay_epochs=50,
                  batch_size=250, lr=0.05, final_lr=1e-4, device="cpu")
torch.manual_seed(0)
fit_with_lr_decay(LearnedNoiseVAE((64,), 3, (), sigma=0.3), train.images.reshape(-1, 64), epochs=100,
                  decay_epochs=120, batch_size=361, lr=0.02, final_lr=1e-4, device="cpu")
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def run(code: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [float(v) for v in out.stdout.split()]


def main() -> None:
    for threads in (1, 2):
        best, median = run(STEP.format(threads=threads))
        print(f"one training step, {threads} thread(s): best {best:.2f} ms, median {median:.2f} ms")
    sweep, remedies, linear = run(WORKLOAD)
    total = sweep + remedies + linear
    print(f"notebook 07 training: beta sweep {sweep:.1f} s, remedies {remedies:.1f} s, linear VAEs {linear:.1f} s; "
          f"total {total:.1f} s (goal < 30 s)")


if __name__ == "__main__":
    main()
