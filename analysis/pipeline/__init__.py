"""The per-chunk pipeline: ``STAGES`` (``stages``), the one ordered runner (``runner``) and one module per
stage's glue (``preprocess``, ``transcribe``, ``diarize``, ``analyze``, ``score``, ``publish``), plus audio
access (``audio``), the worker's model cache (``worker_models``), the end of a session (``finalize``) and the
final pass (``final_pass``). Tasks (``analysis.tasks``) are the only callers from above; see
docs/architecture.md.
"""
