"""The plan both teams share: targets and pace, the revenue forecast, the reverse funnel.

Pure: months, amounts and counts in, frozen dataclasses out (no Django, no SQL).
"""
