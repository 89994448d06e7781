"""Graders for model-graded assertions, and embedders for semantic ones."""
