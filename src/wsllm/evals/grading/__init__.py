"""Assertions: one registry of types, the context they see, and how verdicts add up."""
