"""``docchat serve``: an OpenAI-compatible HTTP API over the same answer engine as the UI and the CLI.

``server.py`` builds the FastAPI app (routes, auth, start-up), ``openai_format.py`` holds the request and
response models and the converters from docchat's answers, ``errors.py`` gives every error OpenAI's shape,
and ``limits.py`` caps request body sizes.
"""
