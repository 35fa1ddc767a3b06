"""dnadav: design regulatory DNA with masked discrete diffusion aligned by DAV, and evaluate it.

    import dnadav
    designs = dnadav.design("hepg2", n=128, seed=0)
    report = dnadav.evaluate({"designs": designs})

See docs/api.md. Tokens are A, C, G, T = 0..3 and MASK = 4; one-hot tensors are ``[B, 4, L]`` in
ACGT order.
"""

__version__ = "0.1.0"

# The subpackage dnadav.evaluate is imported first, so that binding the function of the same name
# below is final (importing a submodule again never rebinds its parent's attribute).
import dnadav.evaluate as _evaluate_package  # noqa: E402,F401
from dnadav.api import Designs, Report, design, evaluate, load_model, load_oracle  # noqa: E402

__all__ = ["Designs", "Report", "__version__", "design", "evaluate", "load_model", "load_oracle"]
