"""The command line: `coherence` and its `kb` commands."""
