"""The jobs: one module per job, each with ONE options dataclass that the CLI (``dnadav.commands``)
and the Python API (``dnadav.api``) both build (``dnadav.jobs.options`` says how a field is spelled
on the line and as a keyword; its default is declared once, on the field).

``design`` (``DesignOptions``) · ``evaluate`` (``EvaluateOptions``) · ``align`` (``AlignOptions`` in
``align_options``, turned into a ``dnadav.dna.config.AlignConfig`` over its preset) · ``image_sample``
(``ImageSampleOptions``) · ``image_align`` (``ImageAlignOptions``) · ``pretrain`` · ``modality``
(``ModalityOptions``: sample, search and align any ``ReverseProcess``).
"""

__all__: list[str] = []
