from django.urls import path

from yuqing.monitor import views_setup as views

urlpatterns = [
    path("", views.sources, name="sources"),
    path("sources/add/<slug:kind>/", views.source_add, name="source_add"),
    path("sources/rsshub-params/", views.source_rsshub_params, name="source_rsshub_params"),
    path("sources/<int:pk>/", views.source_detail, name="source_detail"),
    path("sources/<int:pk>/edit/", views.source_edit, name="source_edit"),
    path("sources/<int:pk>/poll/", views.source_poll, name="source_poll"),
    path("sources/<int:pk>/enabled/", views.source_enabled, name="source_enabled"),
    path("sources/<int:pk>/delete/", views.source_delete, name="source_delete"),
    path("schemes/", views.schemes, name="schemes"),
    path("schemes/add/", views.scheme_add, name="scheme_add"),
    path("schemes/test/", views.scheme_test, name="scheme_test"),
    path("schemes/<int:pk>/", views.scheme_edit, name="scheme_edit"),
    path("imports/", views.imports, name="imports"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/preview/", views.import_preview, name="import_preview"),
    path("imports/<int:pk>/start/", views.import_start, name="import_start"),
    path("manual/", views.manual_entry, name="manual_entry"),
    path("evidence/<int:pk>/", views.evidence_file, name="evidence_file"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
