"""File imports: CRM contact exports (HubSpot, Salesforce, generic CSV)."""

from onefunnel.services.imports.contacts import CHUNK_ROWS, import_contacts
from onefunnel.services.imports.records import ContactRecord, ImportReport, RowError
from onefunnel.services.imports.sources import ContactSource

__all__ = [
    "CHUNK_ROWS",
    "ContactRecord",
    "ContactSource",
    "ImportReport",
    "RowError",
    "import_contacts",
]
