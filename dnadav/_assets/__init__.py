"""The shipped oracles/, datasets/ and models/: links to the repository's folders in a checkout, their
copies in an installed wheel. Look them up with ``dnadav.assets.asset_root`` / ``asset_path``."""

__all__: list[str] = []
