"""One module per API area; each exposes ``routes`` (a list of Starlette routes).

Add an area by writing ``responses/<area>.py`` with its endpoints and ``routes`` and
listing it in :mod:`csframe.sandbox.urls`.
"""
