from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from yuqing.core.permissions import require


@require("cases.view")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/index.html")
