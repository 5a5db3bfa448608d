from django.core.management.base import CommandError

from events.subjects import services
from events.subjects.commands import SubjectCommand


class Command(SubjectCommand):
    help = (
        "Erase one data subject of an app from every store (ClickHouse tables, dead letters, the bus's pending "
        "messages), then query every store again; recorded as a subject request with its outcome."
    )

    def handle(self, *args, **options):
        app, subject = self.app_and_subject(options)
        request = services.subject_erasure_request(app=app, subject=subject, requested_by=None)
        request = services.subject_erase(request=request)
        for store, counts in request.outcome.items():
            self.stdout.write(f"{store}: {counts['found']} row(s) found, {counts['left']} left")
        if request.status != request.Status.DONE:
            raise CommandError(f"request {request.pk}: rows are left (see above); run it again.")
        self.stdout.write(f"request {request.pk}: done, every store verified empty for this subject")
