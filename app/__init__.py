"""Answering: retrieve (dense + BM25, fused), rerank, generate with a local LLM, check citations."""
