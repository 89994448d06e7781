"""Config files: loading, checking every key, test and prompt files."""
