from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from yuqing.core.permissions import require


@require("monitor.view")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "monitor/index.html")
