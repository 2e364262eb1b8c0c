"""Storage, the bottom layer: the database (engine, schema, migrations, project settings), the
systems registry, and every file that comes in or goes out (contexts, imports, exports).

Nothing here imports generation, annotation, reporting or torch.
"""
