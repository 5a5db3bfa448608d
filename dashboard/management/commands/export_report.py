from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict
from rest_framework import serializers

from apps_registry.models import App
from core.errors import ApplicationError
from dashboard.apis.exports import REPORTS, csv_lines, known_parameters, report_table


class Command(BaseCommand):
    help = (
        "Write a report as CSV, the same table as its /api/analytics/<report>.csv endpoint: "
        "export_report campaigns --app ID level=ad date_from=2026-11-01 date_to=2026-11-30 [--output FILE]. "
        "Filters and parameters are name=value pairs, as in the endpoint's URL (repeat a name for a list)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.parse_args = parser.parse_intermixed_args  # name=value pairs may follow --app
        return parser

    def add_arguments(self, parser):
        parser.add_argument("report", help=f"One of: {', '.join(REPORTS)}.")
        parser.add_argument("--app", required=True, help="The app's id.")
        parser.add_argument("parameters", nargs="*", metavar="name=value", help="Report filters and parameters.")
        parser.add_argument("--output", help="Write to this file (standard output otherwise).")

    def handle(self, *args, **options):
        name = options["report"]
        if name not in REPORTS:
            raise CommandError(f"No report {name!r}: choose one of {', '.join(REPORTS)}.")
        try:
            app = App.objects.get(pk=options["app"])
        except (App.DoesNotExist, ValidationError):
            raise CommandError(f"No app with id {options['app']!r}.") from None
        data = QueryDict(mutable=True)
        for pair in options["parameters"]:
            key, equals, value = pair.partition("=")
            if not equals:
                raise CommandError(f"{pair!r} is not name=value.")
            if key not in known_parameters(name):
                known = ", ".join(sorted(known_parameters(name)))
                raise CommandError(f"The {name} report takes no {key!r}; it takes: {known}.")
            data.appendlist(key, value)
        data["app_id"] = str(app.id)
        try:
            table = report_table(name, app=app, data=data)
        except ApplicationError as error:
            raise CommandError(f"{error.message} {error.extra}") from None
        except serializers.ValidationError as error:
            raise CommandError(f"Invalid report parameters. {error.detail}") from None
        if options["output"] is None:
            for line in csv_lines(table):
                self.stdout.write(line, ending="")
            return
        with Path(options["output"]).open("w", encoding="utf-8", newline="") as out:
            out.writelines(csv_lines(table))
        self.stderr.write(f"Wrote the {name} report to {options['output']}.")
