"""The published setup, offline: DRAKES's pretrained MDLM and gReLU Enformer oracles rebuilt in
dnadav and loaded from the checkpoints a user already holds (no download, nothing unpickled).

* ``safe_checkpoint.load_checkpoint``: a Lightning ``.ckpt`` as a dict, no pickled code run.
* ``drakes_mdlm``: the DRAKES 20-block dilated CNN denoiser and ``load_drakes_mdlm(path)``.
* ``enformer_oracle``: the gReLU Enformer-trunk regressor and ``load_grelu_oracle(path)``.
* ``dispatch.load_model`` / ``dispatch.load_denoiser_any``: dispatch by file (published oracles:
  ``dnadav.oracles.registry.load_published_oracle``).
"""

from dnadav.published.safe_checkpoint import load_checkpoint, plain

__all__ = ["load_checkpoint", "plain"]
