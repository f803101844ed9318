"""vaecourse: the code of a notebook course on variational autoencoders.

``import vaecourse`` loads the math, the model, training, checkpoints and data (they need only
torch: about 30 ms beyond ``import torch``). The modules that need more are imported by name when
a notebook uses them: ``vaecourse.plots`` (matplotlib), ``vaecourse.widgets`` (ipywidgets),
``vaecourse.checks``, ``vaecourse.variance`` (scipy) and ``vaecourse.ppca``.

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

from .bounds import iwae_bound
from .budget import active_units, kl_per_dimension, rate_distortion
from .checkpoint import load_checkpoint, save_checkpoint
from .data import Dataset, DownloadError, binarize, load_dataset, load_digits, load_mnist, load_mnist10k
from .discrete import BinaryVAE
from .estimators import reparameterization_gradient, reparameterize, score_function_gradient
from .flows import PlanarFlow
from .kl import gaussian_kl, gaussian_kl_per_dim, monte_carlo_kl
from .likelihoods import bernoulli_log_likelihood, gaussian_log_likelihood
from .model import VAE, ElboTerms
from .reconstruction import TinyDecoder, monte_carlo_reconstruction
from .toy import LinearGaussianModel
from .train import History, fit, training_loss

__version__ = "0.1.0"

__all__ = [
    "VAE",
    "BinaryVAE",
    "Dataset",
    "DownloadError",
    "ElboTerms",
    "History",
    "LinearGaussianModel",
    "PlanarFlow",
    "TinyDecoder",
    "active_units",
    "bernoulli_log_likelihood",
    "binarize",
    "fit",
    "gaussian_kl",
    "gaussian_kl_per_dim",
    "gaussian_log_likelihood",
    "iwae_bound",
    "kl_per_dimension",
    "load_checkpoint",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_mnist10k",
    "monte_carlo_kl",
    "monte_carlo_reconstruction",
    "rate_distortion",
    "reparameterization_gradient",
    "reparameterize",
    "save_checkpoint",
    "score_function_gradient",
    "training_loss",
]
