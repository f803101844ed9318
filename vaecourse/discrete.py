"""Binary latent variables: gradient estimators for d/d(logits) E_{z ~ q}[f(z)] when the
reparameterization trick is not available, and a VAE whose every latent state can be enumerated.

Taught in notebook 09_discrete_latents. q(z) = prod_k Bernoulli(z_k; sigmoid(logits_k)), with
z in {0, 1}^K. Every estimator here has one signature:

    estimator(f, logits, num_samples, *, generator=None, **options) -> surrogate

- ``logits``: a float tensor (*batch, K), the parameters of q (one row per example).
- ``f``: a callable taking z of shape (S, *batch, K) (0/1 values, or values in (0, 1) for the
  relaxations) and returning (S, *batch), one value per draw and example. f may hold
  parameters of its own (a decoder); they receive gradients through the surrogate.
- returns ``surrogate``, a tensor (S, *batch) whose mean over the S draws has, as its gradient
  with respect to ``logits`` (and to the parameters inside f), the estimate of
  grad E_q[f(z)] (the convention of google-deepmind/mc_gradients). Its value is not E_q[f];
  :func:`gradient` turns a surrogate into the estimate itself.

Batch dimensions make repetitions free: logits of shape (R, B, K) give R independent
S-sample estimates for each of B examples in one call, which is how the notebook measures
variance. :func:`exact_expectation` enumerates all 2^K states, so its gradient is exact: the
oracle every estimator is judged against.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._validation import float_tensor, positive_float, positive_int
from .estimators import _minus_baseline
from .likelihoods import _bernoulli_log_prob
from .model import _mlp

__all__ = [
    "ESTIMATORS",
    "BinaryVAE",
    "all_states",
    "bernoulli_kl_to_uniform",
    "concrete",
    "exact_expectation",
    "exact_gradient",
    "fit_binary",
    "gradient",
    "log_q",
    "score_function",
    "straight_through",
]

Objective = Callable[[torch.Tensor], torch.Tensor]
MAX_ENUMERATED = 20  # 2^20 states: beyond this, enumeration is not the point of the notebook


# -- checks shared by the estimators -----------------------------------------------------------
def _check(f: object, logits: object, num_samples: int | None = None) -> int | None:
    if not callable(f):
        raise ValueError(f"f must be callable (z -> one value per draw and example), got {type(f).__name__}")
    float_tensor("logits", logits, min_dim=1)
    return None if num_samples is None else positive_int("num_samples", num_samples)


def _evaluate(f: Objective, z: torch.Tensor) -> torch.Tensor:
    values = f(z)
    if not isinstance(values, torch.Tensor):
        raise ValueError(f"f must return a torch.Tensor, got {type(values).__name__}")
    if tuple(values.shape) != tuple(z.shape[:-1]):
        raise ValueError(
            f"f must map z of shape {tuple(z.shape)} to shape {tuple(z.shape[:-1])}, got {tuple(values.shape)}"
        )
    return values


def _uniform(logits: torch.Tensor, num_samples: int, generator: torch.Generator | None) -> torch.Tensor:
    u = torch.rand((num_samples, *logits.shape), generator=generator, dtype=logits.dtype, device=logits.device)
    return u.clamp(torch.finfo(logits.dtype).tiny, 1 - torch.finfo(logits.dtype).eps)


def log_q(z: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log q(z) = sum_k z_k log p_k + (1 - z_k) log(1 - p_k), p = sigmoid(logits), summed over
    the last axis; z (..., K) broadcasts against logits (..., K). Taught in notebook
    09_discrete_latents."""
    return (z * F.logsigmoid(logits) + (1 - z) * F.logsigmoid(-logits)).sum(-1)


