"""Data: image files of any kind, the model's domain (crop policies), dataset folders, the glyph dataset, hole shapes."""
