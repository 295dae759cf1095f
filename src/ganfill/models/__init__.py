"""Models: network configs and architectures, the registry of model kinds, model files, priors and inference copies."""
