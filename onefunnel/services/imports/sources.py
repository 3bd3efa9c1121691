"""One reader per source system: a row of its export → one ContactRecord, or a RowError.

Column names are matched case-insensitively, as export labels ("Lifecycle Stage") or as
internal property names (``lifecyclestage``), so files from the UI and from the API both read.
The value mappings themselves live in ``onefunnel.domain.crm_mapping``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from enum import StrEnum
from typing import Any, Protocol

from onefunnel.domain.crm_mapping import (
    MappingError,
    StageStep,
    hubspot_became_column,
    hubspot_lead_status,
    hubspot_lifecycle_stage,
    hubspot_source_channel,
    onefunnel_step,
    parse_bool,
    salesforce_source_channel,
    salesforce_status,
    stage_path,
)
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import Channel
from onefunnel.services.imports.columns import (
    Columns,
    account_key,
    check_shape,
    crm_time,
    email_of,
    mapped,
    person_fields,
    when,
)
from onefunnel.services.imports.records import ContactRecord, RowError


class ContactSource(StrEnum):
    """The export formats ``import contacts`` reads."""

    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"
    GENERIC = "generic"


class ContactReader(Protocol):
    """Turns the rows of one file into records; built from the file's header."""

    columns: Columns

    def record(self, row: int, values: Sequence[str]) -> ContactRecord:
        """The row as a record; raises RowError naming the column at fault."""
        ...


_PERSON = {
    "email": ("Email", "email", "Email Address"),
    "first_name": ("First Name", "firstname", "first_name", "FirstName"),
    "last_name": ("Last Name", "lastname", "last_name", "LastName"),
    "title": ("Job Title", "jobtitle", "Title", "title"),
    "phone": ("Phone Number", "phone", "Phone"),
    "country": ("Country/Region", "Country", "country"),
    "company": ("Company Name", "company", "Company", "Company / Account"),
    "domain": ("Company Domain Name", "Website URL", "website", "domain", "Website"),
}


def _account_fields(row: int, values: Sequence[str], columns: Columns) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    industry = columns.get(values, "industry")
    if industry:
        if len(industry) > 100:
            raise RowError(row, columns.label("industry"), "longer than 100 characters")
        fields["industry"] = industry
    employees = columns.get(values, "employees").replace(",", "")
    if employees:
        if not employees.isdigit():
            raise RowError(row, columns.label("employees"), f"not a whole number: {employees!r}")
        fields["employee_count"] = int(employees)
    return fields


def _properties(source: str, raw: dict[str, str], channel: Channel | None) -> dict[str, Any]:
    props: dict[str, Any] = {}
    kept = {k: v for k, v in raw.items() if v}
    if kept:
        props[source] = kept
    if channel is not None:
        props["source_channel"] = channel.value
    return props


class HubSpotReader:
    """A HubSpot contacts export (Contacts → Export, or the API's property names)."""

    aliases = {
        **_PERSON,
        "record_id": ("Record ID", "Contact ID", "hs_object_id", "vid"),
        "lifecycle": ("Lifecycle Stage", "lifecyclestage"),
        "lead_status": ("Lead Status", "hs_lead_status"),
        "source": ("Original Source", "hs_analytics_source", "Original Source Type"),
        "created": ("Create Date", "createdate"),
        "industry": ("Industry", "industry"),
    }

    def __init__(self, header: Sequence[str], tz: tzinfo) -> None:
        self.columns = Columns(header, self.aliases)
        self.tz = tz
        self.became: list[tuple[int, str, Stage]] = []
        for i, name in enumerate(header):
            stage = hubspot_became_column(name)
            if stage is not None:
                self.became.append((i, name.strip(), stage))

    def record(self, row: int, values: Sequence[str]) -> ContactRecord:
        """One HubSpot contact row as a record."""
        cols = self.columns
        check_shape(row, values, cols)
        email = email_of(row, values, cols)
        properties: dict[str, Any] = {}
        fields = person_fields(row, values, cols, properties)
        company, domain = account_key(row, values, cols, email)
        lifecycle, status, source = (
            cols.get(values, f) for f in ("lifecycle", "lead_status", "source")
        )
        try:
            stage = hubspot_lifecycle_stage(lifecycle)
        except MappingError as exc:
            raise mapped(row, cols, "lifecycle", exc) from None
        try:
            side = hubspot_lead_status(status)
        except MappingError as exc:
            raise mapped(row, cols, "lead_status", exc) from None
        try:
            channel = hubspot_source_channel(source)
        except MappingError as exc:
            raise mapped(row, cols, "source", exc) from None
        dated: list[StageStep] = []
        for i, label, became in self.became:
            if not values[i]:
                continue  # most "Became a … Date" cells are empty
            try:
                at = crm_time(values[i], self.tz)
            except MappingError as exc:
                raise RowError(row, label, str(exc)) from None
            if at is not None:
                dated.append(StageStep(became, at))
        final = [StageStep(stage)] if stage is not None else []
        if side is not None:
            final.append(StageStep(side[0], reason=side[1]))
        record_id = cols.get(values, "record_id")
        raw = {"record_id": record_id, "lifecycle_stage": lifecycle, "lead_status": status,
               "original_source": source}  # fmt: skip
        properties.update(_properties("hubspot", raw, channel))
        return ContactRecord(
            row=row,
            email=email,
            fields=fields,
            company=company,
            domain=domain,
            account_fields=_account_fields(row, values, cols),
            created_at=when(row, values, cols, "created", self.tz),
            path=tuple(stage_path(dated, final)),
            properties=properties,
            source_id=f"hubspot:{record_id}" if record_id else "hubspot",
        )


