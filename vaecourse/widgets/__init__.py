"""Interactive widgets for the notebooks, one module per notebook.

The logic of each widget is a plain function (parameters in, numbers and a figure out) that
the tests call directly; the widget itself is an ``ipywidgets.interactive`` around it, whose
``.result`` holds the numbers of the latest update. ipywidgets and matplotlib are imported
only here, so ``import vaecourse`` stays light.
"""

from .discrete import *  # noqa: F401,F403  (notebook 09)
from .elbo import *  # noqa: F401,F403  (notebook 01)
from .kl import *  # noqa: F401,F403  (notebook 02)
from .kl_budget import *  # noqa: F401,F403  (notebook 07)
from .not_em import *  # noqa: F401,F403  (notebook 08)
from .reconstruction import *  # noqa: F401,F403  (notebook 03)
from .reparameterization import *  # noqa: F401,F403  (notebook 05)
from .score_function import *  # noqa: F401,F403  (notebook 04)
