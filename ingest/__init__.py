"""Ingestion: corpus files -> loaded blocks -> chunks -> embeddings -> Chroma (+ BM25 side index)."""
