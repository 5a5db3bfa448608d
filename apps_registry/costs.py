"""Ad spend import from CSV: every line is checked first; any bad line means nothing is imported.
Rows are keyed by (app, date, source, campaign, ad set, ad): importing them again replaces them."""

import csv
import datetime as dt
import decimal
import io
import re
import uuid
from dataclasses import dataclass

from django.db import transaction

from core.errors import ApplicationError

from .models import AdSpend, App

REQUIRED = ("date", "source", "campaign", "currency", "cost")
OPTIONAL = ("app_id", "adset", "ad", "impressions", "clicks")
MAX_LINES = 200_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TEXT_MAX_LENGTHS = {name: AdSpend._meta.get_field(name).max_length for name in ("source", "campaign", "adset", "ad")}


@dataclass
class ImportResult:
    rows: int
    total_cost: dict[str, decimal.Decimal]


def _parse_line(values: dict, app: App | None, apps: dict) -> tuple[AdSpend | None, dict]:
    errors: dict[str, str] = {}
    row = {k: (v or "").strip() for k, v in values.items() if k}
    for name, value in row.items():
        if "\x00" in value:  # PostgreSQL refuses it in text
            errors[name] = "contains a NUL character"
    target = app
    if app is None:
        try:
            target = apps.get(uuid.UUID(row.get("app_id", "")))
        except ValueError:
            target = None
        if target is None:
            errors["app_id"] = "unknown app id"
    elif row.get("app_id") and row["app_id"] != str(app.id):
        errors["app_id"] = "belongs to another app"
    try:
        date = dt.date.fromisoformat(row.get("date", ""))
    except ValueError:
        errors["date"] = "expected YYYY-MM-DD"
    for name, limit in _TEXT_MAX_LENGTHS.items():
        if name in REQUIRED and not row.get(name):
            errors[name] = "required"
        elif len(row.get(name, "")) > limit:
            errors[name] = f"longer than {limit} characters"
    if not _CURRENCY.match(row.get("currency", "")):
        errors["currency"] = "expected a three-letter ISO 4217 code"
    try:
        cost = decimal.Decimal(row.get("cost", ""))
        if not cost.is_finite() or cost < 0 or cost >= 10**12:
            raise decimal.InvalidOperation
    except decimal.InvalidOperation:
        errors["cost"] = "expected a non-negative number"
    counts = {}
    for name in ("impressions", "clicks"):
        if row.get(name):
            if not row[name].isdigit():
                errors[name] = "expected a whole number"
            else:
                counts[name] = int(row[name])
    if errors:
        return None, errors
    return (
        AdSpend(
            app=target,
            date=date,
            source=row["source"],
            campaign=row["campaign"],
            adset=row.get("adset", ""),
            ad=row.get("ad", ""),
            currency=row["currency"],
            cost=cost,
            **counts,
        ),
        {},
    )


def csv_text(raw: bytes) -> str:
    """A CSV file's bytes as text: UTF-8, with or without a byte-order mark. Raises ApplicationError
    naming the first line that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = error.object.count(b"\n", 0, error.start) + 1  # the object is the file after any mark
        raise ApplicationError(
            "The file is not UTF-8 text; nothing was imported.",
            extra={"lines": [{"line": line, "errors": {"line": "not UTF-8"}}]},
        ) from None


def costs_import(*, data: str, app: App | None = None) -> ImportResult:
    """Import a CSV (header line first). With ``app``, every line is for that app; without, each line
    names its ``app_id``. Raises ApplicationError listing every bad line; imports nothing then."""
    reader = csv.DictReader(io.StringIO(data))
    try:
        rows = _checked_rows(reader, app)
    except csv.Error as error:  # e.g. a field over the csv module's size limit: the reader stops there
        line = reader.reader.line_num  # the DictReader's own count moves only past a good line
        raise ApplicationError(
            "The file is not readable CSV; nothing was imported.",
            extra={"lines": [{"line": line, "errors": {"line": str(error)}}]},
        ) from None
    with transaction.atomic():
        AdSpend.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["app", "date", "source", "campaign", "adset", "ad"],
            update_fields=["currency", "cost", "impressions", "clicks", "imported_at"],
            batch_size=2000,
        )
    totals: dict[str, decimal.Decimal] = {}
    for row in rows:
        totals[row.currency] = totals.get(row.currency, decimal.Decimal(0)) + row.cost
    return ImportResult(rows=len(rows), total_cost=totals)


def _checked_rows(reader: csv.DictReader, app: App | None) -> list[AdSpend]:
    """Every line as an unsaved row; raises ApplicationError listing every bad line."""
    header = reader.fieldnames or []
    missing = [name for name in REQUIRED + (() if app else ("app_id",)) if name not in header]
    unknown = [name for name in header if name not in REQUIRED + OPTIONAL]
    if missing or unknown:
        raise ApplicationError(
            "The CSV header is wrong.",
            extra={
                "header": [
                    f"missing: {', '.join(missing)}" if missing else "",
                    f"unknown: {', '.join(unknown)}" if unknown else "",
                ]
            },
        )
    apps = {} if app else {a.id: a for a in App.objects.all()}
    rows, bad, seen = [], [], {}
    for line_number, values in enumerate(reader, start=2):
        if line_number - 1 > MAX_LINES:
            raise ApplicationError(f"The file has more than {MAX_LINES} lines; split it.")
        if None in values:
            bad.append({"line": line_number, "errors": {"line": "more fields than the header"}})
            continue
        row, errors = _parse_line(values, app, apps)
        if row is not None:
            key = (row.app_id, row.date, row.source, row.campaign, row.adset, row.ad)
            if key in seen:
                errors = {"line": f"same date, source, campaign, ad set and ad as line {seen[key]}"}
            seen[key] = line_number
        if errors:
            bad.append({"line": line_number, "errors": errors})
        else:
            rows.append(row)
    if bad:
        raise ApplicationError(f"{len(bad)} bad line(s); nothing was imported.", extra={"lines": bad})
    return rows
