"""Shared plumbing: errors, argument checks, files written atomically, uint8 <-> tensor, the runtime (device, precision)."""
