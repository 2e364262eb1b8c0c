"""Reporting: statistics as pure functions on arrays (``votes``, ``stats``, ``intervals``,
``agreement``), labels aggregated into the SSA table with intervals, comparisons and
agreement (``aggregate``), and the files a report is made of (``render``).
"""
