"""Maintenance: checks, tasks, schedules, the maintenance log and its reports.

Checks only read; tasks change things and say exactly what they changed. Both run against
whichever backends the settings configure and are driven by the CLI and the API's monitor.
"""
