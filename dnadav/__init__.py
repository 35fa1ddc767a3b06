"""dnadav: design regulatory DNA with masked discrete diffusion aligned by DAV, and evaluate it.

    import dnadav
    designs = dnadav.design("hepg2", n=128, seed=0)
    report = dnadav.evaluate({"designs": designs})

See docs/api.md. Tokens are A, C, G, T = 0..3 and MASK = 4; one-hot tensors are ``[B, 4, L]`` in
ACGT order.

The API's names load on first use, so that importing a lower layer (``dnadav.core``, ``dnadav.dna``)
loads no job, oracle or pandas.
"""

import sys
import types

from dnadav._version import __version__

_API = ("Designs", "Report", "align", "design", "evaluate", "load_model", "load_oracle", "pretrain", "train_oracle")

__all__ = [
    "Designs",
    "Report",
    "__version__",
    "align",
    "design",
    "evaluate",
    "load_model",
    "load_oracle",
    "pretrain",
    "train_oracle",
]


class _Package(types.ModuleType):
    """dnadav's module type: ``dnadav.design`` & co. come from ``dnadav.api`` when first asked for, and
    ``dnadav.evaluate`` stays the function when the subpackage of the same name is imported (the import
    system binds a subpackage on its parent; the binding is ignored here)."""

    @property
    def evaluate(self):
        from dnadav.api import evaluate

        return evaluate

    @evaluate.setter
    def evaluate(self, value: object) -> None:
        pass

    def __getattr__(self, name: str):
        if name in _API:
            from dnadav import api

            return getattr(api, name)
        raise AttributeError(f"module 'dnadav' has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_API})


sys.modules[__name__].__class__ = _Package
