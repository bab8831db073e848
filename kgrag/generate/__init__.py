"""The generate stage.

An LLM answers over the evidence bundle and every citation it returns is verified against the stored
text (or an extractive report when no LLM is configured). See :func:`kgrag.generate.answer.ground`.
"""
