"""The plan both teams share: targets and pace, the forecast, the reverse funnel, budgets."""
