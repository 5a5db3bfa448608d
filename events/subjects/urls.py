from django.urls import path

from . import apis

urlpatterns = [
    path("apps/<uuid:app_id>/subjects/export", apis.SubjectExportApi.as_view(), name="subject-export"),
    path("apps/<uuid:app_id>/subjects/erasure", apis.SubjectErasureApi.as_view(), name="subject-erasure"),
    path("apps/<uuid:app_id>/subject-requests", apis.SubjectRequestListApi.as_view(), name="subject-requests"),
    path(
        "apps/<uuid:app_id>/subject-requests/<uuid:request_id>",
        apis.SubjectRequestApi.as_view(),
        name="subject-request",
    ),
    path("apps/<uuid:app_id>/opt-outs", apis.OptOutListApi.as_view(), name="opt-outs"),
    path("apps/<uuid:app_id>/opt-outs/<int:opt_out_id>", apis.OptOutApi.as_view(), name="opt-out"),
]
