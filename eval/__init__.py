"""docchat's evaluation: question sets (``eval/sets``), committed baselines and the runner (``docchat.eval.runner``).

Installed as ``docchat.eval`` (the folder keeps the project's top-level layout; nothing named ``eval`` is installed).
"""
