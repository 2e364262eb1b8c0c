"""Annotation without a UI: accounts and links, the one labelling path (``flow``: view,
answer, undo, skip) over the pool and its leases (``pool``, ``assignment``), gold checks, crowd
studies, and what the admin page reads (``monitor``). The page in ``annotate_app`` calls
``flow`` and ``monitor``.
"""
