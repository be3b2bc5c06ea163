from django.urls import path

from yuqing.security import views

app_name = "security"
urlpatterns = [
    path("", views.index, name="index"),
    path("assets/", views.asset_list, name="asset_list"),
    path("assets/new/", views.asset_create, name="asset_create"),
    path("assets/export/", views.asset_export, name="asset_export"),
    path("assets/import/", views.asset_import, name="asset_import"),
    path("assets/<int:pk>/", views.asset_detail, name="asset_detail"),
    path("assets/<int:pk>/edit/", views.asset_edit, name="asset_edit"),
    path("assets/<int:pk>/authorise/", views.asset_authorise, name="asset_authorise"),
    path("assets/<int:pk>/revoke/", views.asset_revoke, name="asset_revoke"),
    path("assets/<int:pk>/run/", views.asset_run, name="asset_run"),
    path("assets/<int:pk>/baseline/", views.asset_baseline, name="asset_baseline"),
    path("assets/<int:pk>/delete/", views.asset_delete, name="asset_delete"),
    path("assets/<int:pk>/notice.docx", views.asset_notice, name="asset_notice"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("findings/", views.finding_list, name="finding_list"),
    path("findings/<int:pk>/", views.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/assign/", views.finding_assign, name="finding_assign"),
    path("findings/<int:pk>/fixed/", views.finding_fixed, name="finding_fixed"),
    path("findings/<int:pk>/verify/", views.finding_verify, name="finding_verify"),
    path("findings/<int:pk>/close/", views.finding_close, name="finding_close"),
    path("findings/<int:pk>/accept/", views.finding_accept, name="finding_accept"),
    path("findings/<int:pk>/reopen/", views.finding_reopen, name="finding_reopen"),
    path("accounts-review/", views.accounts_review, name="accounts_review"),
    path("imports/", views.import_list, name="import_list"),
    path("checklists/", views.checklist_list, name="checklist_list"),
    path("checklists/new/", views.checklist_create, name="checklist_create"),
    path("checklists/<int:pk>/", views.checklist_detail, name="checklist_detail"),
    path("checklists/<int:pk>/edit/", views.checklist_edit, name="checklist_edit"),
    path("checklists/<int:pk>/sign/", views.checklist_sign, name="checklist_sign"),
    path("evidence/<int:pk>/", views.evidence_download, name="evidence_download"),
]
