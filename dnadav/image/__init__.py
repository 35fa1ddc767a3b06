"""Optional image plugin (the `[image]` extra): see docs/image.md."""

__all__: list[str] = []