class SalesforceReader:
    """A Salesforce Lead export (Data Loader API names, or a report's column labels)."""

    aliases = {
        **_PERSON,
        "lead_id": ("Id", "Lead ID"),
        "status": ("Status", "Lead Status"),
        "source": ("LeadSource", "Lead Source"),
        "converted": ("IsConverted", "Converted"),
        "converted_at": ("ConvertedDate", "Converted Date"),
        "created": ("CreatedDate", "Created Date", "Create Date"),
        "industry": ("Industry",),
        "employees": ("NumberOfEmployees", "No. of Employees", "Employees"),
    }

    def __init__(self, header: Sequence[str], tz: tzinfo) -> None:
        self.columns = Columns(header, self.aliases)
        self.tz = tz

    def record(self, row: int, values: Sequence[str]) -> ContactRecord:
        """One Salesforce lead row as a record."""
        cols = self.columns
        check_shape(row, values, cols)
        email = email_of(row, values, cols)
        properties: dict[str, Any] = {}
        fields = person_fields(row, values, cols, properties)
        company, domain = account_key(row, values, cols, email)
        status, source = cols.get(values, "status"), cols.get(values, "source")
        try:
            state = salesforce_status(status)
        except MappingError as exc:
            raise mapped(row, cols, "status", exc) from None
        try:
            converted = parse_bool(cols.get(values, "converted"))
        except MappingError as exc:
            raise mapped(row, cols, "converted", exc) from None
        created_at = when(row, values, cols, "created", self.tz)
        converted_at = when(row, values, cols, "converted_at", self.tz)
        # A lead is a known person from the day it was created; conversion dates intent.
        dated = [StageStep(Stage.CONSIDERATION, created_at)] if created_at else []
        final: list[StageStep] = []
        if converted:
            (dated if converted_at else final).append(StageStep(Stage.INTENT, converted_at))
        if state is not None:
            final.append(StageStep(state[0], reason=state[1]))
        lead_id = cols.get(values, "lead_id")
        raw = {"lead_id": lead_id, "status": status, "lead_source": source,
               "converted": "true" if converted else ""}  # fmt: skip
        properties.update(_properties("salesforce", raw, salesforce_source_channel(source)))
        return ContactRecord(
            row=row,
            email=email,
            fields=fields,
            company=company,
            domain=domain,
            account_fields=_account_fields(row, values, cols),
            created_at=created_at,
            path=tuple(stage_path(dated, final)),
            properties=properties,
            source_id=f"salesforce:{lead_id}" if lead_id else "salesforce",
        )


class GenericReader:
    """A plain CSV in onefunnel's own words: email, names, company, domain, stage, reason…"""

    aliases = {
        **_PERSON,
        "stage": ("stage",),
        "reason": ("reason", "stage_reason"),
        "channel": ("channel", "source_channel"),
        "created": ("created_at", "created"),
        "industry": ("industry",),
        "employees": ("employee_count", "employees"),
    }

    def __init__(self, header: Sequence[str], tz: tzinfo) -> None:
        self.columns = Columns(header, self.aliases)
        self.tz = tz

    def record(self, row: int, values: Sequence[str]) -> ContactRecord:
        """One generic row as a record."""
        cols = self.columns
        check_shape(row, values, cols)
        email = email_of(row, values, cols)
        properties: dict[str, Any] = {}
        fields = person_fields(row, values, cols, properties)
        company, domain = account_key(row, values, cols, email)
        created_at = when(row, values, cols, "created", self.tz)
        try:
            step = onefunnel_step(cols.get(values, "stage"), cols.get(values, "reason"))
        except MappingError as exc:
            raise mapped(row, cols, "stage", exc) from None
        channel_text = cols.get(values, "channel")
        if channel_text:
            try:
                channel = Channel(channel_text.lower().replace(" ", "_").replace("-", "_"))
            except ValueError:
                known = ", ".join(c.value for c in Channel)
                raise RowError(
                    row, cols.label("channel"), f"unknown channel {channel_text!r} (one of {known})"
                ) from None
            properties["source_channel"] = channel.value
        return ContactRecord(
            row=row,
            email=email,
            fields=fields,
            company=company,
            domain=domain,
            account_fields=_account_fields(row, values, cols),
            created_at=created_at,
            path=(step,) if step is not None else (),
            properties=properties,
            source_id="generic",
        )


def reader_for(source: ContactSource, header: Sequence[str], tz: tzinfo) -> ContactReader:
    """The reader of a source's export, checked against the file's header (InputError if the
    header lacks a required column)."""
    readers: dict[ContactSource, type[HubSpotReader | SalesforceReader | GenericReader]] = {
        ContactSource.HUBSPOT: HubSpotReader,
        ContactSource.SALESFORCE: SalesforceReader,
        ContactSource.GENERIC: GenericReader,
    }
    return readers[source](header, tz)
