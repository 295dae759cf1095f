"""Inpainting: the latent search, blending, the classical baselines, and the Inpainter of every mode."""
