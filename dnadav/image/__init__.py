"""Optional image plugin (the `[image]` extra): see docs/image.md."""
