"""Annotation without a UI: accounts and links, assignment of items to raters, gold checks
and the numbers the admin page shows. The page in ``annotate_app`` calls these functions.
"""
