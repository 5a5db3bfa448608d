import json
from pathlib import Path

from django.core.serializers.json import DjangoJSONEncoder

from events.subjects import services
from events.subjects.commands import SubjectCommand


class Command(SubjectCommand):
    help = "Export everything stored about one data subject of an app (JSON), recorded as a subject request."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--output", help="File to write (default: standard output).")

    def handle(self, *args, **options):
        app, subject = self.app_and_subject(options)
        export = services.subject_export(app=app, subject=subject, requested_by=None)
        document = {
            "request": str(export.request.pk),
            "app_id": str(app.pk),
            "kind": subject.kind,
            "pseudonym": subject.pseudonym,
            "tables": export.tables,
        }
        text = json.dumps(document, indent=2, cls=DjangoJSONEncoder)
        if options["output"]:
            Path(options["output"]).write_text(text)
            counts = ", ".join(f"{name} {len(rows)}" for name, rows in export.tables.items())
            self.stdout.write(f"request {export.request.pk}: {counts} row(s) written to {options['output']}")
        else:
            self.stdout.write(text)
