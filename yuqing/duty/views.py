from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from yuqing.core.permissions import require


@require("duty.view")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "duty/index.html")
