"""Fine-tune a transformer news classifier: ``python -m training --output DIR``.

Public API: :class:`training.config.TrainConfig`, :func:`training.pipeline.run_training`,
:func:`training.search.run_search`, :class:`training.errors.TrainingError`.
"""
