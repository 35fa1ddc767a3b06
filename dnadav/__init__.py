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


class _EvaluatePackage(types.ModuleType):
    """The subpackage ``dnadav.evaluate``, callable as the API function ``dnadav.api.evaluate``: one
    object at ``dnadav.evaluate`` serves ``dnadav.evaluate({...})`` and ``import dnadav.evaluate.reference
    as r`` (which Python resolves by attribute, ``dnadav.evaluate.reference``). ``__wrapped__`` is the
    function, so ``inspect.signature(dnadav.evaluate)`` gives its signature."""

    def __call__(self, *args, **kwargs):
        from dnadav.api import evaluate

        return evaluate(*args, **kwargs)

    @property
    def __wrapped__(self):
        from dnadav.api import evaluate

        return evaluate


class _Package(types.ModuleType):
    """dnadav's module type: ``dnadav.design`` & co. come from ``dnadav.api`` when first asked for.
    ``dnadav.evaluate`` is both the subpackage and the API function: the subpackage, made callable
    (``_EvaluatePackage``) when it is bound here — by the import system, whichever of its modules is
    imported first, or on first use."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "evaluate" and isinstance(value, types.ModuleType) and value.__name__ == "dnadav.evaluate":
            value.__class__ = _EvaluatePackage
        super().__setattr__(name, value)

    def __getattr__(self, name: str):
        if name == "evaluate":  # not imported yet: importing binds it (above)
            import importlib

            return importlib.import_module("dnadav.evaluate")
        if name in _API:
            from dnadav import api

            return getattr(api, name)
        raise AttributeError(f"module 'dnadav' has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_API})


sys.modules[__name__].__class__ = _Package
