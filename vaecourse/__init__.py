"""vaecourse: the code of a notebook course on variational autoencoders.

The math of the chain of notebooks is imported eagerly (it needs only torch); the model,
training, data, plotting, widgets and checks load on first use, so ``import vaecourse``
stays cheap.

    notebook 01_elbo                       LinearGaussianModel, iwae_bound
    notebook 02_kl_closed_form             gaussian_kl, gaussian_kl_per_dim, monte_carlo_kl
    notebook 03_monte_carlo_reconstruction bernoulli_log_likelihood, gaussian_log_likelihood,
                                           monte_carlo_reconstruction, TinyDecoder
    notebook 04_score_function             score_function_gradient
    notebook 05_reparameterization         reparameterize, reparameterization_gradient
    notebook 06_full_vae                   VAE, fit, data loaders, checkpoints, plots
    notebook 07_kl_budget                  beta, warm-up and free bits in fit; VAE(learn_sigma=True);
                                           rate_distortion, kl_per_dimension, active_units (budget)
    notebook 08_not_em                     ppca: closed form, EM, linear_gaussian_from_vae,
                                           mean_field_gap
    notebook 09_discrete_latents           BinaryVAE and the estimators for binary latents (discrete)
"""

from __future__ import annotations

import importlib
from typing import Any

from .bounds import iwae_bound
from .estimators import reparameterization_gradient, reparameterize, score_function_gradient
from .kl import gaussian_kl, gaussian_kl_per_dim, monte_carlo_kl
from .likelihoods import bernoulli_log_likelihood, gaussian_log_likelihood
from .reconstruction import TinyDecoder, monte_carlo_reconstruction
from .toy import LinearGaussianModel

__version__ = "0.1.0"

# name -> module that defines it, imported on first access (PEP 562).
_LAZY: dict[str, str] = {
    "VAE": "model",
    "ElboTerms": "model",
    "fit": "train",
    "History": "train",
    "training_loss": "train",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "Dataset": "data",
    "DownloadError": "data",
    "load_dataset": "data",
    "load_mnist": "data",
    "load_digits": "data",
    "load_mnist10k": "data",
    "binarize": "data",
    "PlanarFlow": "flows",
    "exact_gradient_variance": "variance",
    "rate_distortion": "budget",
    "kl_per_dimension": "budget",
    "active_units": "budget",
    "BinaryVAE": "discrete",
}
_SUBMODULES = {
    "checks",
    "widgets",
    "plots",
    "data",
    "model",
    "train",
    "checkpoint",
    "ppca",
    "variance",
    "flows",
    "reconstruction",
    "budget",
    "discrete",
}  # imported on access

__all__ = [
    "LinearGaussianModel",
    "TinyDecoder",
    "bernoulli_log_likelihood",
    "gaussian_kl",
    "gaussian_kl_per_dim",
    "gaussian_log_likelihood",
    "iwae_bound",
    "monte_carlo_kl",
    "monte_carlo_reconstruction",
    "reparameterization_gradient",
    "reparameterize",
    "score_function_gradient",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vaecourse' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
