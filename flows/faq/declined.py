"""The matcher's out-of-scope class: example questions Linkpilot deliberately does not answer.

Read from ``out_of_scope.yaml`` beside this module (see its header). Each theme is indexed like
a knowledge-base entry; the matcher declines a question whose best match is a theme.
"""

from __future__ import annotations

import functools
from importlib import resources

import yaml

_FILE = "out_of_scope.yaml"
# Prefix of a theme's id among the matcher's candidates; never a knowledge-base id (those are
# lower-case words and hyphens only).
THEME_PREFIX = "out-of-scope:"


@functools.cache
def out_of_scope_themes() -> dict[str, tuple[str, ...]]:
    """Theme name -> its example questions; read once per process."""
    text = resources.files("flows.faq").joinpath(_FILE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {str(name): tuple(str(q) for q in questions) for name, questions in data.items()}
