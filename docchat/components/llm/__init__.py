"""Chat LLMs: the model catalog (``catalog``), model profiles (``profiles``), the supervised llama.cpp
server (``server``) and the backends that talk to a model (``backends``)."""
