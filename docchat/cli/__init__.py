"""Entry points (the ``docchat`` command, the UI launcher): above every layer they call."""
