"""Checks for the course's exercises, one module per notebook.

Each ``check_*`` function takes the learner's function, tries it on several inputs against
an independent reference, and returns a :class:`CheckResult` (``passed``, ``status``,
``message``, ``mistake``) whose one line names the likely mistake when it fails. Checks never
raise, so they can be called from a notebook, a script or a grader alike.
"""

from ._core import CheckResult  # noqa: F401  (the type every check returns)
from .discrete import *  # noqa: F401,F403  (notebook 09)
from .elbo import *  # noqa: F401,F403  (notebook 01)
from .full_vae import *  # noqa: F401,F403  (notebook 06)
from .kl import *  # noqa: F401,F403  (notebook 02)
from .kl_budget import *  # noqa: F401,F403  (notebook 07)
from .not_em import *  # noqa: F401,F403  (notebook 08)
from .reconstruction import *  # noqa: F401,F403  (notebook 03)
from .reparameterization import *  # noqa: F401,F403  (notebook 05)
from .score_function import *  # noqa: F401,F403  (notebook 04)
