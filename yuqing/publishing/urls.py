from django.urls import path

from yuqing.publishing import views

app_name = "publishing"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.draft_new, name="draft_new"),
    path("<int:pk>/", views.draft_detail, name="draft"),
    path("<int:pk>/edit/", views.draft_edit, name="draft_edit"),
    path("<int:pk>/check/", views.draft_check, name="draft_check"),
    path("<int:pk>/submit/", views.draft_submit, name="draft_submit"),
    path("<int:pk>/attach/", views.attachment_upload, name="attachment_upload"),
    path("<int:pk>/override/", views.finding_override, name="finding_override"),
    path("<int:pk>/review/", views.review_act, name="review_act"),
    path("<int:pk>/revisions/", views.revisions, name="revisions"),
    path("<int:pk>/approval.docx", views.approval_docx, name="approval_docx"),
    path("<int:pk>/approval.pdf", views.approval_pdf, name="approval_pdf"),
    path("<int:pk>/published/", views.publication_add, name="publication_add"),
    # content.py allows exactly this path as an image source in a draft body.
    path("files/<int:pk>/", views.attachment_file, name="attachment_file"),
    path("files/<int:pk>/delete/", views.attachment_delete, name="attachment_delete"),
    path("settings/", views.check_settings, name="settings"),
    path("flows/", views.flows, name="flows"),
    path("flows/<int:pk>/steps/", views.step_add, name="step_add"),
    path("steps/<int:pk>/delete/", views.step_delete, name="step_delete"),
]
