"""Saved chats: every conversation of the UI, ``docchat ask`` and the API, with each turn's full answer record.

``store.py`` is the SQLite file (``<data_dir>/chats.sqlite3``: schema version, migrations, one connection per
operation), ``records.py`` turns an :class:`~docchat.app.schema.Answer` into the record a turn keeps (and back),
``saving.py`` appends a turn to a chat or starts one (shared by every front end), ``export.py`` renders a chat as
Markdown or JSON.
"""
