"""What the data-subject commands (gdpr_export, gdpr_delete) share: the subject's arguments, and the
rule that a raw identifier never leaves the process it was typed into. A command handed to the
server (core.command_runs) is recorded with its arguments, so the identifier is pseudonymised here
and only the pseudonym is handed over."""

import uuid

from django.core.management.base import CommandError

from apps_registry.models import App
from core.command_runs import ServerCommand
from events.personal_data import SUBJECT_KINDS

from .identity import Subject


class SubjectCommand(ServerCommand):
    def add_arguments(self, parser):
        parser.add_argument("--app", required=True, help="App id.")
        parser.add_argument("--kind", required=True, choices=SUBJECT_KINDS, help="user, or the device id's kind.")
        known = parser.add_mutually_exclusive_group(required=True)
        known.add_argument("--value", help="The identifier as the app sent it (pseudonymised here, never kept).")
        known.add_argument("--pseudonym", help="Or its stored pseudonym (32 hex characters).")

    def run_from_argv(self, argv):
        options = self.create_parser(argv[0], argv[1]).parse_args(argv[2:])
        if options.value:
            subject = self._subject(options.app, options.kind, value=options.value)
            arguments, skip = [], False
            for argument in argv[2:]:
                if skip or argument == "--value" or argument.startswith("--value="):
                    skip = argument == "--value"
                    continue
                arguments.append(argument)
            argv = [*argv[:2], *arguments, "--pseudonym", subject.pseudonym]
        super().run_from_argv(argv)

    @staticmethod
    def _subject(app_id: str, kind: str, *, value: str = "", pseudonym: str = "") -> Subject:
        try:
            return Subject.of(app_id=uuid.UUID(app_id), kind=kind, value=value, pseudonym=pseudonym)
        except ValueError as error:
            raise CommandError(str(error)) from None

    def app_and_subject(self, options: dict) -> tuple[App, Subject]:
        app = App.objects.filter(pk=options["app"]).first()
        if app is None:
            raise CommandError(f"No app {options['app']}.")
        known = {"value": options["value"] or "", "pseudonym": options["pseudonym"] or ""}
        return app, self._subject(str(app.pk), options["kind"], **known)
