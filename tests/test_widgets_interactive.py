"""Every widget is built by vaecourse.widgets._interactive.interactive, which computes ``.result``
when the widget is made under ipywidgets 7 (Colab) as under 8. A widget that calls
``ipywidgets.interactive`` directly passes the unit tests here (ipywidgets 8) and fails only at the
floor (``make test-install``), ten minutes later; this test says so at once."""

import ast
from pathlib import Path

import pytest

import vaecourse.widgets
from vaecourse.widgets import _interactive

WIDGET_MODULES = sorted(
    p for p in Path(vaecourse.widgets.__file__).parent.glob("*.py") if p.name not in ("__init__.py", "_interactive.py")
)


@pytest.mark.parametrize("path", WIDGET_MODULES, ids=lambda p: p.name)
def test_no_widget_calls_ipywidgets_interactive_directly(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "interactive":
            assert not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("ipywidgets", "widgets")), (
                f"{path.name}:{node.lineno} calls ipywidgets.interactive; use vaecourse.widgets._interactive.interactive"
            )


def test_the_helper_computes_the_result_when_the_widget_is_made(monkeypatch):
    # Emulate ipywidgets 7, which calls the function only when the widget is displayed.
    import ipywidgets

    calls = []

    class LazyInteractive:
        def __init__(self, function, **controls):
            self.function, self.controls, self.result, self.callbacks = function, controls, None, []

        def on_displayed(self, callback, remove=False):
            if remove:
                self.callbacks.remove(callback)
            else:
                self.callbacks.append(callback)

        def update(self):
            self.result = self.function(**{k: v.value for k, v in self.controls.items()})

    def make(function, **controls):
        widget = LazyInteractive(function, **controls)
        widget.on_displayed(widget.update)
        return widget

    monkeypatch.setattr(_interactive, "_IPYWIDGETS_7", True)
    monkeypatch.setattr(ipywidgets, "interactive", make)
    widget = _interactive.interactive(lambda a: calls.append(a) or a * 2, a=ipywidgets.IntSlider(value=3))
    assert widget.result == 6 and calls == [3] and widget.callbacks == []
