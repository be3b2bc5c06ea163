from django.urls import path

from yuqing.monitor import views

urlpatterns = [
    path("", views.index, name="index"),
    path("bulk/", views.bulk, name="bulk"),
    path("mentions/<int:pk>/correct/", views.correct, name="correct"),
    path("events/", views.events, name="events"),
    path("events/<int:pk>/", views.event, name="event"),
    path("events/<int:pk>/status/", views.event_status, name="event_status"),
    path("events/<int:pk>/summary/", views.event_summary, name="event_summary"),
    path("model/", views.model, name="model"),
    path("model/retrain/", views.retrain, name="retrain"),
    path("model/activate/", views.model_activate, name="model_activate"),
]
