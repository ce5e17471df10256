"""docchat's evaluation: question sets (``eval/sets``), committed baselines and the runner (``eval.runner``).

Import it as ``from eval.runner import ...`` inside functions: a module-level ``import eval`` would hide the
``eval`` builtin in that module.
"""
