"""A Nunjucks template engine (the one promptfoo renders with), written for Python.

Templates compile once (template.py) to Python closures and render with JavaScript's semantics
for values: `undefined` and `null` print empty, `3.0` prints `3`, `[]` is truthy, `+` joins
strings. A template reaches only data: dict keys, list items and a short list of JavaScript
methods.
"""
