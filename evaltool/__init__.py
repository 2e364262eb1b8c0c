"""evaltool: human evaluation of dialog models with the SSA metric.

The data flows one way: contexts -> responses -> labels -> report. Each stage is a
module of this package; ``evaltool.cli`` and ``annotate_app`` sit on top.
"""

__version__ = "0.1.0"
