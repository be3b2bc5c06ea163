from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from yuqing.core.permissions import require


@require("publishing.view")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "publishing/index.html")
