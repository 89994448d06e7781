"""The YAML loader configs are read with."""

from __future__ import annotations

import yaml

# libyaml's loader parses large test files many times faster than the pure-Python one.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
