"""Evaluation of designed sequences: ``metrics`` (pure functions), ``motifs`` (JASPAR scanning),
``reference`` (the reference and training sets), ``evaluator`` (``evaluate_sets``) and ``report``
(``write_report``). Submodules are imported on use, so ``metrics`` stays light."""

__all__ = ["evaluator", "metrics", "motifs", "reference", "report"]
