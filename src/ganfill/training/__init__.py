"""Training: one loop that owns the run folder, and the tasks it runs (GAN, encoder of z, context encoder)."""
