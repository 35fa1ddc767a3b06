"""The jobs: one module per job (design, align, evaluate, image sample, image align, pretrain), each
with one options dataclass that the CLI and the Python API both build."""

__all__: list[str] = []
