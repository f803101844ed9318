"""Sphinx configuration of the course website. `make site` builds it into build/site.

Sphinx with myst-nb (the stored notebooks, never executed), sphinx-book-theme (its assets are
bundled in the package) and MathJax 3 from sphinx-mathjax-offline (served from _static, no CDN).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

project = "vaecourse"
author = "vaecourse contributors"
copyright = "vaecourse contributors. Code: MIT; notebook prose and figures: CC BY 4.0"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx-mathjax-offline", "course_site"]
exclude_patterns = ["requirements.txt", "**/.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # README sections start at ### under a page's # title

myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "off"
nb_custom_formats = {".ipynb": ["course_site.read_notebook", {}, False]}
nb_ipywidgets_js = {}
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
add_module_names = False

html_theme = "sphinx_book_theme"
html_title = "vaecourse"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_theme_options = {"home_page_in_toc": True, "show_navbar_depth": 1, "use_download_button": False}
html_copy_source = False  # the notebooks are on GitHub; no second copy in the site
html_favicon = "_static/favicon.svg"
html_context = {"default_mode": "light"}  # matplotlib's figures are drawn on white
