"""The bare endpoints benchmarks compare against: the same server stack, the same request, nothing
but parsing (routed by benchmarks/urls.py only, never by the product)."""

import msgspec
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt

_decode = msgspec.json.Decoder()


@csrf_exempt
def bare_parse(request):
    _decode.decode(request.body)
    return HttpResponse(b'{"accepted":0}', status=202, content_type="application/json")


def bare_redirect(request, code):
    return HttpResponseRedirect("https://example.com/")
