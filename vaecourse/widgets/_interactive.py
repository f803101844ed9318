"""``ipywidgets.interactive`` that has run its function when it is returned, under ipywidgets 7
(Colab's version) as under 8."""

from __future__ import annotations

import ipywidgets

__all__ = ["interactive"]

_IPYWIDGETS_7 = int(ipywidgets.__version__.split(".")[0]) < 8


def interactive(function, **controls) -> ipywidgets.interactive:
    """``ipywidgets.interactive(function, **controls)`` whose ``.result`` already holds
    ``function``'s value for the initial control values.

    ipywidgets 8 calls ``function`` when the widget is made; ipywidgets 7 only when the widget is
    first displayed (an ``on_displayed`` callback), so its ``.result`` stays None until then and a
    widget never displayed (in a script, a test) never computes. Under 7 the display-time call is
    replaced by one now, as 8 does: the figure is drawn once, into the widget's output area.
    The display-time call also stalled batch execution: with Colab's ipykernel 6.17.1, nbclient
    (which answers the widget's output capture on the kernel's shell channel) kept waiting for the
    reply to notebook 07's widget cell although the kernel had sent it; drawn at construction,
    the same cell completes at once.
    """
    widget = ipywidgets.interactive(function, **controls)
    if _IPYWIDGETS_7:
        widget.on_displayed(widget.update, remove=True)
        widget.update()
    return widget
