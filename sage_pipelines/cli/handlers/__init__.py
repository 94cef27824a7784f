"""What each `sage` command does: one module per command group (`commands/<group>.py` names the
function), plus `health` for `servers status`, the one command of its group that needs Celery.
Services, Dagster and Celery are imported at module level here: only the module of the command
being run is loaded.
"""
