from django.urls import path

from yuqing.duty import views

app_name = "duty"
urlpatterns = [
    path("", views.index, name="index"),
    path("groups/", views.group_list, name="group_list"),
    path("groups/new/", views.group_create, name="group_create"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("members/<int:pk>/end/", views.membership_end, name="membership_end"),
    path("responsibilities/", views.responsibility_list, name="responsibility_list"),
    path("responsibilities/new/", views.responsibility_edit, name="responsibility_create"),
    path("responsibilities/<int:pk>/", views.responsibility_detail, name="responsibility_detail"),
    path("responsibilities/<int:pk>/edit/", views.responsibility_edit, name="responsibility_edit"),
    path(
        "responsibilities/<int:pk>/complete/",
        views.responsibility_complete,
        name="responsibility_complete",
    ),
    path("periods/", views.period_list, name="period_list"),
    path("periods/new/", views.period_edit, name="period_create"),
    path("periods/<int:pk>/", views.period_edit, name="period_edit"),
    path("counts/", views.stats, name="stats"),
    path("files/<int:pk>/", views.attachment_download, name="attachment"),
    path("<str:which>/<int:pk>/files/", views.attachment_upload, name="attachment_upload"),
    path("<str:which>/<int:pk>/delete/", views.record_delete, name="record_delete"),
    path("<str:which>/", views.record_list, name="record_list"),
    path("<str:which>/new/", views.record_create, name="record_create"),
    path("<str:which>/<int:pk>/", views.record_detail, name="record_detail"),
    path("<str:which>/<int:pk>/edit/", views.record_edit, name="record_edit"),
]
