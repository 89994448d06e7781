"""Functions from configs, in JavaScript (an embedded QuickJS) or Python, bounded in time."""
