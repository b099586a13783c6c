"""Training, evaluation and publishing tools for ColorNet (not needed to run the models)."""
