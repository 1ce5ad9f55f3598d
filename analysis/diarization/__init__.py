"""Speakers and roles, Django-free: embeddings, live and final diarization, role assignment, RTTM."""
