"""Looking at runs: plots of rewards and accuracies.

- :mod:`.plots`: reward curves, accuracy heatmaps, the generalization matrix.
"""
