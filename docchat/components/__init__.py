"""Models used by both ingest and answering (LLM backends, model catalog and profiles)."""
