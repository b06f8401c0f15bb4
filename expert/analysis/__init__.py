"""The analysis: the influence graph, the facts the engine sees, the explanation of each finding,
ranking, and the pipeline (`assess`) that runs them in order."""
