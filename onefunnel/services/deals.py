"""Moved to ``services/sales/deals.py`` (DESIGN §5); kept so existing imports keep working."""

from onefunnel.services.sales.deals import DealClosed, close_deal, open_deal

__all__ = ["DealClosed", "close_deal", "open_deal"]