# -- the estimators ----------------------------------------------------------------------------
def score_function(
    f: Objective,
    logits: torch.Tensor,
    num_samples: int,
    *,
    baseline: float | torch.Tensor | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The score-function (REINFORCE) estimator for Bernoulli latents.

    grad E_q[f(z)] = E_q[(f(z) - b) grad log q(z)], and for a Bernoulli with logit l the score
    is d log q(z) / d l = z - sigmoid(l). The surrogate is f(z) + (f(z) - b) * log q(z), with
    f(z) - b held constant: its logits-gradient is the estimate, and parameters inside f get
    grad f(z) at the sampled z. ``baseline`` b is None (b = 0), a number or a tensor of shape
    ``batch`` (a constant, or NVIL's input-dependent b(x): it must not depend on z), or
    ``"mean"``: for each draw the mean of f over the other S - 1 draws of the same example
    (leave-one-out, as VIMCO does; needs S >= 2). Each keeps the estimate unbiased.
    Taught in notebook 09_discrete_latents.
    """
    num_samples = _check(f, logits, num_samples)
    p = torch.sigmoid(logits.detach())
    z = (_uniform(logits, num_samples, generator) < p).to(logits.dtype)
    values = _evaluate(f, z)
    if isinstance(baseline, torch.Tensor) and tuple(baseline.shape) not in ((), tuple(logits.shape[:-1])):
        raise ValueError(
            f"baseline must be a scalar or of shape {tuple(logits.shape[:-1])}, got {tuple(baseline.shape)}"
        )
    signal = _minus_baseline(values.detach(), baseline, num_samples)
    return values + signal * log_q(z, logits)


def concrete(
    f: Objective,
    logits: torch.Tensor,
    num_samples: int,
    *,
    temperature: float = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The Gumbel-softmax / concrete relaxation (Jang et al. 2017; Maddison et al. 2017), binary case.

    z_k = sigmoid((l_k + log u_k - log(1 - u_k)) / temperature), u_k ~ U(0, 1): a logistic
    noise makes P(z_k > 1/2) = sigmoid(l_k), and as temperature -> 0 z_k tends to the Bernoulli
    sample 1[z_k > 1/2]. f is evaluated at the relaxed z in (0, 1) and differentiated by
    autograd (a reparameterization gradient), so f must be differentiable and defined between 0 and 1.
    Biased: the gradient is that of E[f(relaxed z)], not of E_q[f(z)]. Taught in notebook
    09_discrete_latents.
    """
    num_samples = _check(f, logits, num_samples)
    temperature = positive_float("temperature", temperature)
    u = _uniform(logits, num_samples, generator)
    z = torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / temperature)
    return _evaluate(f, z)


def straight_through(
    f: Objective,
    logits: torch.Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The straight-through estimator (Bengio et al. 2013): the forward pass uses the Bernoulli
    sample z, the backward pass pretends dz/dl = dp/dl = p (1 - p), with p = sigmoid(l):
    z_st = z + p - p.detach(). Estimate: f'(z) * p (1 - p). f must be differentiable in z.
    Biased unless f is linear in z. Taught in notebook 09_discrete_latents.
    """
    num_samples = _check(f, logits, num_samples)
    p = torch.sigmoid(logits)
    z = (_uniform(logits, num_samples, generator) < p.detach()).to(logits.dtype)
    return _evaluate(f, z + p - p.detach())


ESTIMATORS: dict[str, Callable[..., torch.Tensor]] = {
    "score_function": score_function,
    "concrete": concrete,
    "straight_through": straight_through,
}


def gradient(
    estimator: Callable[..., torch.Tensor] | str, f: Objective, logits: torch.Tensor, num_samples: int, **options
) -> torch.Tensor:
    """The estimate of grad_logits E_q[f(z)] that ``estimator`` (a function of this module or
    its name in :data:`ESTIMATORS`) gives from ``num_samples`` draws per example: autograd of
    the mean of its surrogate. Shapes: logits (*batch, K) -> (*batch, K); each example's row is
    its own estimate (f's value for one example must depend on that example's z only).
    Taught in notebook 09_discrete_latents."""
    if isinstance(estimator, str):
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {estimator!r}")
        estimator = ESTIMATORS[estimator]
    float_tensor("logits", logits, min_dim=1)
    with torch.enable_grad():
        leaf = logits.detach().requires_grad_(True)
        surrogate = estimator(f, leaf, num_samples, **options)
        (grad,) = torch.autograd.grad(surrogate.mean(0).sum(), leaf, allow_unused=True)
    return torch.zeros_like(leaf) if grad is None else grad


# -- the oracle: enumeration -------------------------------------------------------------------
def all_states(num_latents: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Every z in {0, 1}^K, as a (2^K, K) tensor, in binary counting order (row i is i's bits,
    most significant first). Taught in notebook 09_discrete_latents."""
    num_latents = positive_int("num_latents", num_latents)
    if num_latents > MAX_ENUMERATED:
        raise ValueError(f"num_latents must be at most {MAX_ENUMERATED} to enumerate 2^K states, got {num_latents}")
    return torch.tensor(
        list(itertools.product((0.0, 1.0), repeat=num_latents)), dtype=dtype or torch.get_default_dtype()
    )


def exact_expectation(f: Objective, logits: torch.Tensor) -> torch.Tensor:
    """E_q[f(z)] = sum over all 2^K states z of q(z) f(z), shape ``batch``; differentiable in
    logits and in f's parameters, so its gradient is exact. f is called once on z of shape
    (2^K, *batch, K). Taught in notebook 09_discrete_latents."""
    _check(f, logits)
    states = all_states(logits.shape[-1], logits.dtype).to(logits.device)
    z = states.reshape(states.shape[0], *(1,) * (logits.dim() - 1), -1).expand(states.shape[0], *logits.shape)
    weights = torch.exp(log_q(z, logits))
    return (weights * _evaluate(f, z)).sum(0)


def exact_gradient(f: Objective, logits: torch.Tensor) -> torch.Tensor:
    """grad_logits E_q[f(z)] by enumeration (autograd of :func:`exact_expectation`), shaped like
    logits. The oracle of notebook 09_discrete_latents."""
    _check(f, logits)
    with torch.enable_grad():
        leaf = logits.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(exact_expectation(f, leaf).sum(), leaf)
    return grad


def bernoulli_kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    """KL(q || Bernoulli(1/2)^K) = sum_k [p_k log(2 p_k) + (1 - p_k) log(2 (1 - p_k))],
    p = sigmoid(logits), in closed form: shape (..., K) -> (...). At most K log 2 nats.
    Taught in notebook 09_discrete_latents."""
    float_tensor("logits", logits, min_dim=1)
    p = torch.sigmoid(logits)
    return (p * F.logsigmoid(logits) + (1 - p) * F.logsigmoid(-logits)).sum(-1) + logits.shape[-1] * math.log(2)


# -- the model ---------------------------------------------------------------------------------
class BinaryVAE(nn.Module):
    """A VAE with K binary latents: q(z|x) = prod_k Bernoulli(sigmoid(l_k(x))), p(z) uniform on
    {0, 1}^K (Bernoulli(1/2) each), p(x|z) = prod_i Bernoulli(x_i; sigmoid(decoder(z)_i)).

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)), the KL in closed form
    (:func:`bernoulli_kl_to_uniform`); with K <= 20 the expectation, the ELBO and log p(x)
    itself are exact sums over the 2^K states. Shapes: x (B, D) flat, in [0, 1]; z (..., K).
    ``num_pixels`` D, ``num_latents`` K, ``hidden`` the width of the one hidden layer of each
    network. Taught in notebook 09_discrete_latents.
    """

    def __init__(self, num_pixels: int = 784, num_latents: int = 10, hidden: int = 200) -> None:
        super().__init__()
        self.num_pixels = positive_int("num_pixels", num_pixels)
        self.num_latents = positive_int("num_latents", num_latents)
        if self.num_latents > MAX_ENUMERATED:
            raise ValueError(
                f"num_latents must be at most {MAX_ENUMERATED} (the states are enumerated), got {num_latents}"
            )
        hidden = positive_int("hidden", hidden)
        self.encoder = _mlp((self.num_pixels, hidden, self.num_latents))
        self.decoder = _mlp((self.num_latents, hidden, self.num_pixels))

    def check_input(self, x: object) -> torch.Tensor:
        float_tensor("x", x, min_dim=2)
        if x.dim() != 2 or x.shape[1] != self.num_pixels:
            raise ValueError(f"x must be flat images of shape (B, {self.num_pixels}), got {tuple(x.shape)}")
        if bool((x < 0).any()) or bool((x > 1).any()):
            raise ValueError("x must lie in [0, 1] (a Bernoulli target)")
        return x

    def log_px(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) for z (S, B, K) (or any (..., B, K)) and x (B, D): shape (S, B). Accepts
        relaxed z in (0, 1) too (the decoder is an MLP of z)."""
        return _bernoulli_log_prob(self.decoder(z), x)

    def state_log_px(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) for every example and every one of the 2^K states: (B, 2^K). The decoder
        runs once per state, not per example, and the pixels' sum is a matrix product:
        log p(x|z) = x . l(z) - sum_i softplus(l_i(z)). The kernel's broadcast would hold B 2^K D
        numbers; this form is exact to within 2e-9 nats per pixel (softplus(l) = l past l = 20)."""
        states = all_states(self.num_latents, x.dtype)
        logits = self.decoder(states)  # (2^K, D)
        return x @ logits.T - F.softplus(logits).sum(-1)

    def exact_elbo(self, x: torch.Tensor) -> torch.Tensor:
        """The ELBO of each example by enumeration, (B,); differentiable (exact gradients)."""
        self.check_input(x)
        logits = self.encoder(x)
        states = all_states(self.num_latents, x.dtype)
        q = torch.exp(states @ F.logsigmoid(logits).T + (1 - states) @ F.logsigmoid(-logits).T).T  # (B, 2^K)
        return (q * self.state_log_px(x)).sum(-1) - bernoulli_kl_to_uniform(logits)

    @torch.no_grad()
    def exact_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log sum_z p(z) p(x|z), exact by enumeration (p(z) = 2^-K): (B,)."""
        self.check_input(x)
        return torch.logsumexp(self.state_log_px(x), -1) - self.num_latents * math.log(2)

    def loss(
        self,
        x: torch.Tensor,
        estimator: str,
        num_samples: int = 1,
        *,
        generator: torch.Generator | None = None,
        **options,
    ) -> torch.Tensor:
        """A scalar whose gradient is the estimate of -grad (mean ELBO) over the minibatch x
        (B, D): ``estimator`` is "exact" (enumeration) or a name in :data:`ESTIMATORS`, with its
        options (baseline, temperature); the KL is differentiated in closed form. Inner loop:
        x is not checked here."""
        if estimator == "exact":
            return -self.exact_elbo(x).mean()
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be 'exact' or one of {sorted(ESTIMATORS)}, got {estimator!r}")
        logits = self.encoder(x)
        surrogate = ESTIMATORS[estimator](
            lambda z: self.log_px(x, z), logits, num_samples, generator=generator, **options
        )
        return -(surrogate.mean(0) - bernoulli_kl_to_uniform(logits)).mean()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's pixel means at the most probable code z = 1[q(z_k = 1 | x) > 1/2]: (B, D)."""
        self.check_input(x)
        return torch.sigmoid(self.decoder((self.encoder(x) > 0).to(x.dtype)))

    @torch.no_grad()
    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pixel means of the decoder at ``num`` codes drawn from the prior: (num, D)."""
        num = positive_int("num", num)
        z = torch.randint(0, 2, (num, self.num_latents), generator=generator).to(self.decoder[0].weight.dtype)
        return torch.sigmoid(self.decoder(z))


def fit_binary(
    model: BinaryVAE,
    images: torch.Tensor,
    estimator: str,
    *,
    epochs: int = 1,
    batch_size: int = 100,
    num_samples: int = 1,
    lr: float = 1e-3,
    baseline: str | float | None = None,
    temperature: float = 0.5,
    generator: torch.Generator | None = None,
) -> int:
    """Train ``model`` with Adam on grey-level ``images`` (N, D), binarized afresh each epoch
    (dynamic binarization), with the gradient of ``estimator`` ("exact" or a name in
    :data:`ESTIMATORS`). ``baseline`` for the score function: None, a number, "mean"
    (leave-one-out over the S draws) or "nvil": an input-dependent baseline b(x), a linear map
    of x plus the running mean of the learning signal, trained alongside by least squares on
    that signal (Mnih and Gregor 2014). Returns the number of decoder passes (one per
    latent code decoded) the training cost: B * S per minibatch for an estimator, 2^K for
    enumeration (the decoder does not see x, so the minibatch shares the 2^K decoded states). Taught in notebook 09_discrete_latents.
    """
    model.check_input(images)
    epochs, batch_size, num_samples = (
        positive_int(n, v) for n, v in (("epochs", epochs), ("batch_size", batch_size), ("num_samples", num_samples))
    )
    options: dict = {}
    nvil = baseline == "nvil"
    if estimator == "score_function":
        options["baseline"] = None if nvil else baseline
    elif estimator == "concrete":
        options["temperature"] = positive_float("temperature", temperature)
    params = list(model.parameters())
    if nvil:
        dtype = model.decoder[0].weight.dtype
        net = nn.Linear(model.num_pixels, 1).to(dtype)
        nn.init.zeros_(net.weight)
        nn.init.zeros_(net.bias)
        params += list(net.parameters())
        centre = torch.zeros((), dtype=dtype)
    optimizer = torch.optim.Adam(params, lr=lr)
    passes = 0
    for _ in range(epochs):
        x_all = torch.bernoulli(images, generator=generator)
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            x = x_all[order[start : start + batch_size]]
            optimizer.zero_grad()
            if nvil:
                logits = model.encoder(x)
                seen: list[torch.Tensor] = []

                def f(z: torch.Tensor) -> torch.Tensor:  # called within this iteration only
                    seen.append(model.log_px(x, z))  # noqa: B023
                    return seen[-1]  # noqa: B023

                b = net(x).squeeze(-1) + centre
                surrogate = score_function(f, logits, num_samples, baseline=b.detach(), generator=generator)
                signal = seen[-1].detach()
                loss = -(surrogate.mean(0) - bernoulli_kl_to_uniform(logits)).mean() + (signal - b).pow(2).mean()
                centre = 0.9 * centre + 0.1 * signal.mean()
            else:
                loss = model.loss(x, estimator, num_samples, generator=generator, **options)
            loss.backward()
            optimizer.step()
            passes += 2**model.num_latents if estimator == "exact" else len(x) * num_samples
    return passes
