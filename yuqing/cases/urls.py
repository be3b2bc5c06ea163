from django.urls import path

from yuqing.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.index, name="index"),
    path("mine/", views.my_work, name="my_work"),
    path("library/", views.library, name="library"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/response/", views.response, name="response"),
    path("<int:pk>/response/review/", views.response_submit, name="response_submit"),
    path("<int:pk>/action/", views.add_action, name="add_action"),
    path("<int:pk>/evidence/", views.evidence_add, name="evidence_add"),
    path("<int:pk>/evidence/<int:evidence_pk>/", views.evidence_file, name="evidence_file"),
    path("<int:pk>/move/<slug:transition>/", views.move, name="move"),
    path("<int:pk>/close/", views.close, name="close"),
    path("petitions/", views.petitions, name="petitions"),
    path("petitions/new/", views.petition_new, name="petition_new"),
    path("petitions/import/", views.petition_import, name="petition_import"),
    path("petitions/<int:pk>/", views.petition_detail, name="petition_detail"),
    path("petitions/<int:pk>/decide/", views.petition_decide, name="petition_decide"),
    path("petitions/<int:pk>/reply/", views.petition_reply, name="petition_reply"),
    path("petitions/<int:pk>/finish/", views.petition_finish, name="petition_finish"),
    path(
        "petitions/<int:pk>/files/<int:attachment_pk>/",
        views.petition_attachment,
        name="petition_attachment",
    ),
    path("routes/", views.route_list, name="routes"),
    path("routes/<int:pk>/", views.route_edit, name="route_edit"),
    path(
        "routes/<int:pk>/steps/<int:step_pk>/delete/",
        views.route_step_delete,
        name="route_step_delete",
    ),
    path("deadlines/", views.deadlines, name="deadlines"),
    path("absences/", views.absences, name="absences"),
    # Public: parents write to the school and check progress, no account needed.
    path("p/<slug:slug>/", views.public_petition, name="public_petition"),
    path("p/<slug:slug>/query/", views.public_query, name="public_query"),
]
